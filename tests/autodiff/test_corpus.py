"""Derivatives of every differentiable program of the equivalence corpus.

tc.vjp on NumPy, JAX and PyTorch against torch.autograd of the torch-backend function and
jax.vjp of the jax-backend one; tc.grad on NumPy against central differences in float64;
tc.jvp against jax.jvp, and against tc.vjp through <vjp(c), t> = <c, jvp(t)>.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from corpus import Case
from references import (
    ATOL,
    BACKENDS,
    CASE_PARAMS,
    EVERY_CASE,
    RTOL,
    as_tuple,
    cotangents,
    finite_differences,
    jax_jvp,
    jax_vjp,
    loss_program,
    on_jax,
    tangents,
    to_backend,
    to_numpy,
    torch_vjp,
    wrt_names,
)

import tensorc as tc

ALL = [pytest.param(case, id=case.id) for _, case in CASE_PARAMS]
JAX = [pytest.param(case, id=case.id) for position, case in CASE_PARAMS if on_jax(position, case)]


def vjp_on(case: Case, backend: str, values: dict[str, Any], cots: list[np.ndarray]) -> list[Any]:
    f = tc.vjp(case.src, wrt=wrt_names(case), backend=backend, einsum=case.einsum)
    args = [to_backend(v, backend) for v in [*values.values(), *cots]]
    return [to_numpy(g) for g in f(*args, **case.sizes)]


def check(got: list[Any], want: list[np.ndarray], case: Case, what: str, **tol: float) -> None:
    for name, g, w in zip(case.float_inputs, got, want, strict=True):
        assert g.shape == np.shape(w), f"{case.id}: {what} d{name} has shape {g.shape}"
        np.testing.assert_allclose(
            g, w, rtol=tol.get("rtol", RTOL), atol=tol.get("atol", ATOL), err_msg=f"{what} d{name}"
        )


@pytest.mark.parametrize("case", ALL)
def test_vjp_matches_torch_autograd(case: Case) -> None:
    values = case.make_inputs()
    cots = cotangents(case, values)
    expected = torch_vjp(case, values, cots)
    for backend in EVERY_CASE:
        check(vjp_on(case, backend, values, cots), expected, case, f"{backend} vs torch.autograd")


@pytest.mark.parametrize("case", JAX)
def test_vjp_matches_jax_vjp(case: Case) -> None:
    values = case.make_inputs()
    cots = cotangents(case, values)
    expected = jax_vjp(case, values, cots)
    for backend in ("numpy", "jax"):
        check(vjp_on(case, backend, values, cots), expected, case, f"{backend} vs jax.vjp")


@pytest.mark.parametrize("case", ALL)
def test_grad_matches_finite_differences(case: Case) -> None:
    """tc.grad of sum(result * cotangent), written as a program; tc.vjp where the results
    have '...' axes (which the language cannot sum) or the case is an einsum."""
    values = case.make_inputs()
    cots = cotangents(case, values)
    expected = finite_differences(case, values, cots)
    extended = loss_program(case)
    if extended is None:
        got = vjp_on(case, "numpy", values, cots)
    else:
        source, _ = extended
        f = tc.grad(source, wrt=wrt_names(case), backend="numpy")
        with np.errstate(invalid="ignore"):  # the loss itself is nan where a result is -inf
            got = [to_numpy(g) for g in f(*values.values(), *cots, **case.sizes)]
    check(got, expected, case, "vs central differences", rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", ALL)
def test_jvp_agrees_with_vjp(case: Case) -> None:
    """<c, J t> from tc.jvp equals <J^T c, t> from tc.vjp, on NumPy and PyTorch."""
    values = case.make_inputs()
    cots, tans = cotangents(case, values), tangents(case, values)
    expected_outputs = as_tuple(case.expected(values))
    back = vjp_on(case, "numpy", values, cots)
    want = sum(float(np.sum(g * np.asarray(t))) for g, t in zip(back, tans, strict=True))
    for backend in EVERY_CASE:
        f = tc.jvp(case.src, wrt=wrt_names(case), backend=backend, einsum=case.einsum)
        args = [to_backend(v, backend) for v in [*values.values(), *tans]]
        outputs, output_tangents = f(*args, **case.sizes)
        for got, reference in zip(as_tuple(outputs), expected_outputs, strict=True):
            np.testing.assert_allclose(to_numpy(got), reference, rtol=case.rtol, atol=case.atol)
        got = sum(
            float(np.sum(to_numpy(t) * c))
            for t, c in zip(as_tuple(output_tangents), cots, strict=True)
        )
        assert got == pytest.approx(want, rel=1e-9, abs=1e-10), f"{backend}: <c, J t>"


@pytest.mark.parametrize("case", JAX)
def test_jvp_matches_jax_jvp(case: Case) -> None:
    values = case.make_inputs()
    tans = tangents(case, values)
    outputs, output_tangents = jax_jvp(case, values, tans)
    for backend in BACKENDS:
        f = tc.jvp(case.src, wrt=wrt_names(case), backend=backend, einsum=case.einsum)
        args = [to_backend(v, backend) for v in [*values.values(), *tans]]
        got_outputs, got_tangents = f(*args, **case.sizes)
        for got, want in zip(
            as_tuple(got_outputs) + as_tuple(got_tangents),
            as_tuple(outputs) + as_tuple(output_tangents),
            strict=True,
        ):
            np.testing.assert_allclose(
                to_numpy(got), np.asarray(want), rtol=RTOL, atol=ATOL, err_msg=backend
            )
