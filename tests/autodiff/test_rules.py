"""The derivative rules of the operations grown through the operation table, at the points
where they have no derivative or where a naive formula fails: tc.vjp and tc.jvp (on NumPy)
against jax.vjp and jax.jvp of the same computation written in jax.numpy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tensorc as tc

CASES: list[tuple[str, str, Callable[..., Any], dict[str, np.ndarray]]] = [
    (
        "cumprod with zeros",
        "C[i, j] = cumprod[j](A[i, j])",
        lambda A: jnp.cumprod(A, 1),
        {
            "A": np.array(
                [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 2.0, -1.0, 4.0, 0.5], [1.5, 2.0, 0.0, 0.0, 0.0]]
            )
        },
    ),
    (
        "clip at both bounds and with crossed bounds",
        "Y[i] = clip(X[i], lo[i], hi[i])",
        lambda X, lo, hi: jnp.clip(X, lo, hi),
        {
            "X": np.array([0.5, 1.0, 0.5, 0.7, -2.0, 3.0]),
            "lo": np.array([0.5, 0.5, 0.5, 1.0, -1.0, -1.0]),
            "hi": np.array([1.0, 1.0, 0.5, 0.5, 1.0, 1.0]),
        },
    ),
    (
        "std of equal elements",
        "s[i] = std[j](X[i, j])",
        lambda X: jnp.std(X, 1),
        {"X": np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])},
    ),
    (
        "var",
        "v[j] = var[i](X[i, j])",
        lambda X: jnp.var(X, 0),
        {"X": np.array([[1.0, 1.0, 3.0], [1.0, 2.0, 4.0]])},
    ),
    (
        "steps at their jumps",
        "Y[i] = floor(X[i]) + ceil(X[i]) + round(X[i]) + sign(X[i]) + X[i]",
        lambda X: jnp.floor(X) + jnp.ceil(X) + jnp.round(X) + jnp.sign(X) + X,
        {"X": np.array([0.0, 1.0, 0.5, -2.5, 0.3])},
    ),
    (
        "floor division and remainder",
        "Y[i] = A[i] // B[i] + A[i] % B[i]",
        lambda A, B: jnp.floor_divide(A, B) + jnp.remainder(A, B),
        {"A": np.array([7.5, -7.5, 7.5, -7.5, 6.0]), "B": np.array([2.0, 2.0, -2.0, -2.0, 2.0])},
    ),
    (
        "log_softmax with -inf",
        "L[i, j] = log_softmax[j](S[i, j])",
        lambda S: jax.nn.log_softmax(S, axis=1),
        {"S": np.array([[1.0, -np.inf, 0.5], [2.0, 3.0, -1.0]])},
    ),
    (
        "smooth functions",
        "Y[i] = erf(X[i]) + log1p(X[i] ** 2) + expm1(X[i]) + softplus(X[i]) + silu(X[i]) + gelu(X[i])",
        lambda X: (
            jax.scipy.special.erf(X)
            + jnp.log1p(X**2)
            + jnp.expm1(X)
            + jax.nn.softplus(X)
            + jax.nn.silu(X)
            + jax.nn.gelu(X, approximate=False)
        ),
        {"X": np.array([-3.0, -0.5, 0.0, 0.25, 2.0, 30.0])},
    ),
]
PARAMS = [pytest.param(src, ref, values, id=name) for name, src, ref, values in CASES]


@pytest.mark.parametrize(("src", "reference", "values"), PARAMS)
def test_vjp_makes_jaxs_choices(src: str, reference: Callable[..., Any], values: dict) -> None:
    args = [jnp.asarray(v) for v in values.values()]
    out, pullback = jax.vjp(reference, *args)
    cotangent = np.random.default_rng(0).standard_normal(out.shape)
    expected = pullback(jnp.asarray(cotangent))
    f = tc.vjp(src, wrt=tuple(values), backend="numpy")
    with np.errstate(all="ignore"):
        got = f(*values.values(), cotangent)
    got = got if isinstance(got, tuple) else (got,)
    for name, g, want in zip(values, got, expected, strict=True):
        np.testing.assert_allclose(g, np.asarray(want), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize(("src", "reference", "values"), PARAMS)
def test_jvp_makes_jaxs_choices(src: str, reference: Callable[..., Any], values: dict) -> None:
    rng = np.random.default_rng(1)
    tangents = [rng.standard_normal(np.shape(v)) for v in values.values()]
    args = [jnp.asarray(v) for v in values.values()]
    _, expected = jax.jvp(reference, tuple(args), tuple(jnp.asarray(t) for t in tangents))
    f = tc.jvp(src, wrt=tuple(values), backend="numpy")
    with np.errstate(all="ignore"):
        _, got = f(*values.values(), *tangents)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-9, atol=1e-12)
