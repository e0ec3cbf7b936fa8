"""Axis labels as values: a composed axis carries its parts, and behaves as the text it prints."""

from __future__ import annotations

import copy
import doctest
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensorc.frontend import parse_program
from tensorc.ir import labels
from tensorc.ir import nodes as ir
from tensorc.ir.labels import (
    ELLIPSIS,
    Composed,
    axis_number,
    composed,
    ellipsis_first,
    expanded,
    in_order,
    ordered,
    parts,
    permutation,
)
from tensorc.ir.lower import lower_program

NAMES = st.sampled_from(["i", "j", "k", "h", "d", "b", "n"])


def test_composed_prints_compares_and_hashes_as_its_text():
    label = composed(("h", "d"))
    assert isinstance(label, Composed) and isinstance(label, str)
    assert label == "(h d)" and str(label) == "(h d)" and repr(label) == "'(h d)'"
    assert hash(label) == hash("(h d)")
    assert {label: 1}["(h d)"] == 1
    assert label.parts == ("h", "d")
    assert Composed(("h",)).parts == ("h",)


def test_composed_takes_parts_not_text():
    with pytest.raises(TypeError):
        Composed("(h d)")


def test_composed_survives_copies_and_pickles():
    label = composed(("h", "d"))
    for other in (copy.copy(label), copy.deepcopy(label), pickle.loads(pickle.dumps(label))):
        assert isinstance(other, Composed)
        assert other == label and other.parts == ("h", "d")


def test_parts_reads_plain_text_as_a_compatibility_entry_point():
    assert parts(composed(("a", "b", "c"))) == ("a", "b", "c")
    assert parts("(h d)") == ("h", "d")
    assert parts("i") == ("i",)
    assert parts(ELLIPSIS) == (ELLIPSIS,)


def test_nodes_re_exports_the_old_names():
    assert ir.ELLIPSIS is ELLIPSIS
    assert ir.composed_label(("h", "d")) == "(h d)"
    assert isinstance(ir.composed_label(("h", "d")), Composed)
    assert ir.label_parts("(h d)") == ("h", "d")
    assert ir.axis_number is axis_number


def test_lowering_makes_composed_labels():
    program = lower_program(parse_program("Y[b, n, (h d)] = X[b, h, n, d]"))
    (label,) = [x for x in program.lets[0].value.indices if x.startswith("(")]
    assert isinstance(label, Composed) and label.parts == ("h", "d")
    read = lower_program(parse_program("X[b, h, n, d] = Y[b, n, (h d)]"))
    var = next(n for n in ir.walk(read.lets[0].value) if isinstance(n, ir.Var))
    assert isinstance(var.labels[2], Composed)


def test_expanded_spells_out_composed_axes():
    assert expanded(("...", composed(("h", "d")), "i")) == ("...", "h", "d", "i")


def test_axis_number_counts_from_the_back_after_the_ellipsis():
    assert axis_number(("i", "...", "j", "k"), 0) == 0
    assert axis_number(("i", "...", "j", "k"), 2) == -2
    assert axis_number(("i", "j"), 1) == 1


@given(st.lists(st.sampled_from(["i", "j", "k", ELLIPSIS])))
def test_ellipsis_first_keeps_first_appearance(items):
    result = ellipsis_first(items)
    assert len(set(result)) == len(result) and set(result) == set(items)
    rest = [x for x in dict.fromkeys(items) if x != ELLIPSIS]
    assert result == ((ELLIPSIS, *rest) if ELLIPSIS in items else tuple(rest))


@given(st.sets(NAMES), st.lists(NAMES, unique=True))
def test_in_order_and_ordered(present, order):
    assert in_order(present, order) == tuple(x for x in order if x in present)
    assert set(ordered(present, order)) == present
    assert ordered(present, order)[: len(in_order(present, order))] == in_order(present, order)
    assert ordered({ELLIPSIS, *present}, order)[0] == ELLIPSIS


@given(st.permutations(["i", "j", "k", "l"]))
def test_permutation_reorders_labels(wanted):
    labels_now = ("i", "j", "k", "l")
    perm = permutation(labels_now, wanted)
    assert tuple(labels_now[k] for k in perm) == tuple(wanted)


def test_permuted_is_the_node_itself_when_already_in_order():
    x = ir.Var("X", ("i", "j"))
    assert ir.permuted(x, ("i", "j")) is x
    assert ir.permuted(x, ("j", "i")) == ir.Permute(x, (1, 0))


def test_doctests():
    assert doctest.testmod(labels).failed == 0
