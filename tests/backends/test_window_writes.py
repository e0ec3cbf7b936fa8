"""Writes at affine positions as adds into strided slices (`tensorc.codegen.slices`): a max
pool's derivative, a stencil's transpose, a strided or dilated `+=`. Every backend writes them
with `_add_windows`, never an add at integer arrays, and gets what a loop over the positions
gets, overlapping windows (which add up) and tiles (written in one piece) alike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.backends import BACKENDS, backend

Arrays = dict[str, np.ndarray]


def _tiles_2d(a: Arrays) -> np.ndarray:
    x = a["X"]  # [n, y, ph, x, pw]
    n, ys, ph, xs, pw = x.shape
    return x.reshape(n, ys * ph, xs * pw)


def _adds(a: Arrays, step: int, dilation: int, offset: int) -> np.ndarray:
    """Y = Z, then Y[step*y + dilation*k + offset] += X[y, k], one element at a time."""
    y = a["Z"].copy()
    for j in range(a["X"].shape[0]):
        for k in range(a["X"].shape[1]):
            y[step * j + dilation * k + offset] += a["X"][j, k]
    return y


def _transposed(a: Arrays) -> np.ndarray:
    x = a["X"]  # [n, p, y] written at [2*y + p, n]
    n, p, ys = x.shape
    return x.transpose(2, 1, 0).reshape(ys * p, n)


def _column(a: Arrays) -> np.ndarray:
    y = a["Z"].copy()
    y[:, 2] += a["X"]
    return y


# source, input shapes, the reference
CASES: dict[str, tuple[str, dict[str, tuple[int, ...]], Callable[[Arrays], np.ndarray]]] = {
    "max pool's tiles": (
        "Y[n, 2*y + ph, 2*x + pw] = X[n, y, ph, x, pw]",
        {"X": (2, 3, 2, 4, 2)},
        _tiles_2d,
    ),
    "overlapping windows add up": (
        "Y[h] = Z[h]\nY[2*y + k] += X[y, k]",
        {"Z": (11,), "X": (4, 3)},
        lambda a: _adds(a, 2, 1, 0),
    ),
    "dilated, offset": (
        "Y[h] = Z[h]\nY[y + 3*k + 1] += X[y, k]",
        {"Z": (14,), "X": (6, 3)},
        lambda a: _adds(a, 1, 3, 1),
    ),
    "tiles inside a longer axis": (
        "Y[h] = Z[h]\nY[3*y + k + 2] += X[y, k]",
        {"Z": (16,), "X": (4, 3)},
        lambda a: _adds(a, 3, 1, 2),
    ),
    "value axes in another order": (
        "Y[2*y + p, n] = X[n, p, y]",
        {"X": (3, 2, 5)},
        _transposed,
    ),
    "more offsets than JAX writes one by one": (
        "Y[h] = Z[h]\nY[y + k] += X[y, k]",
        {"Z": (80,), "X": (10, 70)},
        lambda a: _adds(a, 1, 1, 0),
    ),
    "a constant position": (
        "Y[i, j] = Z[i, j]\nY[i, 2] += X[i]",
        {"Z": (3, 4), "X": (3,)},
        _column,
    ),
}


def _run(source: str, arrays: Arrays, name: str) -> tuple[np.ndarray, str]:
    record = backend(name)
    f = tc.compile(source, backend=name)
    got = f(**{k: record.from_numpy(v) for k, v in arrays.items()})
    return np.asarray(record.to_numpy(got)), f.source


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_window_writes_are_strided_adds(case: str, name: str) -> None:
    source, shapes, reference = CASES[case]
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(shape, np.float32) for k, shape in shapes.items()}
    got, text = _run(source, arrays, name)
    np.testing.assert_allclose(got, reference(arrays), rtol=1e-6, atol=1e-6)
    assert "_add_windows(" in text
    assert "_scatter(" not in text


@settings(max_examples=25, deadline=None)
@given(
    step=st.integers(1, 3),
    dilation=st.integers(1, 3),
    offset=st.integers(0, 2),
    count=st.integers(0, 4),
    kernel=st.integers(1, 4),
    spare=st.integers(0, 2),
    name=st.sampled_from(sorted(BACKENDS)),
)
def test_window_adds_are_a_loop_of_adds(
    step: int, dilation: int, offset: int, count: int, kernel: int, spare: int, name: str
) -> None:
    """Any 1-D window written with `+=`: overlapping, tiling or leaving gaps."""
    size = offset + step * max(count - 1, 0) + dilation * (kernel - 1) + 1 + spare
    source = f"Y[h] = Z[h]\nY[{step}*y + {dilation}*k + {offset}] += X[y, k]"
    rng = np.random.default_rng(count * 7 + kernel)
    z, x = rng.standard_normal(size, np.float32), rng.standard_normal((count, kernel), np.float32)
    got, _ = _run(source, {"Z": z, "X": x}, name)
    expected = _adds({"Z": z, "X": x}, step, dilation, offset)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_window_adds_keep_the_promoted_dtype() -> None:
    """`+=` of float64 values into a float32 start gives float64, as the general form did."""
    f = tc.compile("Y[h] = Z[h]\nY[2*y + k] += X[y, k]", backend="torch")
    got = f(Z=torch.zeros(6, dtype=torch.float32), X=torch.ones(3, 2, dtype=torch.float64))
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), np.ones(6))
