"""Generated programs with index arithmetic (CONTRACT §6), on every backend, in float64.

- Convolutions of rank 1 to 3 with random stride, dilation, padding (`pad(e, p)`), groups
  (through composed channel axes) and layout (channels first or last, weights OI... or
  ...IO), against `F.conv1d/2d/3d`. The program form, for rank 1 with groups:

      O[n, (g o), h0] = X[n, (g c), pad(2*h0 + 3*k0 - 1, 1)] * W[(g o), c, k0]

  which is `F.conv1d(X, W, stride=2, dilation=3, padding=1, groups=G)`: (g c) and (g o)
  split the channel axes with g outer, so group g is a contiguous block of channels (see
  test_indexing_references.test_composed_channel_axes_are_pytorch_groups).
- Max and mean pooling with random window, stride and (for the mean) padding, against
  `F.max_pool*d` / `F.avg_pool*d(count_include_pad=True)`.
- General affine reads `Y[i, j] = A[a*i + b*j + c, ...]` with negative coefficients
  (flips, Toeplitz), sizes by keyword, against the loop reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from indexing_support import BACKENDS, check, loop_reference, randn, torch_conv, torch_pool

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def affine(*terms: tuple[int, str], offset: int = 0) -> str:
    """Integer-affine text, as a user writes it: `2*h + k - 1`, `h`, `3 - i`, `-i`."""
    parts: list[str] = []
    for coef, name in terms:
        if coef == 0:
            continue
        body = name if abs(coef) == 1 else f"{abs(coef)}*{name}"
        if not parts:
            parts.append(body if coef > 0 else f"-{body}")
        else:
            parts.append(f"+ {body}" if coef > 0 else f"- {body}")
    if offset or not parts:
        if not parts:
            parts.append(str(offset))
        else:
            parts.append(f"+ {offset}" if offset > 0 else f"- {-offset}")
    return " ".join(parts)


# ----------------------------------------------------------------------------- convolutions


@dataclass(frozen=True)
class Dim:
    length: int
    kernel: int
    stride: int
    dilation: int
    padding: int


@st.composite
def dims(draw: st.DrawFn, rank: int) -> Dim:
    kernel = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.integers(0, 2))
    smallest = max(1, dilation * (kernel - 1) + 1 - 2 * padding)
    length = draw(st.integers(smallest, smallest + (5 if rank < 3 else 2)))
    return Dim(length, kernel, stride, dilation, padding)


@dataclass(frozen=True)
class Conv:
    source: str
    x: np.ndarray
    w: np.ndarray
    sizes: dict[str, int]
    expected: np.ndarray


@st.composite
def convolutions(draw: st.DrawFn) -> Conv:
    rank = draw(st.integers(1, 3))
    spatial = [draw(dims(rank)) for _ in range(rank)]
    groups = draw(st.integers(1, 3))
    cin, cout, batch = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    composed = groups > 1 or draw(st.booleans())  # (g c) with g = 1 is plain channels too
    channels_last = draw(st.booleans())
    weights_last = draw(st.booleans())
    g_by_keyword = draw(st.booleans())

    outs = [f"h{k}" for k in range(rank)]
    taps = [f"k{k}" for k in range(rank)]
    axes = []
    for d, h, k in zip(spatial, outs, taps, strict=True):
        position = affine((d.stride, h), (d.dilation, k), offset=-d.padding)
        axes.append(f"pad({position}, {d.padding})" if d.padding else position)
    c_in = "(g c)" if composed else "c"
    c_out = "(g o)" if composed else "o"
    x_axes = ["n", *axes, c_in] if channels_last else ["n", c_in, *axes]
    o_axes = ["n", *outs, c_out] if channels_last else ["n", c_out, *outs]
    w_axes = [*taps, "c", c_out] if weights_last else [c_out, "c", *taps]
    source = f"O[{', '.join(o_axes)}] = X[{', '.join(x_axes)}] * W[{', '.join(w_axes)}]"

    seed = draw(st.integers(0, 2**16))
    x = randn(batch, groups * cin, *(d.length for d in spatial), seed=seed)  # NC...
    w = randn(groups * cout, cin, *(d.kernel for d in spatial), seed=seed + 1)  # OI...
    expected = torch_conv(
        x,
        w,
        stride=tuple(d.stride for d in spatial),
        dilation=tuple(d.dilation for d in spatial),
        padding=tuple(d.padding for d in spatial),
        groups=groups,
    )
    if channels_last:
        x, expected = np.moveaxis(x, 1, -1), np.moveaxis(expected, 1, -1)
    if weights_last:
        w = np.moveaxis(w, (0, 1), (-1, -2))  # (k..., c, o)
    sizes = {"g": groups} if composed and g_by_keyword else {}
    return Conv(source, np.ascontiguousarray(x), np.ascontiguousarray(w), sizes, expected)


@SETTINGS
@given(convolutions())
def test_generated_convolutions_are_f_conv(conv: Conv) -> None:
    note(f"{conv.source}  x{conv.x.shape} w{conv.w.shape} {conv.sizes}")
    for backend in BACKENDS:
        check(conv.source, backend, [conv.x, conv.w], conv.expected, sizes=conv.sizes)


# ----------------------------------------------------------------------------- pooling


@dataclass(frozen=True)
class Pool:
    source: str
    x: np.ndarray
    sizes: dict[str, int]
    expected: np.ndarray


@st.composite
def pools(draw: st.DrawFn) -> Pool:
    rank = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["max", "mean"]))
    window = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    # torch allows padding up to half the window; a zero-padded max is not max_pool's -inf
    padding = draw(st.integers(0, window // 2)) if kind == "mean" else 0
    lengths = [draw(st.integers(max(1, window - 2 * padding), 8)) for _ in range(rank)]
    outs, taps = [f"h{k}" for k in range(rank)], [f"k{k}" for k in range(rank)]
    axes = []
    for h, k in zip(outs, taps, strict=True):
        position = affine((stride, h), (1, k), offset=-padding)
        axes.append(f"pad({position}, {padding})" if padding else position)
    source = f"P[n, c, {', '.join(outs)}] = {kind}[{', '.join(taps)}](X[n, c, {', '.join(axes)}])"
    x = randn(2, 2, *lengths, seed=draw(st.integers(0, 2**16)))
    torch_kind = "max" if kind == "max" else "avg"
    options: dict[str, Any] = {"padding": padding}
    if kind == "mean":
        options["count_include_pad"] = True
    expected = torch_pool(torch_kind, x, window, stride, **options)
    return Pool(source, x, dict.fromkeys(taps, window), expected)


@SETTINGS
@given(pools())
def test_generated_pools_are_f_pool(pool: Pool) -> None:
    note(f"{pool.source}  x{pool.x.shape} {pool.sizes}")
    for backend in BACKENDS:
        check(pool.source, backend, [pool.x], pool.expected, sizes=pool.sizes)


# ----------------------------------------------------------------------------- general affine reads


@dataclass(frozen=True)
class Read:
    source: str
    arrays: list[np.ndarray]
    sizes: dict[str, int]
    expected: np.ndarray


@st.composite
def affine_reads(draw: st.DrawFn) -> Read:
    """`Y[i, j] = A[<affine of i, j>, ...]` (or `y[i] = A[...] * x[j]`, summing j), with
    every position in bounds: the offset makes the smallest position 0, and A is as long as
    the largest position plus some slack."""
    sizes = {"i": draw(st.integers(1, 5)), "j": draw(st.integers(1, 5))}
    rank = draw(st.integers(1, 2))
    texts, lengths = [], []
    for _ in range(rank):
        a, b = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
        low = min(0, a * (sizes["i"] - 1)) + min(0, b * (sizes["j"] - 1))
        high = max(0, a * (sizes["i"] - 1)) + max(0, b * (sizes["j"] - 1))
        text = affine((a, "i"), (b, "j"), offset=-low)
        texts.append(text)
        # a bare index (`A[j]`) gives that index A's size: no slack there
        slack = 0 if text in sizes else draw(st.integers(0, 2))
        lengths.append(high - low + 1 + slack)
    table = randn(*lengths, seed=draw(st.integers(0, 2**16)))
    access = f"A[{', '.join(texts)}]"
    if draw(st.booleans()):
        x = randn(sizes["j"], seed=7)
        expected = loop_reference((sizes["i"],), "i", sizes, [(table, ", ".join(texts)), (x, "j")])
        return Read(f"y[i] = {access} * x[j]", [table, x], {"i": sizes["i"]}, expected)
    expected = loop_reference((sizes["i"], sizes["j"]), "i, j", sizes, [(table, ", ".join(texts))])
    return Read(f"Y[i, j] = {access}", [table], sizes, expected)


@SETTINGS
@given(affine_reads())
def test_generated_affine_reads_are_the_loop_reference(read: Read) -> None:
    note(f"{read.source}  {[a.shape for a in read.arrays]} {read.sizes}")
    for backend in BACKENDS:
        check(read.source, backend, read.arrays, read.expected, sizes=read.sizes)
