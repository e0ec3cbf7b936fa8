"""Writes at positions under a boundary rule (`+=` only), on every backend: `pad` drops a write
outside the target (the plan-time bounds check lets it through), `clamp` adds it at the edge
and `wrap` wraps it around. Derivatives of reads under those rules are such writes."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import tensorc as tc
from tensorc.backends import BACKENDS

pytestmark = pytest.mark.parametrize("backend", list(BACKENDS))

START = "A[i] = 0 * X[i] ** 0\n"


def run(source: str, backend: str, *arrays: np.ndarray, jit: bool = False) -> np.ndarray:
    f = tc.compile(source, backend=backend)
    record = BACKENDS[backend]
    values: list[Any] = [record.from_numpy(a) for a in arrays]
    if jit:
        return record.to_numpy(jax.jit(f)(*values))
    return record.to_numpy(f(*values))


def test_pad_drops_what_falls_outside(backend: str) -> None:
    x = np.arange(1.0, 5.0)
    got = run(START + "A[pad(i - 1)] += X[i]", backend, x)
    np.testing.assert_array_equal(got, [2.0, 3.0, 4.0, 0.0])


def test_pad_drops_sums_of_several_indices(backend: str) -> None:
    x, k = np.arange(1.0, 5.0), np.array([1.0, 10.0, 100.0])
    got = run(START + "A[pad(j + k - 1)] += X[j] * K[k]", backend, x, k)
    want = np.zeros(4)
    for j in range(4):
        for m in range(3):
            if 0 <= j + m - 1 < 4:
                want[j + m - 1] += x[j] * k[m]
    np.testing.assert_allclose(got, want)


def test_clamp_adds_at_the_edge_and_wrap_around(backend: str) -> None:
    x = np.arange(1.0, 5.0)
    clamped = run(START + "A[clamp(i + 1)] += X[i]", backend, x)
    np.testing.assert_array_equal(clamped, [0.0, 1.0, 2.0, 7.0])
    wrapped = run(START + "A[wrap(i - 1)] += X[i]", backend, x)
    np.testing.assert_array_equal(wrapped, [2.0, 3.0, 4.0, 1.0])


def test_boundary_writes_under_jax_jit(backend: str) -> None:
    if backend != "jax":
        pytest.skip("jax.jit")
    x = np.arange(1.0, 5.0)
    got = run(START + "A[pad(2*i - 2)] += X[i]\nA[wrap(i + 5)] += X[i]", backend, x, jit=True)
    np.testing.assert_array_equal(got, [2.0 + 4.0, 1.0, 3.0 + 2.0, 3.0])


def test_the_generic_module_writes_them_too(backend: str) -> None:
    source = START + "A[pad(i - 1)] += X[i]\nA[clamp(i + 2)] += X[i]"
    namespace: dict[str, Any] = {}
    exec(tc.compile(source, backend=backend).source, namespace)
    record = BACKENDS[backend]
    got = record.to_numpy(namespace["program"](record.from_numpy(np.arange(1.0, 5.0))))
    np.testing.assert_array_equal(got, [2.0, 3.0, 4.0 + 1.0, 2.0 + 3.0 + 4.0])
