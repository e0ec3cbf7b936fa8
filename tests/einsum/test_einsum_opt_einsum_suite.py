"""Conformance with opt_einsum's suites (tests/test_contract.py, test_edge_cases.py,
test_input.py): the same cases, each `tc.einsum` call compared with np.einsum and with
opt_einsum.contract. Written for tensorc; the cases it answers differently are listed in
docs/einsum.md (hashable and large-integer sublist labels, contract_expression)."""

from __future__ import annotations

import numpy as np
import opt_einsum
import pytest
from einsum_support import CONTRACTIONS, RNG, operands_for, same_as_numpy
from opt_einsum.testing import rand_equation

import tensorc as tc
from tensorc.errors import ArgumentTypeError

# opt_einsum's cases: the contractions numpy's suite has too, GEMM-like and trace-like ones.
SPECS = [
    *CONTRACTIONS, "ab,bc", "ab,cb", "ba,bc", "ba,cb", "abcd,cd", "abcd,ab", "abcd,cdef",
    "abcd,cdef->feba", "abcd,efdc", "aab,bc->ac", "ab,bcc->ac", "aab,bcc->ac", "baa,bcc->ac", "aab,ccb->ac",
]  # fmt: skip
OPTIMIZERS = ["optimal", "branch-all", "branch-2", "branch-1", "greedy", "random-greedy",
              "random-greedy-128", "dp", "auto", "auto-hq"]  # fmt: skip
SIZES = dict(zip("abcdefghij", [2, 3, 4, 5, 4, 3, 2, 6, 5, 4], strict=True))


def greek(spec: str) -> str:
    """The subscripts with Greek letters for Latin ones (α for a, ...), as opt_einsum tests."""
    return "".join(c if c in ",->." else chr(ord(c) + 848) for c in spec)


@pytest.mark.parametrize("spec", SPECS)
def test_drop_in_replacement(spec):
    operands = operands_for(spec, SIZES)
    same_as_numpy(spec, *operands)
    np.testing.assert_allclose(tc.einsum(spec, *operands), opt_einsum.contract(spec, *operands))


@pytest.mark.parametrize("optimize", OPTIMIZERS)
@pytest.mark.parametrize("spec", SPECS[::6])
def test_every_strategy_gives_the_answer(spec, optimize):
    operands = operands_for(spec, SIZES)
    want = np.einsum(spec, *operands)
    np.testing.assert_allclose(tc.einsum(spec, *operands, optimize=optimize), want)
    np.testing.assert_allclose(tc.einsum(greek(spec), *operands, optimize=optimize), want)


@pytest.mark.parametrize("spec", SPECS)
def test_greek_letters(spec):
    operands = operands_for(spec, SIZES)
    np.testing.assert_allclose(tc.einsum(greek(spec), *operands), np.einsum(spec, *operands))


def test_a_letter_beyond_ascii_keeps_its_place_in_the_implicit_output():
    x = RNG.random((2, 3, 4))
    np.testing.assert_array_equal(
        tc.einsum("c" + chr(ord("b") + 848) + "a", x), tc.einsum("cxa", x)
    )


@pytest.mark.parametrize("optimize", ["greedy", "optimal"])
@pytest.mark.parametrize("n", [4, 5])
@pytest.mark.parametrize("regularity", [2, 3])
@pytest.mark.parametrize("n_out", [0, 2, 4])
@pytest.mark.parametrize("global_dim", [False, True])
def test_random_equations(optimize, n, regularity, n_out, global_dim):
    spec, _, sizes = rand_equation(
        n,
        regularity,
        n_out,
        d_min=2,
        d_max=5,
        seed=42,
        global_dim=global_dim,
        return_size_dict=True,
    )
    operands = operands_for(spec, sizes)
    np.testing.assert_allclose(
        tc.einsum(spec, *operands, optimize=optimize), np.einsum(spec, *operands), rtol=1e-10
    )


# --- test_edge_cases.py ---------------------------------------------------------------------------------

BROADCASTING = [
    ("ijk,kl,jl", [(1, 5, 4), (4, 6), (5, 6)]),
    ("ijk,kl,jl,i->i", [(1, 5, 4), (4, 6), (5, 6), (10,)]),
    ("abjk,kl,jl", [(1, 1, 5, 4), (4, 6), (5, 6)]),
    ("abjk,kl,jl,ab->ab", [(1, 1, 5, 4), (4, 6), (5, 6), (7, 7)]),
    ("ajk,kbl,jl,ab->ab", [(1, 5, 4), (4, 1, 6), (5, 6), (7, 7)]),
    ("ab,bc,bd->acd", [(5, 4), (1, 5), (4, 20)]),
]


@pytest.mark.parametrize(("spec", "shapes"), BROADCASTING)
def test_broadcasting_contraction(spec, shapes):
    operands = [RNG.random(shape) for shape in shapes]
    for optimize in (False, True):
        got = tc.einsum(spec, *operands, optimize=optimize)
        np.testing.assert_allclose(got, opt_einsum.contract(spec, *operands, optimize=optimize))


def test_broadcasting_contraction_of_integers():
    a = np.arange(64).reshape(2, 4, 8)
    for optimize in (False, True):
        same_as_numpy("obk,ijk->ioj", a, a, optimize=optimize)


def test_an_empty_contraction_with_an_empty_path():
    assert tc.einsum("->", 1.0, optimize=[]) == 1.0
    _, report = tc.einsum_path("->", 1.0, optimize=[])
    assert report


# --- test_input.py --------------------------------------------------------------------------------------


def test_type_errors():
    for arguments, options in [((0, 0), {}), (("", 0), {"out": "test"}), (("", 0), {"dtype": "bad_data_type"}),
                               ((None,) * 63, {})]:  # fmt: skip
        with pytest.raises(TypeError):
            tc.einsum(*arguments, **options)
    for options in [{"order": "W"}, {"casting": "blah"}]:
        with pytest.raises(ValueError):
            tc.einsum("", 0, **options)
    with pytest.raises(TypeError):
        tc.einsum("", 0, bad_arg=0)
    for spec in ["->,->", "&,a->", "a,a->&"]:
        with pytest.raises(ValueError):
            tc.einsum(spec, 0, 5)
    view = RNG.random((2, 3, 2))
    for output in ([Ellipsis, ["a"]], [Ellipsis, {}]):
        with pytest.raises(ArgumentTypeError):
            tc.einsum(view, [Ellipsis, 0], output)


@pytest.mark.parametrize("function", [tc.einsum, tc.einsum_path])
def test_value_errors(function):
    cases = [("",), ("i%...", [0, 0]), ("...j$", [0, 0]), ("i->&", [0, 0]), ("", 0, 0), (",", 0, [0], [0]),
             (",", [0]), ("i", 0), ("ij", [0, 0]), ("...i", 0), ("i...j", [0, 0]), ("i...", 0),
             ("ij...", [0, 0]), ("i..", [0, 0]), (".i...", [0, 0]), ("j->..j", [0, 0]),
             ("j->.j...", [0, 0]), ("i->ij", [0, 0]), ("ij->jij", [[0, 0], [0, 0]]),
             ("ii", np.arange(6).reshape(2, 3)), ("ii->i", np.arange(6).reshape(2, 3)),
             ("i", np.arange(6).reshape(2, 3))]  # fmt: skip
    for arguments in cases:
        with pytest.raises(ValueError):
            function(*arguments)
    with pytest.raises(TypeError):
        function(0, 0)
    with pytest.raises(TypeError):
        function("i->i", [[0, 1], [0, 1]], bad_kwarg=True)
    if function is tc.einsum:
        with pytest.raises(ValueError):
            function("i->i", [[0, 1], [0, 1]], out=np.arange(4).reshape(2, 2))


ELLIPSIS_SPECS = ["...a->...", "a...->...", "a...a->...a", "...,...", "a,b", "...a,...b"]


def ellipsis_views(spec: str) -> list[np.ndarray]:
    """Operands with '...' standing for the letters i and j, as opt_einsum builds them."""
    return operands_for(spec.replace("...", "ij"), SIZES)


@pytest.mark.parametrize("spec", ELLIPSIS_SPECS)
def test_ellipsis_compare(spec):
    operands = ellipsis_views(spec)
    for optimize in (False, True, "optimal"):
        np.testing.assert_allclose(
            tc.einsum(spec, *operands, optimize=optimize),
            opt_einsum.contract(spec, *operands, optimize=False),
        )


@pytest.mark.parametrize(
    ("spec", "sublists"),
    [
        ("...a->...", [[Ellipsis, 0], [Ellipsis]]),
        ("...a", [[Ellipsis, 0]]),
        ("...a->...a", [[Ellipsis, 0], [Ellipsis, 0]]),
        ("...b,...a->...", [[Ellipsis, 1], [Ellipsis, 0], [Ellipsis]]),
    ],
)
def test_ellipsis_sublists(spec, sublists):
    operands = ellipsis_views(spec)
    arguments = []
    for k, operand in enumerate(operands):
        arguments += [operand, sublists[k]]
    arguments += sublists[len(operands) :]
    np.testing.assert_allclose(tc.einsum(*arguments), opt_einsum.contract(spec, *operands))


def test_singleton_dimension_broadcast():
    p, q = np.ones((10, 2)), np.ones((1, 2))
    for optimize in (False, True):
        np.testing.assert_allclose(tc.einsum("ij,ij->j", p, q, optimize=optimize), [10.0, 10.0])
    p, q = np.ones((1, 5)), np.ones((5, 5))
    for optimize in (False, True):
        np.testing.assert_allclose(
            tc.einsum("...ij,...jk->...ik", p, p, optimize=optimize),
            tc.einsum("...ij,...jk->...ik", p, q, optimize=optimize),
        )
        np.testing.assert_allclose(
            tc.einsum("...ij,...jk->...ik", p, q, optimize=optimize), np.full((1, 5), 5)
        )


def test_small_integer_sublists():
    x, y, z = operands_for("ab,bc,cd", SIZES)
    np.testing.assert_allclose(
        tc.einsum(x, (0, 1), y, (1, 2), z, (2, 3)), tc.einsum("ab,bc,cd", x, y, z)
    )
    for i in range(10):
        np.testing.assert_allclose(tc.einsum(x, (i + 1, i)), x.T)
