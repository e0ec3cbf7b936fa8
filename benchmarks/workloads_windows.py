"""Index arithmetic workloads (issue 9), part 2: windows.

Max pooling (2x2 and 3x3, stride 2) against ``F.max_pool2d``, ``lax.reduce_window`` and
NumPy reshapes / strided slices; and two affine products that no kernel is named for, a
lower-triangular Toeplitz product (``pad(i - j)``) and a Hankel product (``i + j``), which
measure tensorc's general path against the best hand-written generic form: a window view
(``sliding_window_view``, ``Tensor.unfold``) times the vector; on JAX, which has no window
views, a gathered matrix. The frameworks' 1-D convolutions are anchors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.workloads import (
    TENSORC,
    Env,
    Fn,
    Variant,
    Workload,
    _anchor,
    _hand,
    _lax,
    _normal,
    _per_framework,
)
from benchmarks.workloads_conv import GROUP

# ---------------------------------------------------------------------------------------
# Max pooling, window kh x kw, stride 2, no padding ("valid": floor((H - kh) / 2) + 1 rows)


def _pool_windows(env: Env) -> tuple[int, int]:
    return env.sizes["kh"], env.sizes["kw"]


def _pool_numpy(env: Env) -> Fn:
    """np.maximum of the kh * kw strided slices, in place (25x faster than a reshape + max)."""
    kh, kw = _pool_windows(env)

    def pool(x: np.ndarray) -> np.ndarray:
        rows, cols = (x.shape[2] - kh) // 2 + 1, (x.shape[3] - kw) // 2 + 1
        out = x[:, :, 0 : 2 * rows - 1 : 2, 0 : 2 * cols - 1 : 2].copy()
        for i in range(kh):
            for j in range(kw):
                np.maximum(
                    out, x[:, :, i : i + 2 * rows - 1 : 2, j : j + 2 * cols - 1 : 2], out=out
                )
        return out

    return pool


def _pool_window_view(env: Env) -> Fn:
    window = _pool_windows(env)
    return lambda x: sliding_window_view(x, window, axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))


def _pool_torch(env: Env) -> Fn:
    max_pool2d, window = env.fw.modules["F"].max_pool2d, _pool_windows(env)
    return lambda x: max_pool2d(x, window, stride=2)


def _pool_jax(env: Env) -> Fn:
    lax, jnp = _lax(env), env.fw.xp
    kh, kw = _pool_windows(env)
    return lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, kh, kw), (1, 1, 2, 2), "VALID")


def _pool_reshape(env: Env) -> Fn:
    """2x2 windows, stride 2: a reshape to (n, c, h, 2, w, 2) and a max."""
    torch = env.fw.name == "torch"

    def pool(x: Any) -> Any:
        blocks = x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3] // 2, 2)
        return blocks.amax(dim=(3, 5)) if torch else blocks.max(axis=(3, 5))

    return pool


pool_hand, _ = _per_framework(numpy=_pool_numpy, torch=_pool_torch, jax=_pool_jax)
POOL_SOURCE = "P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw])"
POOL_HAND_TEXT = (
    "F.max_pool2d(x, (kh, kw), stride=2) / lax.reduce_window(max) / NumPy: np.maximum of the "
    "kh * kw strided slices, in place"
)


def _pool_workload(name: str, window: int, *extra: Variant) -> Workload:
    return Workload(
        name=name,
        title=f"Max pool {window}x{window}, stride 2 (kh={window}, kw={window} by keyword)",
        source=POOL_SOURCE,
        spec=None,
        sizes={"n": 8, "c": 64, "H": 64, "W": 64, "kh": window, "kw": window},
        quick_sizes={"n": 2, "c": 8, "H": 16, "W": 16, "kh": window, "kw": window},
        make_inputs=lambda rng, s: (_normal(rng, s["n"], s["c"], s["H"], s["W"]),),
        variants=(_hand(pool_hand, POOL_HAND_TEXT), TENSORC, *extra),
        group=GROUP,
        keywords=("kh", "kw"),
    )


WINDOW_VIEW_MAX = _anchor(
    "window view + max",
    _pool_window_view,
    "sliding_window_view(x, (kh, kw))[:, :, ::2, ::2].max(axis=(4, 5))",
    frameworks=("numpy",),
)
MAX_POOL_2X2 = _pool_workload(
    "max_pool_2x2",
    2,
    _anchor("reshape + max", _pool_reshape, "x.reshape(n, c, h, 2, w, 2).max((3, 5))"),
    WINDOW_VIEW_MAX,
)
MAX_POOL_3X3 = _pool_workload("max_pool_3x3", 3, WINDOW_VIEW_MAX)


# ---------------------------------------------------------------------------------------
# Affine products on the general path.
# Toeplitz, lower triangular: y[i] = sum over j <= i of t[i - j] * x[j] (a causal filter as
# long as the signal). Hankel: y[i] = sum over j of t[i + j] * x[j], t of length I + J - 1.


def _toeplitz_numpy(env: Env) -> Fn:
    def toeplitz(t: np.ndarray, x: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.zeros(x.shape[0] - 1, dtype=t.dtype), t])
        rows = sliding_window_view(padded, x.shape[0])  # row i: t[i - J + 1], ..., t[i]
        return np.einsum("ij,j->i", rows, x[::-1].copy())  # 4x slower on the reversed view

    return toeplitz


def _toeplitz_torch(env: Env) -> Fn:
    pad = env.fw.modules["F"].pad
    return lambda t, x: pad(t, (x.shape[0] - 1, 0)).unfold(0, x.shape[0], 1) @ x.flip(0)


def _toeplitz_jax(env: Env) -> Fn:
    jnp = env.fw.xp

    def toeplitz(t: Any, x: Any) -> Any:
        size = x.shape[0]
        rows = jnp.arange(t.shape[0])[:, None] + jnp.arange(size)[None, :]
        return jnp.pad(t, (size - 1, 0))[rows] @ x[::-1]

    return toeplitz


def _hankel_numpy(env: Env) -> Fn:
    return lambda t, x: np.einsum("ij,j->i", sliding_window_view(t, x.shape[0]), x)


def _hankel_torch(env: Env) -> Fn:
    return lambda t, x: t.unfold(0, x.shape[0], 1) @ x


def _hankel_jax(env: Env) -> Fn:
    jnp = env.fw.xp

    def hankel(t: Any, x: Any) -> Any:
        rows = t.shape[0] - x.shape[0] + 1
        return t[jnp.arange(rows)[:, None] + jnp.arange(x.shape[0])[None, :]] @ x

    return hankel


def _correlate(env: Env) -> Fn:
    """The 'valid' cross-correlation kernel: np.correlate / F.conv1d / jnp.correlate."""
    if env.fw.name == "torch":
        conv1d = env.fw.modules["F"].conv1d
        return lambda t, x: conv1d(t[None, None], x[None, None])[0, 0]
    correlate = env.fw.xp.correlate
    return lambda t, x: correlate(t, x, "valid")


def _toeplitz_correlate(env: Env) -> Fn:
    """Correlation of the left-padded t with the reversed x: only the I outputs needed."""
    correlate = _correlate(env)
    if env.fw.name == "torch":
        pad = env.fw.modules["F"].pad
        return lambda t, x: correlate(pad(t, (x.shape[0] - 1, 0)), x.flip(0))
    xp = env.fw.xp
    return lambda t, x: correlate(xp.pad(t, (x.shape[0] - 1, 0)), x[::-1])


toeplitz_hand, _ = _per_framework(numpy=_toeplitz_numpy, torch=_toeplitz_torch, jax=_toeplitz_jax)
hankel_hand, _ = _per_framework(numpy=_hankel_numpy, torch=_hankel_torch, jax=_hankel_jax)
GENERIC_TEXT = (
    "NumPy: np.einsum('ij,j->i') over sliding_window_view(t) (4x faster than @ on the view, "
    "nothing copied); torch: t.unfold(0, J, 1) @ x; JAX, which has no window views: the "
    "gathered (I, J) matrix @ x"
)

TOEPLITZ = Workload(
    name="toeplitz",
    title="Lower-triangular Toeplitz product (general path)",
    source="y[i] = t[pad(i - j)] * x[j]",
    spec=None,
    sizes={"i": 4096, "j": 4096},
    quick_sizes={"i": 256, "j": 256},
    make_inputs=lambda rng, s: (_normal(rng, s["i"]), _normal(rng, s["j"])),
    variants=(
        _hand(toeplitz_hand, GENERIC_TEXT + "; t left-padded with J - 1 zeros, x reversed"),
        TENSORC,
        _anchor(
            "convolution kernel",
            _toeplitz_correlate,
            "np.correlate / F.conv1d / jnp.correlate of the left-padded t with the reversed x",
        ),
    ),
    flops=lambda s: 1.0 * s["i"] * s["j"],  # half the matrix is zeros
    rtol=2e-4,
    group=GROUP,
)

HANKEL = Workload(
    name="hankel",
    title="Hankel product (general path)",
    source="y[i] = t[i + j] * x[j]",
    spec=None,
    sizes={"i": 4096, "j": 4096},
    quick_sizes={"i": 256, "j": 256},
    make_inputs=lambda rng, s: (_normal(rng, s["i"] + s["j"] - 1), _normal(rng, s["j"])),
    variants=(
        _hand(hankel_hand, GENERIC_TEXT),
        TENSORC,
        _anchor(
            "convolution kernel",
            _correlate,
            "np.correlate(t, x, 'valid') / F.conv1d(t, x) / jnp.correlate(t, x, 'valid')",
        ),
    ),
    flops=lambda s: 2.0 * s["i"] * s["j"],
    rtol=2e-4,
    group=GROUP,
)

WORKLOADS: tuple[Workload, ...] = (MAX_POOL_2X2, MAX_POOL_3X3, TOEPLITZ, HANKEL)
