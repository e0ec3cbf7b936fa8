"""Gradients through compiled functions: JAX and PyTorch agree, and match finite differences.

The loss is ``sum(output * cotangent)`` for a fixed random cotangent (summed over the outputs of
a program that returns a tuple); its gradient with respect to every float input is taken with
``jax.grad`` on the jax-backend function (under ``jax.jit`` for the whole corpus, eagerly for
the finite-difference cases) and with ``torch.autograd`` on the torch-backend function.  Also:
``jax.jit`` and ``jax.vmap`` over jax-backend (and backend=None) functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from corpus import CASES_BY_ID, GRAD_CASES, Case
from support import as_tuple, assert_matches, to_backend, to_numpy

import tensorc as tc

GRAD_RTOL = 1e-9
GRAD_ATOL = 1e-11


def cotangents(case: Case, expected: Any) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(zlib.crc32(f"cotangent:{case.id}".encode()))
    return tuple(np.asarray(rng.standard_normal(np.shape(out))) for out in as_tuple(expected))


def call(case: Case, backend: str | None, args: list[Any]) -> Any:
    if case.einsum:
        return tc.einsum(case.src, *args, backend=backend)
    return tc.compile(case.src, backend=backend)(*args, **case.sizes)


def jax_gradients(
    case: Case, values: dict[str, Any], cots: tuple[np.ndarray, ...], jit: bool = False
) -> list[np.ndarray]:
    """``jax.grad`` of the loss, eagerly or (one XLA compile, so faster) under ``jax.jit``."""
    names = case.float_inputs
    base = {
        name: to_backend(np.asarray(value) if name in names else value, "jax")
        for name, value in values.items()
    }
    jcots = [jnp.asarray(c) for c in cots]

    def loss(*diff: jax.Array) -> jax.Array:
        current = dict(base)
        current.update(zip(names, diff, strict=True))
        out = call(case, "jax", list(current.values()))
        return sum(
            (jnp.sum(o * c) for o, c in zip(as_tuple(out), jcots, strict=True)),
            start=jnp.asarray(0.0),
        )

    grad = jax.grad(loss, argnums=tuple(range(len(names))))
    grads = (jax.jit(grad) if jit else grad)(*(base[n] for n in names))
    return [np.asarray(g) for g in grads]


def torch_gradients(
    case: Case, values: dict[str, Any], cots: tuple[np.ndarray, ...]
) -> list[np.ndarray]:
    names = case.float_inputs
    args: dict[str, Any] = {}
    for name, value in values.items():
        if name in names:
            args[name] = torch.tensor(np.asarray(value), dtype=torch.float64, requires_grad=True)
        else:
            args[name] = to_backend(value, "torch")
    out = call(case, "torch", list(args.values()))
    loss = sum((o * torch.from_numpy(c)).sum() for o, c in zip(as_tuple(out), cots, strict=True))
    assert isinstance(loss, torch.Tensor)
    grads = torch.autograd.grad(loss, [args[n] for n in names], allow_unused=True)
    return [
        np.zeros(np.shape(values[n])) if g is None else to_numpy(g)
        for n, g in zip(names, grads, strict=True)
    ]


def finite_difference_gradients(
    case: Case, values: dict[str, Any], cots: tuple[np.ndarray, ...], h: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of the NumPy reference loss, in float64."""

    def loss(current: dict[str, Any]) -> float:
        out = case.expected(current)
        return float(
            sum(np.sum(np.asarray(o) * c) for o, c in zip(as_tuple(out), cots, strict=True))
        )

    grads = []
    for name in case.float_inputs:
        base = np.array(values[name], dtype=np.float64)
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            for sign in (+1, -1):
                bumped = base.copy()
                bumped[index] += sign * h
                current = dict(values)
                current[name] = bumped if base.ndim else float(bumped)
                grad[index] += sign * loss(current) / (2 * h)
        grads.append(grad)
    return grads


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GRAD_CASES])
def test_jax_and_torch_gradients_agree(case: Case) -> None:
    values = case.make_inputs()
    cots = cotangents(case, case.expected(values))
    from_jax = jax_gradients(case, values, cots, jit=True)
    from_torch = torch_gradients(case, values, cots)
    for name, gj, gt in zip(case.float_inputs, from_jax, from_torch, strict=True):
        assert gj.shape == np.shape(values[name]), f"jax gradient of {name} has wrong shape"
        assert gt.shape == np.shape(values[name]), f"torch gradient of {name} has wrong shape"
        assert np.all(np.isfinite(gj)), f"jax gradient of {name} is not finite"
        np.testing.assert_allclose(
            gj, gt, rtol=GRAD_RTOL, atol=GRAD_ATOL, err_msg=f"{case.id}: d/d{name} jax vs torch"
        )


FD_CASES = [
    "matmul",
    "softmax",
    "log-softmax",
    "layer-norm",
    "attention",
    "causal-softmax",
    "cosine-similarity",
    "split-axes",
    "sigmoid-bce",
    "return-tuple",
    "scalar-alpha",
    "prod",
    "einsum-users:bn,anm,bm->ba",
]


@pytest.mark.parametrize("case_id", FD_CASES)
def test_gradients_match_finite_differences(case_id: str) -> None:
    case = CASES_BY_ID[case_id]
    values = case.make_inputs()
    cots = cotangents(case, case.expected(values))
    numeric = finite_difference_gradients(case, values, cots)
    for backend, analytic in (
        ("jax", jax_gradients(case, values, cots)),
        ("torch", torch_gradients(case, values, cots)),
    ):
        for name, ga, gn in zip(case.float_inputs, analytic, numeric, strict=True):
            np.testing.assert_allclose(
                ga, gn, rtol=1e-6, atol=1e-7, err_msg=f"{case_id}: d/d{name} {backend} vs FD"
            )


# --------------------------------------------------------------------------------------------
# jax.jit and jax.vmap

JAX_TRANSFORM_CASES = [
    "matmul",
    "scalar-alpha",
    "attention",
    "layer-norm",
    "causal-softmax",
    "split-axes",
    "return-tuple",
    "multi-head-attention-composed",
    "ellipsis-bmm-broadcast",
    "cumsum",
    "max-masked",
    "index-value",
    "pixel-shuffle",
    "einsum-users:bij,bjk->bik",
]


def _jax_fn(case: Case, backend: str | None) -> Callable[..., Any]:
    if case.einsum:
        return lambda *args: tc.einsum(case.src, *args, backend=backend)
    compiled = tc.compile(case.src, backend=backend)
    return lambda *args: compiled(*args, **case.sizes)


@pytest.mark.parametrize("backend", ["jax", None], ids=["jax", "None"])
@pytest.mark.parametrize("case_id", JAX_TRANSFORM_CASES)
def test_jax_jit(case_id: str, backend: str | None) -> None:
    case = CASES_BY_ID[case_id]
    values = case.make_inputs()
    expected = case.expected(values)
    # Python scalars become traced 0-d arrays under jit, like any other argument.
    args = [jnp.asarray(v) for v in values.values()]
    actual = jax.jit(_jax_fn(case, backend))(*args)
    assert_matches(
        actual,
        expected,
        backend="jax",
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case_id} under jax.jit",
    )


@pytest.mark.parametrize("case_id", JAX_TRANSFORM_CASES)
def test_jax_vmap_over_first_array_input(case_id: str) -> None:
    case = CASES_BY_ID[case_id]
    values = case.make_inputs()
    names = list(values)
    first = next(n for n in names if isinstance(values[n], np.ndarray))
    other = dict(values)
    other[first] = (
        values[first][::-1].copy()
        if values[first].dtype == bool
        else values[first] * 0.5 + 0.25 * np.abs(values[first])
    )
    expected = [case.expected(values), case.expected(other)]
    stacked = jnp.asarray(np.stack([values[first], other[first]]))
    in_axes = tuple(0 if n == first else None for n in names)
    args = [stacked if n == first else jnp.asarray(values[n]) for n in names]
    actual = jax.vmap(_jax_fn(case, "jax"), in_axes=in_axes)(*args)
    want = tuple(np.stack(parts) for parts in zip(*(as_tuple(e) for e in expected), strict=True))
    assert_matches(
        actual,
        want if isinstance(expected[0], tuple) else want[0],
        backend="jax",
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case_id} under jax.vmap",
    )


def test_jit_of_grad_attention() -> None:
    case = CASES_BY_ID["attention"]
    values = case.make_inputs()
    cots = cotangents(case, case.expected(values))
    compiled = tc.compile(case.src, backend="jax")

    def loss(q: jax.Array, k: jax.Array, v: jax.Array) -> jax.Array:
        return jnp.sum(compiled(q, k, values["dk"], v) * cots[0])

    q, k, v = (jnp.asarray(values[n]) for n in ("Q", "K", "V"))
    jitted = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(q, k, v)
    eager = torch_gradients(case, values, cots)
    names = case.float_inputs  # Q, K, dk, V
    for name, g in zip(("Q", "K", "V"), jitted, strict=True):
        np.testing.assert_allclose(
            np.asarray(g),
            eager[names.index(name)],
            rtol=GRAD_RTOL,
            atol=GRAD_ATOL,
            err_msg=f"d/d{name}",
        )
