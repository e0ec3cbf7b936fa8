"""Convolutions, pooling and transposed convolutions run on the frameworks' own kernels
(issue 9): the generated source calls them (`torch.nn.functional.conv2d`,
`jax.lax.conv_general_dilated`, NumPy's `sliding_window_view` and `tensordot`), for known
sizes and in generic code, and the values equal `torch.nn.functional`'s in float64."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.backends import BACKENDS

jax.config.update("jax_enable_x64", True)  # float64 on every backend, as in the other suites

F = torch.nn.functional
T = torch.from_numpy
rng = np.random.default_rng(9)


def r(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


@dataclass(frozen=True)
class Form:
    """A program, its arguments and its value from torch.nn.functional; `kind` and `rank`
    name the kernel each backend must call."""

    source: str
    args: tuple[np.ndarray, ...]
    reference: Callable[..., torch.Tensor]
    kind: str
    rank: int
    keywords: dict[str, int] = field(default_factory=dict)


I4, W4 = r(2, 3, 9, 8), r(4, 3, 3, 2)
X3, W3 = r(2, 3, 20), r(4, 3, 3)
WT = r(3, 4, 3)  # a transposed convolution's weight: (in, out, k)

FORMS = {
    "valid": Form(
        "O[n, o, h, w] = I[n, c, h + kh, w + kw] * W[o, c, kh, kw]",
        (I4, W4),
        lambda i, w: F.conv2d(i, w),
        "conv",
        2,
    ),
    "stride": Form(
        "O[n, o, h, w] = I[n, c, 2*h + kh, 2*w + kw] * W[o, c, kh, kw]",
        (I4, W4),
        lambda i, w: F.conv2d(i, w, stride=2),
        "conv",
        2,
    ),
    "dilation": Form(
        "O[n, o, t] = X[n, c, t + 2*k] * W[o, c, k]",
        (X3, W3),
        lambda x, w: F.conv1d(x, w, dilation=2),
        "conv",
        1,
    ),
    "offset": Form(
        "O[n, o, t] = X[n, c, 3*t + 2*k + 1] * W[o, c, k]",
        (X3, W3),
        lambda x, w: F.conv1d(x[..., 1:], w, stride=3, dilation=2),
        "conv",
        1,
    ),
    "same": Form(
        "O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]",
        (I4, r(4, 3, 3, 3)),
        lambda i, w: F.conv2d(i, w, padding=1),
        "conv",
        2,
    ),
    "same even kernel": Form(
        "O[n, o, h] = X[n, c, pad(h + k - 1)] * W[o, c, k]",
        (X3, r(4, 3, 4)),
        lambda x, w: F.conv1d(F.pad(x, (1, 2)), w),
        "conv",
        1,
    ),
    "padding 2": Form(
        "O[n, o, h, w] = I[n, c, pad(h + kh - 2, 2), pad(w + kw - 2, 2)] * W[o, c, kh, kw]",
        (I4, W4),
        lambda i, w: F.conv2d(i, w, padding=2),
        "conv",
        2,
    ),
    "channels last": Form(
        "O[n, h, w, o] = I[n, pad(h + kh - 1), pad(w + kw - 1), c] * W[kh, kw, c, o]",
        (I4.transpose(0, 2, 3, 1).copy(), r(3, 3, 3, 4)),
        lambda i, w: F.conv2d(i.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), padding=1).permute(
            0, 2, 3, 1
        ),
        "conv",
        2,
    ),
    "depthwise causal": Form(
        "Y[n, c, t] = X[n, c, pad(t - k)] * W[c, k]",
        (X3, W3[0]),
        lambda x, w: F.conv1d(F.pad(x, (2, 0)), w.flip(-1)[:, None, :], groups=3),
        "depthwise",
        1,
    ),
    "groups": Form(
        "O[n, (g o), t] = X[n, (g c), t + k] * W[(g o), c, k]",
        (r(2, 6, 10), r(4, 3, 3)),
        lambda x, w: F.conv1d(x, w, groups=2),
        "grouped",
        1,
    ),
    "depth multiplier": Form(
        "O[n, (c m), h, w] = X[n, c, h + kh, w + kw] * W[(c m), kh, kw]",
        (r(2, 3, 6, 7), r(6, 2, 3)),
        lambda x, w: F.conv2d(x, w[:, None], groups=3),
        "depthwise",
        2,
    ),
    "no batch": Form(
        "O[o, h, w] = I[c, 2*h + kh, pad(w + kw - 1)] * W[o, c, kh, kw]",
        (I4[0], r(4, 3, 3, 3)),
        lambda i, w: F.conv2d(i[None], w, stride=(2, 1), padding=(0, 1))[0],
        "conv",
        2,
    ),
    "3-d": Form(
        "O[n, o, d, h, w] = I[n, c, d + kd, 2*h + kh, w + 2*kw] * W[o, c, kd, kh, kw]",
        (r(2, 3, 5, 7, 8), r(2, 3, 2, 3, 2)),
        lambda i, w: F.conv3d(i, w, stride=(1, 2, 1), dilation=(1, 1, 2)),
        "conv",
        3,
    ),
    "toeplitz product": Form(
        "y[i] = t[i + j] * x[j]",
        (r(10), r(3)),
        lambda t, x: F.conv1d(t[None, None], x[None, None])[0, 0],
        "vector",
        1,
    ),
    "shorter than valid": Form(
        "C[n, o, t] = X[n, c, t + k] * W[o, c, k]\nO[n, o, t] = C[n, o, t] + B[n, o, t]",
        (X3, W3, r(2, 4, 12)),
        lambda x, w, b: F.conv1d(x, w)[..., :12] + b,
        "conv",
        1,
    ),
    "max pool": Form(
        "P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw])",
        (I4,),
        lambda x: F.max_pool2d(x, 2),
        "max",
        2,
        {"kh": 2, "kw": 2},
    ),
    "max pool 3/2": Form(
        "P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw])",
        (I4,),
        lambda x: F.max_pool2d(x, 3, 2),
        "max",
        2,
        {"kh": 3, "kw": 3},
    ),
    "max pool channels last": Form(
        "P[n, h, w, c] = max[kh, kw](X[n, 2*h + kh, 2*w + kw, c])",
        (I4.transpose(0, 2, 3, 1).copy(),),
        lambda x: F.max_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1),
        "max",
        2,
        {"kh": 2, "kw": 2},
    ),
    "max pool padded": Form(  # pad() reads zeros, which a max sees
        "P[n, c, h] = max[k](X[n, c, pad(2*h + k - 1)])",
        (X3,),
        lambda x: F.max_pool1d(F.pad(x, (1, 1)), 3, 2),
        "max",
        1,
        {"k": 3},
    ),
    "min pool dilated": Form(
        "P[c, h] = min[k](X[c, h + 2*k])",
        (X3[0],),
        lambda x: -F.max_pool1d(-x, 3, 1, dilation=2),
        "max",
        1,
        {"k": 3},
    ),
    "mean pool": Form(
        "P[n, c, h, w] = mean[kh, kw](X[n, c, 2*h + kh, 2*w + kw])",
        (I4,),
        lambda x: F.avg_pool2d(x, 2),
        "mean",
        2,
        {"kh": 2, "kw": 2},
    ),
    "sum pool": Form(
        "P[n, c, h] = sum[k](X[n, c, 2*h + k])",
        (X3,),
        lambda x: F.avg_pool1d(x, 3, 2) * 3,
        "sum",
        1,
        {"k": 3},
    ),
    "implicit sum pool": Form(
        "P[n, c, h, w] = X[n, c, 2*h + i, 2*w + j]",
        (I4,),
        lambda x: F.avg_pool2d(x, 2) * 4,
        "sum",
        2,
        {"i": 2, "j": 2},
    ),
    "pool of five axes": Form(
        "P[a, b, c, h] = max[k](X[a, b, c, 2*h + k])",
        (r(2, 2, 3, 9),),
        lambda x: F.max_pool1d(x.reshape(12, 9), 2).reshape(2, 2, 3, 4),
        "max",
        1,
        {"k": 2},
    ),
    "transposed": Form(
        "Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * W[c, o, kh, kw]",
        (I4, r(3, 4, 3, 2)),
        lambda x, w: F.conv_transpose2d(x, w, stride=2),
        "transposed",
        2,
    ),
    "transposed 1-d": Form(
        "Y[n, o, 3*h + 2*k] += X[n, c, h] * W[c, o, k]",
        (X3, WT),
        lambda x, w: F.conv_transpose1d(x, w, stride=3, dilation=2),
        "transposed",
        1,
    ),
    "transposed groups": Form(
        "Y[n, g, o, 2*h + k] += X[n, g, c, h] * W[g, c, o, k]",
        (r(2, 2, 3, 5), r(2, 3, 4, 3)),
        lambda x, w: F.conv_transpose1d(
            x.reshape(2, 6, 5), w.reshape(6, 4, 3), stride=2, groups=2
        ).reshape(2, 2, 4, 11),
        "transposed",
        1,
    ),
    "transposed flipped": Form(
        "Y[n, o, 2*h - k + 2] += X[n, c, h] * W[c, o, k]",
        (X3, WT),
        lambda x, w: F.conv_transpose1d(x, w.flip(-1), stride=2),
        "transposed",
        1,
    ),
    "transposed offset": Form(
        "Y[n, o, 2*h + k + 1] += X[n, c, h] * W[c, o, k]",
        (X3, WT),
        lambda x, w: F.pad(F.conv_transpose1d(x, w, stride=2), (1, 0)),
        "transposed",
        1,
    ),
    "transposed into": Form(
        "Y[n, o, t] = B[n, o, t]\nY[n, o, 2*h + k] += X[n, c, h] * W[c, o, k]",
        (r(2, 4, 44), X3, WT),
        lambda b, x, w: b + F.pad(F.conv_transpose1d(x, w, stride=2), (0, 3)),
        "transposed",
        1,
    ),
}

MARKS = {  # what each backend's source must call, by kind (`{d}`: the number of spatial axes;
    # `a|b`: either)
    "torch": {
        "conv": ["torch.nn.functional.conv{d}d("],
        "vector": ["torch.nn.functional.conv{d}d("],
        "depthwise": ["torch.nn.functional.conv{d}d(", "groups="],
        "grouped": ["torch.nn.functional.conv{d}d(", "groups="],
        "max": ["torch.nn.functional.max_pool{d}d("],
        "mean": ["torch.nn.functional.avg_pool{d}d("],
        "sum": ["torch.nn.functional.avg_pool{d}d(", "divisor_override=1"],
        "sum 1-d": [".unfold("],  # exact for integers, which avg_pool1d would truncate
        "transposed": ["torch.nn.functional.conv_transpose{d}d("],
    },
    "jax": {
        "conv": ["jax.lax.conv_general_dilated(", "dimension_numbers="],
        "vector": ["jax.lax.conv_general_dilated(", "dimension_numbers="],
        "depthwise": ["jax.lax.conv_general_dilated(", "feature_group_count="],
        "grouped": ["jax.lax.conv_general_dilated(", "feature_group_count="],
        "max": ["jax.lax.reduce_window(|_window_extreme("],  # small windows: strided slices
        "mean": ["jax.lax.reduce_window(", "jax.lax.add"],
        "sum": ["jax.lax.reduce_window(", "jax.lax.add"],
        "transposed": ["jax.lax.conv_general_dilated(", "lhs_dilation="],
    },
    "numpy": {
        "conv": ["np.lib.stride_tricks.sliding_window_view(", "np.tensordot("],
        "vector": ["np.lib.stride_tricks.sliding_window_view(", "np.einsum("],  # no copy
        "depthwise": ["_window_dot("],
        "grouped": ["np.lib.stride_tricks.sliding_window_view(", " @ "],
        "max": ["_window_reduce(", "np.maximum"],
        "mean": ["_window_reduce(", "np.add"],
        "sum": ["_window_reduce(", "np.add"],
        "transposed": ["_window_add("],
    },
}
GENERIC = re.compile(r"(?<![\w.])_(scatter|window)\(")  # the general forms a kernel replaces

NAMES = list(FORMS)
ON = [b for b in ("numpy", "jax", "torch") if BACKENDS[b].installed()]


def on(backend: str, value: np.ndarray) -> Any:
    return BACKENDS[backend].from_numpy(value)


def body(source: str) -> str:
    return source.split("\ndef program(")[1]


def expected(form: Form) -> np.ndarray:
    return form.reference(*(T(a) for a in form.args)).numpy()


@pytest.mark.parametrize("backend", ON)
@pytest.mark.parametrize("name", NAMES)
def test_the_source_calls_the_kernel(name: str, backend: str) -> None:
    form = FORMS[name]
    f = tc.compile(form.source, backend=backend)
    args = [on(backend, a) for a in form.args]
    kind = (
        f"{form.kind} 1-d" if f"{form.kind} 1-d" in MARKS[backend] and form.rank == 1 else form.kind
    )
    marks = [mark.format(d=form.rank) for mark in MARKS[backend][kind]]
    for text in (f.source, f.source_for(*args, **form.keywords)):
        whole = text.split("\ndef program(")
        assert all(any(m in text for m in mark.split("|")) for mark in marks), (marks, text)
        assert not GENERIC.search(whole[1]), text


@pytest.mark.parametrize("backend", ON)
@pytest.mark.parametrize("name", NAMES)
def test_values_equal_torch_nn_functional(name: str, backend: str) -> None:
    form = FORMS[name]
    f = tc.compile(form.source, backend=backend)
    found = BACKENDS[backend].to_numpy(f(*(on(backend, a) for a in form.args), **form.keywords))
    np.testing.assert_allclose(found, expected(form), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", ON)
@pytest.mark.parametrize("name", NAMES)
def test_the_generic_module_gives_the_same_values(name: str, backend: str) -> None:
    """`f.source` (sizes read off the arguments) is a module of its own that computes the same."""
    form = FORMS[name]
    namespace: dict[str, Any] = {}
    exec(compile(tc.compile(form.source, backend=backend).source, "<kernels>", "exec"), namespace)
    found = namespace["program"](*(on(backend, a) for a in form.args), **form.keywords)
    found = BACKENDS[backend].to_numpy(found)
    np.testing.assert_allclose(found, expected(form), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", ON)
def test_float32_stays_float32_and_mixed_dtypes_promote(backend: str) -> None:
    form = FORMS["same"]
    f = tc.compile(form.source, backend=backend)
    low = [on(backend, a.astype(np.float32)) for a in form.args]
    assert str(f(*low).dtype).endswith("float32")
    mixed = f(low[0], on(backend, form.args[1]))
    assert str(mixed.dtype).endswith("float64")
    found = BACKENDS[backend].to_numpy(f(*low))
    np.testing.assert_allclose(found, expected(form), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ON)
@pytest.mark.parametrize("name", ["valid", "max pool", "sum pool", "transposed"])
def test_integers_give_the_general_forms_values(name: str, backend: str) -> None:
    form = FORMS[name]
    args = [np.round(a * 3).astype(np.int64) for a in form.args]
    f = tc.compile(form.source, backend=backend)
    found = BACKENDS[backend].to_numpy(f(*(on(backend, a) for a in args), **form.keywords))
    general = tc.compile(form.source, backend="numpy", passes=())(*args, **form.keywords)
    assert found.dtype.kind == "i"
    np.testing.assert_array_equal(found, general)


# --- any convolution, against torch.nn.functional ---------------------------------------------


@dataclass(frozen=True)
class Drawn:
    """A convolution drawn by hypothesis: per spatial axis an input size, kernel size,
    stride, dilation and padding ("valid", "same" for pad(e), or p for pad(e, p))."""

    sizes: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: str | int
    groups: int
    channels_last: bool
    batch: bool

    def position(self, axis: int) -> str:
        s, d = self.strides[axis], self.dilations[axis]
        h, k = f"h{axis}", f"k{axis}"
        text = f"{s}*{h} + {d}*{k}"
        if self.padding == "valid":
            return text
        if self.padding == "same":
            return f"pad({text} - {self.reach(axis) // 2})"
        return f"pad({text} - {self.padding}, {self.padding})"

    def reach(self, axis: int) -> int:
        return self.dilations[axis] * (self.kernels[axis] - 1)

    def outputs(self, axis: int) -> int:
        n, s = self.sizes[axis], self.strides[axis]
        if self.padding == "same":
            return -(-n // s)
        p = 0 if self.padding == "valid" else int(self.padding)
        return (n + 2 * p - self.reach(axis) - 1) // s + 1

    def left(self, axis: int) -> int:
        if self.padding == "valid":
            return 0
        return self.reach(axis) // 2 if self.padding == "same" else int(self.padding)

    def source(self) -> str:
        d = len(self.sizes)
        h = ", ".join(f"h{a}" for a in range(d))
        k = ", ".join(f"k{a}" for a in range(d))
        positions = ", ".join(self.position(a) for a in range(d))
        ci, co = ("(g c)", "(g o)") if self.groups > 1 else ("c", "o")
        n = "n, " if self.batch else ""
        if self.channels_last:
            return f"O[{n}{h}, {co}] = I[{n}{positions}, {ci}] * W[{k}, c, {co}]"
        return f"O[{n}{co}, {h}] = I[{n}{ci}, {positions}] * W[{co}, c, {k}]"

    def reference(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """F.conv*d of the input padded by hand (the outputs the program's sizes keep)."""
        d = len(self.sizes)
        if self.channels_last:
            x = np.moveaxis(x, -1, 1 if self.batch else 0)
            w = np.moveaxis(w, (-1, -2), (0, 1))
        t = T(x if self.batch else x[None])
        pads = []
        for axis in reversed(range(d)):
            need = self.strides[axis] * (self.outputs(axis) - 1) + self.reach(axis) + 1
            pads += [self.left(axis), max(0, need - self.left(axis) - self.sizes[axis])]
        convolve = getattr(F, f"conv{d}d")
        y = convolve(
            F.pad(t, pads), T(w), stride=self.strides, dilation=self.dilations, groups=self.groups
        )
        y = y[(..., *(slice(0, self.outputs(a)) for a in range(d)))].numpy()
        y = y if self.batch else y[0]
        return np.moveaxis(y, 1 if self.batch else 0, -1) if self.channels_last else y


@st.composite
def convolutions(draw: st.DrawFn) -> Drawn:
    d = draw(st.integers(1, 3))
    each = st.lists
    drawn = Drawn(
        sizes=tuple(draw(each(st.integers(5, 9), min_size=d, max_size=d))),
        kernels=tuple(draw(each(st.integers(1, 3), min_size=d, max_size=d))),
        strides=tuple(draw(each(st.integers(1, 3), min_size=d, max_size=d))),
        dilations=tuple(draw(each(st.integers(1, 2), min_size=d, max_size=d))),
        padding=draw(st.sampled_from(["valid", "same", 1, 2])),
        groups=draw(st.sampled_from([1, 2])),
        channels_last=draw(st.booleans()),
        batch=draw(st.booleans()),
    )
    return drawn


@settings(max_examples=30, deadline=None)
@given(convolutions(), st.sampled_from(ON))
def test_any_convolution_equals_torch(drawn: Drawn, backend: str) -> None:
    d = len(drawn.sizes)
    c, o = 2, 3
    x_shape = (
        (*drawn.sizes, drawn.groups * c)
        if drawn.channels_last
        else (drawn.groups * c, *drawn.sizes)
    )
    x = rng.standard_normal(((2,) if drawn.batch else ()) + x_shape)
    w_shape = (
        (*drawn.kernels, c, drawn.groups * o)
        if drawn.channels_last
        else (drawn.groups * o, c, *drawn.kernels)
    )
    w = rng.standard_normal(w_shape)
    f = tc.compile(drawn.source(), backend=backend)
    found = BACKENDS[backend].to_numpy(f(on(backend, x), on(backend, w)))
    np.testing.assert_allclose(found, drawn.reference(x, w), rtol=1e-10, atol=1e-10)
    # torch: a window longer than the output on every axis is a weight gradient's shape
    mark = {"torch": f"conv{d}d", "jax": "conv_general_dilated(", "numpy": "sliding_window_view("}
    assert mark[backend] in f.source_for(on(backend, x), on(backend, w))


@pytest.mark.parametrize("backend", ON)
@pytest.mark.parametrize(
    ("source", "shapes"),
    [
        ("y[h] = x[pad(h + k + 2)] * w[k]", [(1,), (1,)]),  # windows wholly past the input
        ("y[h] = x[pad(h - k - 3)] * w[k]", [(2,), (2,)]),  # and wholly before it
        ("y[h] = x[h + k + 1] * w[k]", [(1,), (1,)]),  # no output at all
        (
            "P[c, h] = max[k](X[c, pad(2*h + k + 4)])",
            [(2, 3)],
        ),
    ],
)
def test_edge_frames_give_the_general_forms_values(source, shapes, backend: str) -> None:
    args = [r(*shape) for shape in shapes]
    keywords = {"k": 2} if "max[k]" in source else {}
    found = tc.compile(source, backend=backend)(*(on(backend, a) for a in args), **keywords)
    general = tc.compile(source, backend="numpy", passes=())(*args, **keywords)
    np.testing.assert_allclose(BACKENDS[backend].to_numpy(found), general, rtol=1e-12)
