"""CONTRACT §6, form by form, on every backend: index arithmetic in accesses and targets.

Each program is written exactly as the contract (or docs) writes it, called through the
public API (`tc.compile(src, backend=...)`, arrays, sizes by keyword), and compared in
float64 at 1e-10 with `torch.nn.functional`, `jax.lax` or the loop reference of
`indexing_support` (the contract's definitions one element at a time); the result's shape
is checked too, since the size rules ("valid", "same", `pad(e, p)`, smallest target) are
part of the contract. A float32 section checks the same forms at a loose tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch.nn.functional as F
from indexing_support import (
    ATOL32,
    RTOL32,
    check,
    loop_reference,
    randn,
    t,
    torch_conv,
    torch_pool,
)

# The contract's programs, verbatim.
CONV2D = "O[n, o, h, w] = I[n, c, h + kh, w + kw] * W[o, c, kh, kw]"
CONV2D_STRIDE2 = "O[n, o, h, w] = I[n, c, 2*h + kh, 2*w + kw] * W[o, c, kh, kw]"
CONV1D_DILATION2 = "O[n, o, t] = X[n, c, t + 2*k] * W[o, c, k]"
CONV2D_PADDED = "O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]"
CAUSAL_DEPTHWISE = "Y[n, c, t] = X[n, c, pad(t - k)] * W[c, k]"
MAX_POOL = "P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw])"
TRANSPOSED = "Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * W[c, o, kh, kw]"
STENCIL = "L[i, j] = U[pad(i - 1), j] + U[pad(i + 1), j] - 2 * U[i, j]"
FIRST = "first[i] = A[i, 0]"
KEEPDIMS = "S[i, 0] = sum[j](A[i, j])"


# ----------------------------------------------------------------------------- convolutions


def test_conv2d_valid(backend: str) -> None:
    x, w = randn(2, 3, 7, 6), randn(4, 3, 3, 2, seed=1)
    got = check(CONV2D, backend, [x, w], torch_conv(x, w))
    assert got.shape == (2, 4, 7 - 3 + 1, 6 - 2 + 1)  # h: H - KH + 1


@pytest.mark.parametrize(("height", "width"), [(8, 7), (9, 6)])
def test_conv2d_stride2(backend: str, height: int, width: int) -> None:
    x, w = randn(2, 3, height, width), randn(4, 3, 3, 2, seed=1)
    got = check(CONV2D_STRIDE2, backend, [x, w], torch_conv(x, w, stride=2))
    assert got.shape[2:] == ((height - 3) // 2 + 1, (width - 2) // 2 + 1)


def test_conv1d_dilation2(backend: str) -> None:
    x, w = randn(2, 3, 11), randn(4, 3, 3, seed=1)
    got = check(CONV1D_DILATION2, backend, [x, w], torch_conv(x, w, dilation=2))
    assert got.shape == (2, 4, 11 - 2 * (3 - 1))


def test_conv2d_zero_padding_is_pytorch_padding_1(backend: str) -> None:
    x, w = randn(2, 3, 7, 6), randn(4, 3, 3, 3, seed=1)
    got = check(CONV2D_PADDED, backend, [x, w], torch_conv(x, w, padding=1))
    assert got.shape == (2, 4, 7, 6)  # "same"


@pytest.mark.parametrize("height", [7, 8])
def test_same_padding_with_stride2_has_ceil_n_over_stride_outputs(
    backend: str, height: int
) -> None:
    source = "O[n, o, h] = X[n, c, pad(2*h + kh - 1)] * W[o, c, kh]"
    x, w = randn(2, 3, height), randn(4, 3, 3, seed=1)
    got = check(source, backend, [x, w], torch_conv(x, w, stride=2, padding=1))
    assert got.shape == (2, 4, math.ceil(height / 2))


def test_same_padding_with_an_even_kernel_pads_more_after(backend: str) -> None:
    """`pad(h + kh - 1)` with a 4-wide kernel reads h - 1 .. h + 2: "same" size, padding
    (1, 2) — asymmetric, which PyTorch's padding= cannot say."""
    x, w = randn(1, 2, 6, 5), randn(3, 2, 4, 4, seed=1)
    want = torch_conv(F.pad(t(x), (1, 2, 1, 2)).numpy(), w)
    got = check(CONV2D_PADDED, backend, [x, w], want)
    assert got.shape == (1, 3, 6, 5)


@pytest.mark.parametrize("padding", [1, 2, 3])
def test_pad_e_p_is_pytorch_padding_p(backend: str, padding: int) -> None:
    source = (
        f"O[n, o, h, w] = I[n, c, pad(h + kh - {padding}, {padding}), "
        f"pad(w + kw - {padding}, {padding})] * W[o, c, kh, kw]"
    )
    x, w = randn(2, 3, 6, 5), randn(4, 3, 3, 2, seed=1)
    got = check(source, backend, [x, w], torch_conv(x, w, padding=padding))
    assert got.shape[2:] == (6 + 2 * padding - 3 + 1, 5 + 2 * padding - 2 + 1)


def test_pad_h_plus_kh_minus_2_with_2_is_padding_2(backend: str) -> None:
    """The contract's own example: `pad(h + kh - 2, 2)` is padding=2, N + 4 - KH + 1 outputs."""
    source = "O[n, o, h, w] = I[n, c, pad(h + kh - 2, 2), pad(w + kw - 2, 2)] * W[o, c, kh, kw]"
    x, w = randn(1, 2, 6, 7), randn(3, 2, 3, 3, seed=1)
    got = check(source, backend, [x, w], torch_conv(x, w, padding=2))
    assert got.shape == (1, 3, 6 + 4 - 3 + 1, 7 + 4 - 3 + 1)


def test_stride_dilation_and_padding_together(backend: str) -> None:
    source = "O[n, o, t] = X[n, c, pad(2*t + 3*k - 2, 2)] * W[o, c, k]"
    x, w = randn(2, 3, 13), randn(4, 3, 3, seed=1)
    want = torch_conv(x, w, stride=2, dilation=3, padding=2)
    got = check(source, backend, [x, w], want)
    assert got.shape[-1] == (13 + 4 - 3 * 2 - 1) // 2 + 1


def test_causal_depthwise_conv1d(backend: str) -> None:
    x, w = randn(2, 3, 10), randn(3, 4, seed=1)
    want = F.conv1d(F.pad(t(x), (3, 0)), t(w).flip(-1)[:, None, :], groups=3).numpy()
    got = check(CAUSAL_DEPTHWISE, backend, [x, w], want)
    assert got.shape == (2, 3, 10)


def test_conv3d(backend: str) -> None:
    source = "O[n, o, d, h, w] = I[n, c, d + kd, h + kh, w + kw] * W[o, c, kd, kh, kw]"
    x, w = randn(1, 2, 5, 6, 4), randn(3, 2, 2, 3, 2, seed=1)
    got = check(source, backend, [x, w], torch_conv(x, w))
    assert got.shape == (1, 3, 4, 4, 3)


def test_channels_last_conv2d_is_lax_conv_nhwc(backend: str) -> None:
    source = "O[n, h, w, o] = I[n, h + kh, w + kw, c] * W[kh, kw, c, o]"
    x, w = randn(2, 7, 6, 3), randn(3, 2, 3, 4, seed=1)  # NHWC, HWIO
    want = jax.lax.conv_general_dilated(
        jnp.asarray(x), jnp.asarray(w), (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    got = check(source, backend, [x, w], np.asarray(want))
    assert got.shape == (2, 5, 5, 4)


def test_grouped_conv_through_composed_axes(backend: str) -> None:
    """Groups via composed axes: (g c) and (g o) are contiguous channel blocks (checked in
    test_indexing_references), so this is F.conv1d(groups=2); g is inferred."""
    source = "O[n, (g o), t] = X[n, (g c), t + k] * W[(g o), c, k]"
    x, w = randn(2, 6, 9), randn(4, 3, 3, seed=1)  # G = 2, 3 in and 2 out per group
    check(source, backend, [x, w], torch_conv(x, w, groups=2), sizes={"g": 2})
    got = check(source, backend, [x, w], torch_conv(x, w, groups=2))  # by inference of g
    assert got.shape == (2, 4, 7)


def test_depthwise_conv2d_with_a_channel_multiplier(backend: str) -> None:
    source = "O[n, (c m), h, w] = I[n, c, h + kh, w + kw] * W[(c m), kh, kw]"
    x, w = randn(2, 3, 6, 5), randn(6, 3, 2, seed=1)  # 3 channels, multiplier 2
    want = F.conv2d(t(x), t(w)[:, None], groups=3).numpy()
    check(source, backend, [x, w], want)


def test_ellipsis_batch_axes_beside_affine_axes(backend: str) -> None:
    source = "O[..., o, t] = X[..., c, t + k] * W[o, c, k]"
    x, w = randn(2, 3, 4, 9), randn(5, 4, 3, seed=1)
    want = torch_conv(x.reshape(6, 4, 9), w).reshape(2, 3, 5, 7)
    check(source, backend, [x, w], want)


def test_conv_then_bias_and_relu_in_one_statement(backend: str) -> None:
    source = (
        "O[n, o, h, w] = relu(sum[c, kh, kw](I[n, c, h + kh, w + kw] * W[o, c, kh, kw]) + b[o])"
    )
    x, w, b = randn(2, 3, 6, 6), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)
    want = np.maximum(torch_conv(x, w) + b[:, None, None], 0.0)
    check(source, backend, [x, w, b], want)


# ----------------------------------------------------------------------------- pooling


@pytest.mark.parametrize(("window", "height", "width"), [(2, 8, 7), (3, 9, 8)])
def test_max_pool(backend: str, window: int, height: int, width: int) -> None:
    x = randn(2, 3, height, width)
    want = torch_pool("max", x, window, 2)
    got = check(MAX_POOL, backend, [x], want, sizes={"kh": window, "kw": window})
    assert got.shape[2:] == ((height - window) // 2 + 1, (width - window) // 2 + 1)


def test_mean_pool_is_avg_pool2d(backend: str) -> None:
    source = "P[n, c, h, w] = mean[kh, kw](X[n, c, 2*h + kh, 2*w + kw])"
    x = randn(2, 3, 8, 7)
    check(source, backend, [x], torch_pool("avg", x, 2, 2), sizes={"kh": 2, "kw": 2})


def test_padded_mean_pool_is_avg_pool2d_counting_the_padding(backend: str) -> None:
    source = "P[n, c, h, w] = mean[kh, kw](X[n, c, pad(2*h + kh - 1, 1), pad(2*w + kw - 1, 1)])"
    x = randn(2, 3, 7, 6)
    want = torch_pool("avg", x, 3, 2, padding=1, count_include_pad=True)
    check(source, backend, [x], want, sizes={"kh": 3, "kw": 3})


def test_max_pool_1d_overlapping(backend: str) -> None:
    source = "P[n, c, t] = max[k](X[n, c, t + k])"
    x = randn(2, 3, 9)
    check(source, backend, [x], torch_pool("max", x, 3, 1), sizes={"k": 3})


# ----------------------------------------------------------------------------- affine writes


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_transposed_conv(backend: str, stride: int) -> None:
    s = f"{stride}*" if stride > 1 else ""
    source = TRANSPOSED.replace("2*", s)
    x, w = randn(2, 3, 4, 5), randn(3, 4, 3, 3, seed=1)
    want = F.conv_transpose2d(t(x), t(w), stride=stride).numpy()
    got = check(source, backend, [x, w], want)
    assert got.shape[2:] == ((4 - 1) * stride + 3, (5 - 1) * stride + 3)  # smallest target


def test_transposed_conv_verbatim(backend: str) -> None:
    x, w = randn(2, 3, 4, 5), randn(3, 4, 3, 2, seed=1)
    want = F.conv_transpose2d(t(x), t(w), stride=2).numpy()
    check(TRANSPOSED, backend, [x, w], want)


def test_full_convolution_by_accumulating_writes(backend: str) -> None:
    source = "y[i + k] += x[i] * w[k]"
    x, w = randn(6), randn(3, seed=1)
    check(source, backend, [x, w], np.convolve(x, w))


@pytest.mark.parametrize(
    ("source", "shape", "target"),
    [
        ("Y[2*i] = x[i]", (9,), "2*i"),  # every other element, zeros between
        ("Y[i + 2] = x[i]", (7,), "i + 2"),  # two leading zeros
        ("Y[i, 2] = x[i]", (5, 3), "i, 2"),  # a constant position: columns 0, 1 are zeros
    ],
)
def test_affine_write_with_equals_leaves_zeros_elsewhere(
    backend: str, source: str, shape: tuple[int, ...], target: str
) -> None:
    x = randn(5)
    want = loop_reference(shape, target, {"i": 5}, [(x, "i")])
    check(source, backend, [x], want)


def test_upsampling_with_zeros_in_two_dimensions(backend: str) -> None:
    source = "Y[n, 2*h, 2*w] = X[n, h, w]"
    x = randn(2, 3, 4)
    want = np.zeros((2, 5, 7))
    want[:, ::2, ::2] = x
    check(source, backend, [x], want)


def test_plus_equals_adds_into_an_earlier_target(backend: str) -> None:
    source = "Y[t] = A[t]\nY[2*i + k] += X[i] * W[k]"
    x, w = randn(4), randn(3, seed=1)
    a = randn(2 * 3 + 3, seed=2)  # the smallest target of the writes: 2*(4 - 1) + 3
    want = a + F.conv_transpose1d(t(x)[None, None], t(w)[None, None], stride=2).numpy()[0, 0]
    check(source, backend, [a, x, w], want)


def test_plus_equals_into_an_earlier_target_with_plain_indices(backend: str) -> None:
    source = "S[i, j] = A[i, j]\nS[i, j] += B[i, j] * 2"
    a, b = randn(3, 4), randn(3, 4, seed=1)
    check(source, backend, [a, b], a + 2 * b)


# ----------------------------------------------------------------------------- other affine reads


def test_stencil(backend: str) -> None:
    u = randn(6, 5)
    padded = np.pad(u, ((1, 1), (0, 0)))
    want = padded[:-2] + padded[2:] - 2 * u
    got = check(STENCIL, backend, [u], want)
    assert got.shape == (6, 5)


def test_five_point_laplacian(backend: str) -> None:
    source = (
        "L[i, j] = U[pad(i - 1), j] + U[pad(i + 1), j] + U[i, pad(j - 1)] + U[i, pad(j + 1)]"
        " - 4 * U[i, j]"
    )
    u = randn(6, 5)
    p = np.pad(u, 1)
    want = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u
    check(source, backend, [u], want)


def test_first_constant_index(backend: str) -> None:
    a = randn(4, 5)
    got = check(FIRST, backend, [a], a[:, 0])
    assert got.shape == (4,)


def test_constant_index_other_than_zero(backend: str) -> None:
    a = randn(4, 5)
    check("last[i] = A[i, 4]", backend, [a], a[:, 4])


def test_keepdims(backend: str) -> None:
    a = randn(4, 5)
    got = check(KEEPDIMS, backend, [a], a.sum(axis=1, keepdims=True))
    assert got.shape == (4, 1)


def test_flip_gets_the_valid_size(backend: str) -> None:
    a = randn(4)
    got = check("Y[i] = A[3 - i]", backend, [a], a[::-1])
    assert got.shape == (4,)


def test_toeplitz_matrix_vector_product(backend: str) -> None:
    source = "y[i] = A[i - j + 3] * x[j]"
    a, x = randn(7), randn(4, seed=1)
    want = loop_reference((4,), "i", {"i": 4, "j": 4}, [(a, "i - j + 3"), (x, "j")])
    check(source, backend, [a, x], want, sizes={"i": 4})


def test_toeplitz_matrix_by_keyword_sizes(backend: str) -> None:
    a = randn(7)
    want = loop_reference((4, 4), "i, j", {"i": 4, "j": 4}, [(a, "i - j + 3")])
    check("T[i, j] = A[i - j + 3]", backend, [a], want, sizes={"i": 4, "j": 4})


@pytest.mark.parametrize(("boundary", "mode"), [("clamp", "edge"), ("wrap", "wrap")])
def test_clamp_and_wrap_conv1d(backend: str, boundary: str, mode: str) -> None:
    source = f"Y[i] = A[{boundary}(i + k - 2)] * w[k]"
    a, w = randn(7), randn(5, seed=1)
    padded = np.pad(a, 2, mode=mode)
    want = np.array([padded[i : i + 5] @ w for i in range(7)])
    got = check(source, backend, [a, w], want)
    assert got.shape == (7,)  # sized as pad(e): the leading index covers the input


@pytest.mark.parametrize(("boundary", "mode"), [("clamp", "edge"), ("wrap", "wrap")])
def test_clamped_and_wrapped_box_blur(backend: str, boundary: str, mode: str) -> None:
    source = f"B[i, j] = mean[a, b](A[{boundary}(i + a - 1), {boundary}(j + b - 1)])"
    x = randn(5, 6)
    p = np.pad(x, 1, mode=mode)
    want = sum(p[a : a + 5, b : b + 6] for a in range(3) for b in range(3)) / 9
    got = check(source, backend, [x], want, sizes={"a": 3, "b": 3})
    assert got.shape == (5, 6)


def test_wrap_beyond_one_period(backend: str) -> None:
    a = randn(5)
    check("Y[i] = A[wrap(i + 7)]", backend, [a], np.roll(a, -7))


# ----------------------------------------------------------------------------- float32


FLOAT32_CASES = [
    (CONV2D, [(2, 3, 7, 6), (4, 3, 3, 2)], {}, lambda x, w: torch_conv(x, w)),
    (CONV2D_STRIDE2, [(2, 3, 8, 7), (4, 3, 3, 2)], {}, lambda x, w: torch_conv(x, w, stride=2)),
    (CONV2D_PADDED, [(2, 3, 7, 6), (4, 3, 3, 3)], {}, lambda x, w: torch_conv(x, w, padding=1)),
    (CONV1D_DILATION2, [(2, 3, 11), (4, 3, 3)], {}, lambda x, w: torch_conv(x, w, dilation=2)),
    (MAX_POOL, [(2, 3, 8, 7)], {"kh": 2, "kw": 2}, lambda x: torch_pool("max", x, 2, 2)),
    (
        TRANSPOSED,
        [(2, 3, 4, 5), (3, 4, 3, 3)],
        {},
        lambda x, w: F.conv_transpose2d(t(x), t(w), stride=2).numpy(),
    ),
    (
        STENCIL,
        [(6, 5)],
        {},
        lambda u: np.pad(u, ((1, 1), (0, 0)))[:-2] + np.pad(u, ((1, 1), (0, 0)))[2:] - 2 * u,
    ),
    (KEEPDIMS, [(4, 5)], {}, lambda a: a.sum(axis=1, keepdims=True)),
]


@pytest.mark.parametrize(("source", "shapes", "sizes", "reference"), FLOAT32_CASES)
def test_float32(
    backend: str, source: str, shapes: list[tuple[int, ...]], sizes: dict[str, int], reference: Any
) -> None:
    arrays = [randn(*shape, seed=k, dtype=np.float32) for k, shape in enumerate(shapes)]
    want = reference(*(a.astype(np.float64) for a in arrays))
    check(source, backend, arrays, want, sizes=sizes, rtol=RTOL32, atol=ATOL32, dtype=np.float32)
