"""CONTRACT §6 and §4: reads outside a tensor and axis expressions that are not affine.

A read outside a tensor (with no `pad`/`clamp`/`wrap`) is a `tc.ShapeError` (also a
ValueError) raised when the plan is made, on every backend, whose message names the access,
the bound and the index values, with a caret, and suggests `pad(...)`. An axis expression
that is not an integer-affine expression of indices is a `tc.TensorcError` (a ParseError or
another) with a line, a column and a caret, never an exception from inside the compiler.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from indexing_support import assert_located, randn, run, underlined
from support import to_backend

import tensorc as tc


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def names_access(message: str, tensor: str, axis: str) -> bool:
    """Whether ``message`` names the access: the tensor, and the axis expression that leaves
    it (the other axes may be elided, as in `X[..., t + k, ...]`)."""
    return f"{tensor}[" in message and squeezed(axis) in squeezed(message)


def shape_error(source: str, backend: str, *arrays: np.ndarray, **sizes: int) -> tc.ShapeError:
    with pytest.raises(tc.ShapeError) as info:
        run(source, backend, *arrays, **sizes)
    err = info.value
    assert isinstance(err, ValueError)
    assert_located(err)
    return err


# ----------------------------------------------------------------------------- reads out of bounds


def test_read_past_the_end_with_a_size_by_keyword(backend: str) -> None:
    """`A[i + 2]` with i = 8 by keyword and A of size 8: i = 6 and i = 7 read 8 and 9."""
    source = "O[i] = A[i + 2]"
    err = shape_error(source, backend, randn(8), i=8)
    assert names_access(err.message, "A", "i + 2"), "the message names the access"
    assert re.search(r"\b8\b", err.message), "the message names the bound (A's size 8)"
    assert re.search(r"\bi\b\D{0,12}\b[67]\b", err.message), "and the index value(s) of i"
    assert "pad(" in str(err), "it suggests pad(...)"
    assert underlined(err, source, "A[i + 2]")


def test_read_past_the_end_where_the_index_is_given_directly(backend: str) -> None:
    """`A[i]` gives i the size of A, so `A[i + 1]` leaves A at the last i (np.diff must be
    written with pad or a window)."""
    source = "D[i] = A[i + 1] - A[i]"
    err = shape_error(source, backend, randn(7))
    assert names_access(err.message, "A", "i + 1")
    assert re.search(r"\b7\b", err.message)
    assert re.search(r"\bi\b\D{0,12}\b6\b", err.message)
    assert "pad(" in str(err)
    assert underlined(err, source, "A[i + 1]")


def test_read_before_the_start(backend: str) -> None:
    source = "O[i] = A[i - 1] * B[i]"
    err = shape_error(source, backend, randn(5), randn(5, seed=1))
    assert names_access(err.message, "A", "i - 1")
    assert re.search(r"\bi\b\D{0,12}\b0\b", err.message)
    assert "pad(" in str(err)
    assert underlined(err, source, "A[i - 1]")


def test_a_convolution_whose_output_index_is_given_by_a_full_size_bias(backend: str) -> None:
    source = "O[n, o, t] = sum[c, k](X[n, c, t + k] * W[o, c, k]) + B[n, o, t]"
    x, w, b = randn(2, 3, 8), randn(4, 3, 3, seed=1), randn(2, 4, 8, seed=2)
    err = shape_error(source, backend, x, w, b)
    assert names_access(err.message, "X", "t + k")
    assert re.search(r"\b8\b", err.message)
    assert underlined(err, source, "X[n, c, t + k]")


def test_pad_e_p_reads_beyond_its_padding(backend: str) -> None:
    """`pad(e, 1)` pads one zero on each side and keeps the valid rule over that extent:
    i - 3 at i = 0 is 2 before it."""
    source = "O[i] = A[pad(i - 3, 1)] * B[i]"
    err = shape_error(source, backend, randn(6), randn(6, seed=1))
    assert re.search(r"\bi\b\D{0,12}\b[01]\b", err.message)


def test_a_negative_constant_index_is_outside(backend: str) -> None:
    """No Python wrap-around: -1 is before the first element, not the last."""
    source = "last[i] = A[i, -1]"
    err = shape_error(source, backend, randn(3, 4))
    assert "-1" in err.message


def test_stride_two_past_the_end(backend: str) -> None:
    source = "O[n, o, h] = X[n, c, 2*h + kh] * W[o, c, kh]"
    x, w = randn(1, 2, 8), randn(3, 2, 3, seed=1)
    err = shape_error(source, backend, x, w, h=4)  # valid is (8 - 3) // 2 + 1 = 3
    assert names_access(err.message, "X", "2*h + kh")
    assert "pad(" in str(err)


def test_the_bounds_error_is_raised_under_jax_jit() -> None:
    f = tc.compile("O[i] = A[i + 1] * B[i]", backend="jax")
    a, b = (to_backend(randn(5, seed=k), "jax") for k in range(2))
    with pytest.raises(tc.ShapeError):
        jax.jit(f)(a, b)


def test_a_good_call_after_a_bad_one_still_works(backend: str) -> None:
    source = "O[i] = A[i + 1] * B[i]"
    shape_error(source, backend, randn(5), randn(5, seed=1))
    a, b = randn(6), randn(5, seed=1)
    np.testing.assert_allclose(run(source, backend, a, b), a[1:] * b, rtol=1e-12)


# ----------------------------------------------------------------------------- not affine


NOT_AFFINE = [
    "O[i, j] = A[i * j]",
    "O[i] = A[i / 2]",
    "O[i] = A[1.5]",
    "O[i] = A[i + 0.5]",
    "O[i] = A[i ** 2]",
    "O[i] = A[2 * i * j]",
    "O[i] = A[exp(i)]",
    "O[i] = A[sqrt(i)]",
    "O[i] = A[pad(i * j)]",
    "O[i] = A[pad(i, j)]",
    "O[i] = A[pad(i, 1.5)]",
    "O[i] = A[clamp(i / 2)]",
    "O[i] = A[i +]",
    "O[i] = A[pad()]",
    "O[i * j] = A[i, j]",
    "O[i / 2] = A[i]",
]


@pytest.mark.parametrize("source", NOT_AFFINE)
def test_an_axis_that_is_not_affine_is_a_located_error(source: str) -> None:
    sizes = {name: 3 for name in "ij" if re.search(rf"\b{name}\b", source)}
    array = randn(6, 6) if "A[i, j]" in source else randn(6)
    for backend in ("numpy", "torch"):
        with pytest.raises(tc.TensorcError) as info:
            run(source, backend, array, **sizes)
        assert_located(info.value)
        assert info.value.line == 1
