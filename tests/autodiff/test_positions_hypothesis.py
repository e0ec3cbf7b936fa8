"""Hypothesis-generated 1-D convolutions (stride, dilation, `pad(e, p)` or none) and their
transposes: `tc.vjp` with respect to input and weight against torch.autograd through
`F.conv1d` / `F.conv_transpose1d`, on NumPy in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc

TOL: dict[str, float] = {"rtol": 1e-10, "atol": 1e-10}


def affine(stride: int, dilation: int, offset: int) -> str:
    """`stride*t + dilation*k + offset` as the language writes it."""
    text = ("t" if stride == 1 else f"{stride}*t") + " + "
    text += "k" if dilation == 1 else f"{dilation}*k"
    return text + (f" - {-offset}" if offset < 0 else f" + {offset}" if offset else "")


def torch_vjp(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: np.ndarray,
    w: np.ndarray,
    cotangent: np.ndarray,
) -> list[np.ndarray]:
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    grads = torch.autograd.grad(fn(tx, tw), (tx, tw), torch.tensor(cotangent))
    return [g.numpy() for g in grads]


@settings(max_examples=30, deadline=None)
@given(
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    kernel=st.integers(1, 4),
    length=st.integers(1, 12),
    padding=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_vjp_of_a_conv1d(
    stride: int, dilation: int, kernel: int, length: int, padding: int, seed: int
) -> None:
    extent = length + 2 * padding - dilation * (kernel - 1)
    if extent < 1:
        return
    position = affine(stride, dilation, -padding)
    read = f"pad({position}, {padding})" if padding else position
    source = f"O[n, o, t] = X[n, c, {read}] * W[o, c, k]"
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 3, length)), rng.standard_normal((4, 3, kernel))
    d_o = rng.standard_normal((2, 4, (extent - 1) // stride + 1))
    got = tc.vjp(source, wrt=("X", "W"), backend="numpy")(x, w, d_o)

    def conv(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        return F.conv1d(X, W, stride=stride, dilation=dilation, padding=padding)

    for g, expected in zip(got, torch_vjp(conv, x, w, d_o), strict=True):
        np.testing.assert_allclose(g, expected, **TOL)


@settings(max_examples=20, deadline=None)
@given(
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    kernel=st.integers(1, 4),
    length=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_vjp_of_a_transposed_conv1d(
    stride: int, dilation: int, kernel: int, length: int, seed: int
) -> None:
    source = f"Y[n, o, {affine(stride, dilation, 0)}] += X[n, c, t] * W[c, o, k]"
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 3, length)), rng.standard_normal((3, 4, kernel))
    size = (length - 1) * stride + dilation * (kernel - 1) + 1
    d_y = rng.standard_normal((2, 4, size))
    got = tc.vjp(source, wrt=("X", "W"), backend="numpy")(x, w, d_y)

    def transposed(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(X, W, stride=stride, dilation=dilation)

    for g, expected in zip(got, torch_vjp(transposed, x, w, d_y), strict=True):
        np.testing.assert_allclose(g, expected, **TOL)
