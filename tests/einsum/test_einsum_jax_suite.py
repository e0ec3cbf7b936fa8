"""Conformance with JAX's einsum tests (tests/lax_numpy_einsum_test.py): the same cases on
jax arrays, each `tc.einsum` call compared with jnp.einsum (values, shape, dtype and type).
Written for tensorc; the cases it answers differently are listed in docs/einsum.md (jaxpr
structure, `preferred_element_type=`)."""

from __future__ import annotations

import itertools
from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from einsum_support import RNG, same_as

import tensorc as tc


def check(*arguments) -> None:
    with jax.default_matmul_precision("highest"):
        same_as(
            jnp.einsum,
            np.asarray,
            *[jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in arguments],
        )


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


CASES = [
    ("i,j,k->ijk", [(3,), (4,), (5,)]), ("ij,j->i", [(3, 4), (4,)]), ("ijk,j->i", [(3, 4, 5), (4,)]),
    ("iji,i->j", [(3, 4, 3), (3,)]), ("ij,ij->", [(3, 4), (3, 4)]), ("nij,jk->nik", [(10, 2, 3), (3, 4)]),
    ("sa,shb->shab", [(2, 1), (2, 3, 4)]), ("ijk->j", [(3, 4, 5)]), ("ijk->kij", [(3, 4, 5)]),
    ("ijk->ki", [(3, 4, 5)]), ("...ijk->...ki", [(2, 3, 4, 5)]), ("...ijk->ki", [(3, 4, 5)]),
    ("ii->", [(3, 3)]), ("ij->", [(3, 3)]), ("iii->", [(3, 3, 3)]), ("ii->i", [(3, 3)]), ("iij->i", [(3, 3, 4)]),
    ("iii->i", [(3, 3, 3)]), ("iijkk->i", [(3, 3, 5, 4, 4)]), ("iijkk->ik", [(3, 3, 5, 4, 4)]),
    ("iijkl->il", [(3, 3, 5, 4, 4)]), ("ij->ij", [(3, 3)]), ("ij...,jk...->ik...", [(2, 3, 5, 1), (3, 4, 5, 1)]),
    ("ijj,k->ik", [(2, 3, 3), (4,)]), ("ij,ij,jk->ik", [(2, 3), (2, 3), (3, 4)]),
    ("ijkl,ijml->ijkm", [(1, 8, 20, 4), (1, 8, 20, 4)]), ("cij,cjk->cik", [(3, 4, 5), (3, 1, 6)]),
    ("cij,cjk->cik", [(1, 4, 5), (3, 5, 6)]), ("cij,cjk->cik", [(1, 4, 5), (3, 1, 6)]),
    ("...ij,...j", [(2, 1, 3, 3), (2, 4, 3)]),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "shapes"), CASES)
def test_cases(spec, shapes):
    check(spec, *[randn(*shape) for shape in shapes])


DASK = [
    "abc,bad->abcd", "abcdef,bcdfg->abcdeg", "ea,fb,abcd,gc,hd->efgh", "ab,b", "aa", "a,a->", "a,a->a", "a,a",
    "a,b", "a,b,c", "a", "ba,b", "ba,b->", "defab,fedbc->defac", "ab...,bc...->ac...", "a...a", "abc...->cba...",
    "...ab->...a", "a...a->a...", "...abc,...abcd->...d", "ab...,b->ab...", "aa->a", "ab,ab,c->c", "aab,bc->ac",
    "aab,bcc->ac", "fdf,cdd,ccd,afe->ae", "fff,fae,bef,def->abd",
]  # fmt: skip


def dask_operands(spec: str, dtype) -> list[np.ndarray]:
    """Operands with sizes 2, 3, 4 in turn for each new letter ('...' as two letters)."""
    cycle = itertools.cycle([2, 3, 4])
    sizes: defaultdict[str, int] = defaultdict(lambda: next(cycle))
    terms = spec.split("->")[0].split(",")
    shapes = [tuple(sizes[c] for c in term.replace("...", "01")) for term in terms]
    return [(RNG.standard_normal(shape) * 3).astype(dtype) for shape in shapes]


# Every case in float32; a third of them in each other dtype (jit compiles take the time).
DASK_CASES = [(spec, np.float32) for spec in DASK] + [
    (spec, dtype) for dtype in (np.int32, np.complex64, np.bool_) for spec in DASK[::3]
]


@pytest.mark.parametrize(("spec", "dtype"), DASK_CASES, ids=str)
def test_from_dask(spec, dtype):
    check(spec, *dask_operands(spec, dtype))


def test_einsum_path_example():
    a, b, c = RNG.random((2, 2)), RNG.random((2, 5)), RNG.random((5, 2))
    path, report = tc.einsum_path("ij,jk,kl->il", a, b, c, optimize="greedy")
    assert str(path) == "['einsum_path', (1, 2), (0, 1)]"
    assert report.split("\n")[0] == "  Complete contraction:  ij,jk,kl->il"
    big, C = RNG.random((10, 10, 10, 10)), RNG.random((10, 10))
    tc.einsum_path("ea,fb,abcd,gc,hd->efgh", C, C, big, C, C, optimize="greedy")


def test_a_path_from_einsum_path_drives_einsum():
    S, W, V = randn(2, 6, 5), randn(5, 4), randn(4, 3)
    path = tc.einsum_path("ntk,kd,dc->nc", S, W, V, optimize="optimal")[0]
    want = np.einsum("ntk,kd,dc->nc", S.astype(np.float64), W, V)
    got = tc.einsum("ntk,kd,dc->nc", jnp.asarray(S), jnp.asarray(W), jnp.asarray(V), optimize=path)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4)
    jax_path = jnp.einsum_path("ntk,kd,dc->nc", S, W, V, optimize="optimal")[0]
    got = tc.einsum(
        "ntk,kd,dc->nc", jnp.asarray(S), jnp.asarray(W), jnp.asarray(V), optimize=jax_path
    )
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4)


def test_inf_and_nan():
    x = np.array([[[np.inf, np.inf], [1.0, 1.0]]], dtype=np.float32)
    check("baa->ba", x)


@pytest.mark.parametrize(
    ("left", "right"),
    [(np.int8, np.int8), (np.int8, np.int32), (np.uint8, np.int16), (np.float16, np.float32),
     (np.bool_, np.int32), (np.int32, np.float32), (np.float32, np.complex64), (np.bool_, np.bool_)],
)  # fmt: skip
def test_mixed_precision(left, right):
    x = (np.arange(10) % 4).astype(left)
    y = (np.arange(10) % 3).astype(right)
    check("a,a->a", x, y)
    check("a,a->", x, y)


@pytest.mark.parametrize("optimize", [True, False, "optimal", "auto", "greedy", "eager"])
@pytest.mark.parametrize(
    ("spec", "shapes"),
    [
        ("i->", [(3,)]),
        ("ii->i", [(4, 4)]),
        ("ij,jk", [(3, 4), (4, 3)]),
        ("ij,jkl,klm", [(2, 2), (2, 3, 4), (3, 4, 2)]),
    ],
)
def test_optimization_modes(spec, shapes, optimize):
    operands = [randn(*shape) for shape in shapes]
    want = np.einsum(spec, *operands)
    got = tc.einsum(spec, *map(jnp.asarray, operands), optimize=optimize)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
    if len(operands) > 2:  # a path of one step plans nothing new
        path, _ = tc.einsum_path(spec, *operands, optimize=optimize)
        got = tc.einsum(spec, *map(jnp.asarray, operands), optimize=path)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_one_step_of_three_operands():
    """jnp.einsum refuses this path (NotImplementedError); tensorc contracts it in one step."""
    operands = [randn(*shape) for shape in [(2, 3), (2, 4), (2, 5)]]
    got = tc.einsum("ij,ik,il->jkl", *map(jnp.asarray, operands), optimize=[(0, 1, 2)])
    np.testing.assert_allclose(np.asarray(got), np.einsum("ij,ik,il->jkl", *operands), rtol=1e-4)


def test_einsum_under_jit():
    a, b = randn(3, 4), randn(4, 5)
    got = jax.jit(lambda x, y: tc.einsum("ij,jk->ik", x, y))(a, b)
    np.testing.assert_allclose(np.asarray(got), a @ b, rtol=1e-5)
