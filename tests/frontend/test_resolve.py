"""Reading a program's meaning once: indices, inputs, single assignment and the Einstein rule."""

from __future__ import annotations

import pytest
from ast_strategies import expressions
from hypothesis import given, settings

from tensorc.errors import ProgramError, ShapeError, Span
from tensorc.frontend import ast, parse_program, unparse
from tensorc.frontend.resolve import (
    FreeIndices,
    Input,
    axis_of,
    indices_in,
    is_product,
    label_of,
    rename_reads,
    resolve,
)
from tensorc.ir.labels import Composed


def resolved(source: str):
    return resolve(parse_program(source))


def value(source: str) -> ast.Expr:
    return parse_program(source).statements[0].value


def test_indices_with_the_statement_of_their_first_use():
    meaning = resolved("C[i, k] = A[i, j] * B[j, k]\ns = sum[m](x[m]) + i")
    assert list(meaning.indices) == ["i", "k", "j", "m"]
    assert meaning.indices["i"] == meaning.program.statements[0].span
    assert meaning.indices["m"] == meaning.program.statements[1].span


def test_inputs_in_order_of_first_appearance():
    meaning = resolved("y[i] = alpha * x[..., i] + B[i, j] * x[i] + pi\nz[i] = y[i] * c")
    assert list(meaning.inputs) == ["alpha", "x", "B", "c"]
    assert meaning.inputs["alpha"] == Input("alpha", True, 0, False, Span(1, 8, 5))
    x = meaning.inputs["x"]
    assert (x.scalar, x.rank, x.ellipsis) == (False, 2, True)
    assert meaning.inputs["B"].rank == 2


def test_names_assigned_before_they_are_read_are_not_inputs():
    assert list(resolved("a[i] = x[i]\nb[i] = a[i] * a[i]").inputs) == ["x"]


def test_a_later_read_that_disagrees_with_the_first():
    x = resolved("y[i] = x[i]").inputs["x"]
    x.check_read(False, 1, False, Span(1, 1))
    x.check_read(False, 3, True, Span(1, 1))  # `...` may stand for any rank
    with pytest.raises(ShapeError, match="x is indexed with 2 axes here but with 1 before"):
        x.check_read(False, 2, False, Span(1, 1))
    with pytest.raises(ShapeError, match="'x' is used both as a scalar and as a tensor"):
        x.check_read(True, 0, False, Span(1, 1))


def test_single_assignment_names():
    meaning = resolved("X[i] = X[i] * 2\nX[i] = exp(X[i])\ns = X[i] * X[i]\nreturn s, X")
    assert [s.name for s in meaning.statements] == ["X#2", "X#3", "s"]
    assert [s.target for s in meaning.statements] == ["X", "X", "s"]
    texts = [unparse.expression(s.value) for s in meaning.statements]
    assert texts == ["X[i] * 2", "exp(X#2[i])", "X#3[i] * X#3[i]"]
    assert meaning.returned() == ("s", "X#3")


def test_returned_is_the_last_target_or_an_error():
    assert resolved("a = 1\nb = a * 2").returned() == ("b",)
    assert resolved("y[i] = x[i]\nreturn x, y").returned() == ("x", "y")
    with pytest.raises(ProgramError, match="cannot return 'z': it is never assigned"):
        resolved("y[i] = x[i]\nreturn z").returned()


@pytest.mark.parametrize(
    ("source", "summed"),
    [
        ("C[i, k] = A[i, j] * B[j, k]", ("j",)),
        ("s = A[i, i]", ("i",)),
        ("s = -x[i] * y[i] / 2", ("i",)),
        ("y[i] = softmax[j](x[i, j]) * 2", ("j",)),  # a normaliser keeps its index
        ("y[i] = sum[j](x[i, j]) * w[i]", ()),
        ("y[i] = A[i, j] + 1", ()),  # not a product: lowering says j must be reduced
        ("y[i] = exp(A[i, j])", ()),
        ("C[..., i] = A[..., i, j] * b[j]", ("j",)),
    ],
)
def test_the_einstein_rule(source, summed):
    assert resolved(source).statements[0].summed == summed


def test_statement_order_is_ellipsis_then_target_then_first_appearance():
    (statement,) = resolved("C[k, ...] = sum[m](A[..., j, m, k]) * B[j]").statements
    assert statement.order == ("...", "k", "m", "j")


def test_is_product():
    assert is_product(value("y = a * b"))
    assert is_product(value("y = -A[i]"))
    assert not is_product(value("y = a"))
    assert not is_product(value("y = a + b"))


def test_indices_in_lists_brackets_and_reductions():
    assert list(indices_in(value("y = sum[k](A[i, (h d), ...]) + j"))) == [
        "k",
        "i",
        "h",
        "d",
        "...",
    ]


def test_free_indices():
    free = FreeIndices({"i", "j", "k"}).free
    assert free(value("y = sum[j](A[i, j]) + k")) == {"i", "k"}
    assert free(value("y = cumsum[j](A[i, j])")) == {"i", "j"}
    assert free(value("y = A[..., (i j)] * x")) == {"...", "i", "j"}


def test_rename_reads_leaves_indices_and_untouched_subexpressions():
    expr = value("y = exp(i * x) + A[i] * B[j]")
    renamed = rename_reads(expr, {"x": "x_2", "i": "nope", "A": "A#2"}, {"i"})
    assert unparse.expression(renamed) == "exp(i * x_2) + A#2[i] * B[j]"
    assert isinstance(renamed, ast.Binary) and isinstance(expr, ast.Binary)
    assert renamed.right.right is expr.right.right


def test_axes_and_labels_are_inverse():
    for axis in parse_program("y[i, ..., (h d)] = x[i]").statements[0].axes or ():
        label = label_of(axis)
        assert axis_of(label) == axis
    assert isinstance(label_of(ast.ComposedAxis(Span(1, 1), ("h", "d"))), Composed)


@settings(max_examples=100, deadline=None)
@given(expressions)
def test_resolving_never_fails_on_a_parsed_program(expr):
    program = ast.Program((ast.Assign(Span(1, 1), "out", None, expr),), None, "")
    meaning = resolve(program)
    assert len(meaning.statements) == 1
