"""Sizes inferred from positions (CONTRACT §6) and the plan-time proof that reads and writes
stay inside their tensors, checked against brute force."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc


def sizes(source: str, *args: np.ndarray, **keywords: int) -> dict[str, int]:
    return tc.compile(source, backend="numpy").sizes_for(*args, **keywords)


@pytest.mark.parametrize(
    ("source", "shape", "keywords", "index", "expected"),
    [
        ("y[h] = x[h + kh] * w[kh]", (10,), {}, "h", 8),  # valid: H - KH + 1
        ("y[h] = x[2*h + kh] * w[kh]", (10,), {}, "h", 4),  # stride 2: (H - KH) // 2 + 1
        ("y[h] = x[2*h + kh] * w[kh]", (9,), {}, "h", 4),
        ("y[t] = x[t + 2*k] * w[k]", (10,), {}, "t", 6),  # dilation 2
        ("y[h] = x[pad(h + kh - 1)] * w[kh]", (10,), {}, "h", 10),  # "same"
        ("y[h] = x[pad(2*h + kh - 1)] * w[kh]", (9,), {}, "h", 5),  # ceil(N / stride)
        ("y[h] = x[pad(h + kh - 2, 2)] * w[kh]", (10,), {}, "h", 12),  # N + 4 - KH + 1
        ("y[h] = x[clamp(h - 1)]", (6,), {}, "h", 6),
        ("y[h] = x[wrap(h + 1)]", (6,), {}, "h", 6),
        ("y[i] = t[i - j + 3] * w[j]", (7,), {}, "i", 4),  # j from w (size 4): i - 3 + 3 <= 6
        ("p[h] = max[kh](x[2*h + kh])", (10,), {"kh": 2}, "h", 5),
    ],
)
def test_unsized_indices_get_the_contract_sizes(source, shape, keywords, index, expected):
    args = [np.zeros(shape)]
    if "w[" in source:
        args.append(np.zeros(3 if "i - j" not in source else 4))
    assert sizes(source, *args, **keywords)[index] == expected


def test_an_affine_target_is_the_smallest_that_holds_every_write():
    f = tc.compile("y[2*h + kh] += x[h] * w[kh]", backend="numpy")
    assert f(np.ones(5), np.ones(3)).shape == (2 * 4 + 2 + 1,)
    assert tc.compile("S[i, 0] = sum[j](A[i, j])")(np.ones((3, 4))).shape == (3, 1)


def test_a_read_outside_is_a_shape_error_naming_access_values_and_bound():
    f = tc.compile("O[i] = A[i + 1]")
    with pytest.raises(tc.ShapeError) as caught:
        f(np.ones(3), i=3)
    message = str(caught.value)
    for words in ("A[... i + 1 ...]", "i=2", "position is 3", "size 3", "pad(i + 1)", "^"):
        assert words in message


def test_a_write_outside_an_earlier_target_is_a_shape_error():
    with pytest.raises(tc.ShapeError, match="writes outside"):
        tc.compile("S[s] = 0\nS[i + 2] += x[i]")(np.ones(3), s=4)


def test_an_equals_write_that_reaches_a_place_twice_asks_for_plus_equals():
    with pytest.raises(tc.ShapeError, match="`\\+=`"):
        tc.compile("c[i + j] = a[i] * b[j]")(np.ones(2), np.ones(3))
    # a stride at least the kernel's reach writes each place once
    assert tc.compile("c[3*i + j] = a[i] * b[j]")(np.ones(2), np.ones(3)).shape == (6,)


def test_a_new_target_cannot_be_sized_by_tensor_valued_positions():
    with pytest.raises(tc.ShapeError, match="S\\[s, d\\] = 0"):
        tc.compile("S[seg[e], d] += X[e, d]")(np.array([0, 1]), np.ones((2, 3)))


def test_a_scalar_target_accumulates_too():
    assert tc.compile("s = 0\ns += x[i]")(np.arange(4.0)) == 6.0


def test_a_scalar_statement_read_back_stays_a_number_of_the_backend():
    # `s = 0` then `s + ...` used to call `.astype` on the Python number 0
    assert tc.compile("s = 0\ns = s + sum[i](x[i])")(np.arange(3.0)) == 3.0


def reference_read(
    x: np.ndarray, w: np.ndarray, step: int, dilation: int, offset: int
) -> np.ndarray:
    """y[h] = sum_k x[step*h + dilation*k + offset] * w[k] over the largest in-bounds h."""
    out = []
    for h in itertools.count():
        if step * h + dilation * (len(w) - 1) + offset >= len(x):
            break
        out.append(sum(x[step * h + dilation * k + offset] * w[k] for k in range(len(w))))
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    kernel=st.integers(1, 4),
    step=st.integers(1, 3),
    dilation=st.integers(1, 3),
    offset=st.integers(0, 2),
)
def test_valid_sizes_match_brute_force(n, kernel, step, dilation, offset):
    x, w = np.arange(n, dtype=float) + 1, np.arange(kernel, dtype=float) + 1
    source = f"y[h] = x[{step}*h + {dilation}*k + {offset}] * w[k]"
    expected = reference_read(x, w, step, dilation, offset)
    if offset + dilation * (kernel - 1) >= n:
        assert tc.compile(source)(x, w).shape == (0,)
    else:
        np.testing.assert_allclose(tc.compile(source)(x, w), expected)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 9), kernel=st.integers(1, 4), step=st.integers(1, 3), shift=st.integers(-3, 3)
)
def test_pad_reads_zeros_outside_and_covers_the_input(n, kernel, step, shift):
    x, w = np.arange(n, dtype=float) + 1, np.arange(kernel, dtype=float) + 1
    y = tc.compile(f"y[h] = x[pad({step}*h + k + {shift})] * w[k]")(x, w)
    size = -(-n // step)
    expected = [
        sum(x[p] * w[k] for k in range(kernel) if 0 <= (p := step * h + k + shift) < n)
        for h in range(size)
    ]
    np.testing.assert_allclose(y, np.array(expected).reshape(size))


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_zeros_written_into_take_the_dtype_of_what_is_added(dtype):
    # `S[s, d] = 0` is made of the program's numbers: adding float32 rows keeps float32
    f = tc.compile("S[s, d] = 0\nS[seg[e], d] += X[e, d]")
    out = f(np.array([0, 1, 1]), np.ones((3, 2), dtype), s=2)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, [[1, 1], [2, 2]])


def test_a_padded_read_outside_its_padding_does_not_suggest_padding_it_again():
    with pytest.raises(tc.ShapeError) as caught:
        tc.compile("y[i] = U[pad(i - 2, 1)]")(np.ones(4), i=6)
    assert "pad(pad(" not in str(caught.value) and "pad more" in str(caught.value)


def test_the_generic_source_of_an_unsized_scatter_target_is_the_same_shape_error():
    # `.source` raised KeyError 'S.0' from the generic size code
    with pytest.raises(tc.ShapeError, match="S\\[s, d\\] = 0"):
        _ = tc.compile("S[seg[e], d] += X[e, d]").source


def test_three_indices_in_one_position_are_sized_without_a_hang() -> None:
    """The generic sizes of `3*y + 2*k + p`: y is derived from k and p, which are passed by
    keyword (planning went round a loop for ever, adding a size that it had already)."""
    code = (
        "import numpy as np, tensorc as tc\n"
        "f = tc.compile('Y[n, y, k, p] = X[n, 3*y + 2*k + p]', backend='numpy')\n"
        "x = np.arange(20.0).reshape(2, 10)\n"
        "y = f(x, k=2, p=2)\n"
        "assert y.shape == (2, 3, 2, 2) and y[1, 2, 1, 1] == x[1, 9]\n"
        "assert 'n_y' in f.source\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
