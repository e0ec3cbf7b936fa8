"""Index arithmetic workloads (issue 9), part 1: convolutions.

conv2d in NCHW and NHWC, a depthwise causal conv1d and a transposed conv2d, each against the
framework's own kernel (``F.conv*``, ``lax.conv_general_dilated``, ``lax.conv_transpose``)
and, on NumPy, the best hand-written ``sliding_window_view`` / strided-slice form. The
hand-written variant (the reference) is the kernel on torch and JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.workloads import (
    TENSORC,
    Env,
    Fn,
    Sizes,
    Workload,
    _anchor,
    _hand,
    _lax,
    _normal,
    _per_framework,
)

GROUP = "index arithmetic"


def _conv_flops(s: Sizes) -> float:
    return 2.0 * s["n"] * s["c"] * s["o"] * s["H"] * s["W"] * s["k"] ** 2


# ---------------------------------------------------------------------------------------
# conv2d, 3x3, "same" padding (pad(h + kh - 1) is PyTorch's padding=1), NCHW and NHWC


def _conv_inputs(
    input_axes: str, weight_axes: str
) -> Callable[[np.random.Generator, Sizes], tuple[np.ndarray, ...]]:
    """Inputs of a 2-D convolution laid out as the program reads them, e.g. "nchw", "occk"."""

    def make(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
        assert s["k"] == 3, "the hand-written code pads 1 on each side: a 3-wide kernel"
        extent = {"n": s["n"], "c": s["c"], "o": s["o"], "h": s["H"], "w": s["W"], "k": s["k"]}
        scale = np.float32(3 * s["c"] ** 0.5)  # keeps the outputs near unit size
        return (
            _normal(rng, *(extent[a] for a in input_axes)),
            _normal(rng, *(extent[a] for a in weight_axes)) / scale,
        )

    return make


def _conv_nchw_numpy(env: Env) -> Fn:
    def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        windows = sliding_window_view(padded, w.shape[2:], axis=(2, 3))  # n c h w kh kw
        # weights first: 2x faster than tensordot(windows, w) (the copy tensordot makes of
        # the windows is laid out better)
        return np.tensordot(w, windows, axes=([1, 2, 3], [1, 4, 5])).transpose(1, 0, 2, 3)

    return conv


def _conv_nchw_window_einsum(env: Env) -> Fn:
    if env.fw.name == "torch":
        F, einsum = env.fw.modules["F"], env.fw.xp.einsum

        def conv_torch(x: Any, w: Any) -> Any:
            windows = F.pad(x, (1, 1, 1, 1)).unfold(2, w.shape[2], 1).unfold(3, w.shape[3], 1)
            return einsum("nchwij,ocij->nohw", windows, w)

        return conv_torch

    def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        windows = sliding_window_view(padded, w.shape[2:], axis=(2, 3))
        return np.einsum("nchwij,ocij->nohw", windows, w, optimize=True)

    return conv


def _conv_nchw_torch(env: Env) -> Fn:
    conv2d = env.fw.modules["F"].conv2d
    return lambda x, w: conv2d(x, w, padding=1)


def _conv_nchw_unfold(env: Env) -> Fn:
    F = env.fw.modules["F"]

    def conv(x: Any, w: Any) -> Any:
        columns = F.unfold(x, w.shape[2:], padding=1)  # n (c kh kw) (h w)
        return (w.reshape(w.shape[0], -1) @ columns).reshape(x.shape[0], w.shape[0], *x.shape[2:])

    return conv


def _conv_nchw_jax(env: Env) -> Fn:
    conv = _lax(env).conv_general_dilated
    return lambda x, w: conv(x, w, (1, 1), ((1, 1), (1, 1)))


def _conv_nhwc_numpy(env: Env) -> Fn:
    def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        windows = sliding_window_view(padded, w.shape[:2], axis=(1, 2))  # n h w c kh kw
        # contracted in the order (kh, kw, c): 1.7x faster than (c, kh, kw)
        return np.tensordot(windows, w, axes=([4, 5, 3], [0, 1, 2]))

    return conv


def _conv_nhwc_torch(env: Env) -> Fn:
    """The permuted views are NCHW tensors in channels_last memory format: no copies."""
    conv2d = env.fw.modules["F"].conv2d
    return lambda x, w: conv2d(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), padding=1).permute(
        0, 2, 3, 1
    )


def _conv_nhwc_torch_copies(env: Env) -> Fn:
    conv2d = env.fw.modules["F"].conv2d
    return lambda x, w: (
        conv2d(x.permute(0, 3, 1, 2).contiguous(), w.permute(3, 2, 0, 1).contiguous(), padding=1)
        .permute(0, 2, 3, 1)
        .contiguous()
    )


def _conv_nhwc_jax(env: Env) -> Fn:
    conv = _lax(env).conv_general_dilated
    dims = ("NHWC", "HWIO", "NHWC")
    return lambda x, w: conv(x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=dims)


def _conv_nhwc_jax_transposes(env: Env) -> Fn:
    conv = _lax(env).conv_general_dilated
    return lambda x, w: conv(
        x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), (1, 1), ((1, 1), (1, 1))
    ).transpose(0, 2, 3, 1)


_CONV_SIZES: Sizes = {"n": 8, "c": 64, "o": 64, "H": 32, "W": 32, "k": 3}
_CONV_QUICK: Sizes = {"n": 2, "c": 8, "o": 8, "H": 8, "W": 8, "k": 3}

nchw_hand, _ = _per_framework(numpy=_conv_nchw_numpy, torch=_conv_nchw_torch, jax=_conv_nchw_jax)
nhwc_hand, _ = _per_framework(numpy=_conv_nhwc_numpy, torch=_conv_nhwc_torch, jax=_conv_nhwc_jax)
nhwc_copies, nhwc_copies_frameworks = _per_framework(
    torch=_conv_nhwc_torch_copies, jax=_conv_nhwc_jax_transposes
)

CONV2D = Workload(
    name="conv2d",
    title="conv2d NCHW, 3x3, padding 1",
    source="O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]",
    spec=None,
    sizes=_CONV_SIZES,
    quick_sizes=_CONV_QUICK,
    make_inputs=_conv_inputs("nchw", "ockk"),
    variants=(
        _hand(
            nchw_hand,
            "F.conv2d(padding=1) / lax.conv_general_dilated / NumPy np.pad, "
            "sliding_window_view and tensordot",
        ),
        TENSORC,
        _anchor(
            "window view + einsum",
            _conv_nchw_window_einsum,
            "padded window view (sliding_window_view / Tensor.unfold) and einsum",
            frameworks=("numpy", "torch"),
        ),
        _anchor(
            "F.unfold + matmul",
            _conv_nchw_unfold,
            "im2col: W.reshape(o, -1) @ F.unfold(x, 3, padding=1)",
            frameworks=("torch",),
        ),
    ),
    flops=_conv_flops,
    rtol=2e-4,
    group=GROUP,
)

CONV2D_NHWC = Workload(
    name="conv2d_nhwc",
    title="conv2d NHWC (HWIO weights), 3x3, padding 1",
    source="O[n, h, w, o] = I[n, pad(h + kh - 1), pad(w + kw - 1), c] * W[kh, kw, c, o]",
    spec=None,
    sizes=_CONV_SIZES,
    quick_sizes=_CONV_QUICK,
    make_inputs=_conv_inputs("nhwc", "kkco"),
    variants=(
        _hand(
            nhwc_hand,
            "F.conv2d on permuted views (channels_last memory, no copies) / "
            "lax.conv_general_dilated with ('NHWC', 'HWIO', 'NHWC') / NumPy window view + "
            "tensordot",
        ),
        TENSORC,
        _anchor(
            "via NCHW copies",
            nhwc_copies,
            "transpose to NCHW (contiguous copies on torch), convolve, transpose back",
            frameworks=nhwc_copies_frameworks,
        ),
    ),
    flops=_conv_flops,
    rtol=2e-4,
    group=GROUP,
)

# ---------------------------------------------------------------------------------------
# Depthwise causal conv1d: Y[n, c, t] = sum[k] X[n, c, t - k] * W[c, k] (zeros before t = 0).
# F.conv1d cross-correlates, so it gets the kernel flipped: X[t - k] pairs with W[k].


def _causal_numpy(env: Env) -> Fn:
    def causal(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        y = x * w[:, 0, None]
        for k in range(1, w.shape[1]):
            y[:, :, k:] += x[:, :, : x.shape[2] - k] * w[:, k, None]
        return y

    return causal


def _causal_shifted(env: Env) -> Fn:
    """Shifted slices, one per kernel tap (in place on torch, functional on JAX)."""
    if env.fw.name == "torch":
        return _causal_numpy(env)
    jnp = env.fw.xp

    def causal(x: Any, w: Any) -> Any:
        taps = w.shape[1]
        padded = jnp.pad(x, ((0, 0), (0, 0), (taps - 1, 0)))
        size = x.shape[2]
        return sum(
            padded[:, :, taps - 1 - k : taps - 1 - k + size] * w[:, k, None] for k in range(taps)
        )

    return causal


def _causal_window(env: Env) -> Fn:
    def causal(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        taps = w.shape[1]
        windows = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (taps - 1, 0))), taps, axis=2)
        return np.einsum("nctj,cj->nct", windows, w[:, ::-1], optimize=True)

    return causal


def _causal_torch(env: Env) -> Fn:
    F = env.fw.modules["F"]

    def causal(x: Any, w: Any) -> Any:
        taps = w.shape[1]
        return F.conv1d(F.pad(x, (taps - 1, 0)), w.flip(1)[:, None, :], groups=x.shape[1])

    return causal


def _causal_jax(env: Env) -> Fn:
    conv = _lax(env).conv_general_dilated

    def causal(x: Any, w: Any) -> Any:
        taps = w.shape[1]
        return conv(x, w[:, None, ::-1], (1,), ((taps - 1, 0),), feature_group_count=x.shape[1])

    return causal


causal_hand, _ = _per_framework(numpy=_causal_numpy, torch=_causal_torch, jax=_causal_jax)
causal_shifted, causal_shifted_frameworks = _per_framework(
    torch=_causal_shifted, jax=_causal_shifted
)

CAUSAL_CONV1D = Workload(
    name="causal_conv1d",
    title="Depthwise causal conv1d, kernel 4",
    source="Y[n, c, t] = X[n, c, pad(t - k)] * W[c, k]",
    spec=None,
    sizes={"n": 8, "c": 256, "t": 1024, "k": 4},
    quick_sizes={"n": 2, "c": 16, "t": 64, "k": 4},
    make_inputs=lambda rng, s: (_normal(rng, s["n"], s["c"], s["t"]), _normal(rng, s["c"], s["k"])),
    variants=(
        _hand(
            causal_hand,
            "F.conv1d(F.pad(x, (3, 0)), w.flip(1)[:, None], groups=C) / "
            "lax.conv_general_dilated(feature_group_count=C) on the flipped kernel / "
            "NumPy shifted slices, one per tap, in place",
        ),
        TENSORC,
        _anchor(
            "shifted slices",
            causal_shifted,
            "y = sum over taps k of w[:, k] * x shifted right by k",
            frameworks=causal_shifted_frameworks,
        ),
        _anchor(
            "window view + einsum",
            _causal_window,
            "sliding_window_view of the left-padded x, einsum with the flipped kernel",
            frameworks=("numpy",),
        ),
    ),
    flops=lambda s: 2.0 * s["n"] * s["c"] * s["t"] * s["k"],
    rtol=2e-4,
    group=GROUP,
)

# ---------------------------------------------------------------------------------------
# Transposed convolution, stride 2, 3x3: Y[n, o, 2h + kh, 2w + kw] += X[n, c, h, w] W[c, o, kh, kw]
# (2H + 1 rows: the smallest target that holds every write, as F.conv_transpose2d gives)


def _conv_t_numpy(env: Env) -> Fn:
    """One GEMM over the channels, then each tap added into a strided slice (col2im)."""

    def conv_t(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        (n, _, rows, cols), (_, o, kh, kw) = x.shape, w.shape
        taps = np.tensordot(x, w, axes=([1], [0])).transpose(0, 3, 4, 5, 1, 2)  # n o kh kw h w
        y = np.zeros((n, o, 2 * rows + kh - 2, 2 * cols + kw - 2), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                y[:, :, i : i + 2 * rows - 1 : 2, j : j + 2 * cols - 1 : 2] += taps[:, :, i, j]
        return y

    return conv_t


def _conv_t_torch(env: Env) -> Fn:
    conv_transpose2d = env.fw.modules["F"].conv_transpose2d
    return lambda x, w: conv_transpose2d(x, w, stride=2)


def _conv_t_fold(env: Env) -> Fn:
    F = env.fw.modules["F"]

    def conv_t(x: Any, w: Any) -> Any:
        (n, c, rows, cols), (kh, kw) = x.shape, w.shape[2:]
        columns = w.reshape(c, -1).T @ x.reshape(n, c, rows * cols)  # n (o kh kw) (h w)
        size = (2 * rows + kh - 2, 2 * cols + kw - 2)
        return F.fold(columns, size, (kh, kw), stride=2)

    return conv_t


def _conv_t_jax(env: Env) -> Fn:
    conv_transpose = _lax(env).conv_transpose
    dims = ("NCHW", "OIHW", "NCHW")  # W[c, o] is the forward convolution's (out, in) kernel
    return lambda x, w: conv_transpose(
        x, w, (2, 2), "VALID", dimension_numbers=dims, transpose_kernel=True
    )


def _conv_t_jax_dilated(env: Env) -> Fn:
    conv = _lax(env).conv_general_dilated

    def conv_t(x: Any, w: Any) -> Any:
        kh, kw = w.shape[2:]
        padding = ((kh - 1, kh - 1), (kw - 1, kw - 1))
        flipped = w[:, :, ::-1, ::-1]
        dims = ("NCHW", "IOHW", "NCHW")
        return conv(x, flipped, (1, 1), padding, lhs_dilation=(2, 2), dimension_numbers=dims)

    return conv_t


conv_t_hand, _ = _per_framework(numpy=_conv_t_numpy, torch=_conv_t_torch, jax=_conv_t_jax)

CONV_TRANSPOSE2D = Workload(
    name="conv_transpose2d",
    title="Transposed conv2d, 3x3, stride 2",
    source="Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * W[c, o, kh, kw]",
    spec=None,
    sizes=_CONV_SIZES,
    quick_sizes=_CONV_QUICK,
    make_inputs=_conv_inputs("nchw", "cokk"),
    variants=(
        _hand(
            conv_t_hand,
            "F.conv_transpose2d(stride=2) / lax.conv_transpose(transpose_kernel=True) / "
            "NumPy tensordot over the channels, each tap added into a strided slice",
        ),
        TENSORC,
        _anchor(
            "matmul + F.fold",
            _conv_t_fold,
            "col2im: W.reshape(c, -1).T @ x, then F.fold(stride=2) adds the overlaps",
            frameworks=("torch",),
        ),
        _anchor(
            "lhs_dilation",
            _conv_t_jax_dilated,
            "lax.conv_general_dilated(lhs_dilation=(2, 2)) with the flipped kernel",
            frameworks=("jax",),
        ),
    ),
    flops=_conv_flops,
    rtol=2e-4,
    group=GROUP,
)

WORKLOADS: tuple[Workload, ...] = (CONV2D, CONV2D_NHWC, CAUSAL_CONV1D, CONV_TRANSPOSE2D)
