"""The representative programs shared by the framework tests, each with its maths written a
second time by hand, once for every backend, through a tiny adapter (`Ops`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    shapes: dict[str, tuple[int, ...]]  # input name -> shape, in the program's input order
    reference: Callable[..., Any]  # reference(ops, *inputs, **sizes)
    sizes: dict[str, int] = field(default_factory=dict)  # sizes passed by keyword
    ints: bool = False  # whether integer inputs make sense (no exp/log/softmax/mean)

    def __str__(self) -> str:
        return self.name


def _layer_norm(o, X, g, b):
    mu = o.mean(X, 1, keepdims=True)
    D = X - mu
    var = o.mean(D**2, 1, keepdims=True)
    return D / o.sqrt(var + 0.00001) * g + b


CASES = [
    Case(
        "matmul",
        "C[i, k] = A[i, j] * B[j, k]",
        {"A": (3, 4), "B": (4, 5)},
        lambda o, A, B: A @ B,
        ints=True,
    ),
    Case(
        "batched_matmul_ellipsis",
        "C[..., i, k] = A[..., i, j] * B[..., j, k]",
        {"A": (2, 3, 4), "B": (2, 4, 5)},
        lambda o, A, B: A @ B,
        ints=True,
    ),
    Case(
        "attention",
        "S[i, j] = Q[i, d] * K[j, d] / 8\nP[i, j] = softmax[j](S[i, j])\nO[i, e] = P[i, j] * V[j, e]",
        {"Q": (4, 8), "K": (5, 8), "V": (5, 6)},
        lambda o, Q, K, V: o.softmax(Q @ o.T(K) / 8, 1) @ V,
    ),
    Case(
        "layer_norm",
        "mu[i] = mean[j](X[i, j])\nD[i, j] = X[i, j] - mu[i]\n"
        "var[i] = mean[j](D[i, j] ** 2)\nY[i, j] = D[i, j] / sqrt(var[i] + 0.00001) * g[j] + b[j]",
        {"X": (3, 6), "g": (6,), "b": (6,)},
        _layer_norm,
    ),
    Case("softmax", "Z[i, j] = softmax[j](S[i, j])", {"S": (3, 5)}, lambda o, S: o.softmax(S, 1)),
    Case(
        "logsumexp", "L[i] = logsumexp[j](S[i, j])", {"S": (3, 5)}, lambda o, S: o.logsumexp(S, 1)
    ),
    Case(
        "merge_axes",
        "Y[b, n, (h d)] = X[b, h, n, d]",
        {"X": (2, 3, 4, 5)},
        lambda o, X: o.permute(X, (0, 2, 1, 3)).reshape(2, 4, 15),
        ints=True,
    ),
    Case(
        "split_axes_keyword",
        "X[b, h, n, d] = Y[b, n, (h d)]",
        {"Y": (2, 4, 6)},
        lambda o, Y, h: o.permute(Y.reshape(2, 4, h, 6 // h), (0, 2, 1, 3)),
        sizes={"h": 2},
        ints=True,
    ),
    Case(
        "reduction_broadcast",
        "P[i, j] = A[i, j] / sum[k](A[i, k])",
        {"A": (3, 4)},
        lambda o, A: A / o.sum(A, 1, keepdims=True),
        ints=True,
    ),
    Case(
        "chain_of_three",
        "D[i, l] = A[i, j] * B[j, k] * C[k, l]",
        {"A": (3, 4), "B": (4, 5), "C": (5, 2)},
        lambda o, A, B, C: A @ B @ C,
        ints=True,
    ),
    Case(
        "relu_bias",
        "R[i, j] = relu(X[i, j] + b[j])",
        {"X": (3, 4), "b": (4,)},
        lambda o, X, b: o.relu(X + b),
        ints=True,
    ),
    Case("mean", "m[j] = mean[i](A[i, j])", {"A": (4, 3)}, lambda o, A: o.mean(A, 0)),
    Case(
        "norm",
        "n = sqrt(sum[i, j](A[i, j] ** 2))",
        {"A": (3, 4)},
        lambda o, A: o.sqrt(o.sum(A**2, (0, 1))),
    ),
]
CASES_BY_NAME = {case.name: case for case in CASES}


def inputs(case: Case, seed: int = 0, integers: bool = False) -> list[np.ndarray]:
    """float64 inputs in [0.5, 1.5] (positive, so that divisions and sqrt are safe), or small
    non-negative integers."""
    rng = np.random.default_rng(seed)
    if integers:
        return [rng.integers(1, 5, size=shape) for shape in case.shapes.values()]
    return [rng.uniform(0.5, 1.5, size=shape) for shape in case.shapes.values()]


def _np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


NUMPY_OPS = SimpleNamespace(
    T=lambda x: np.swapaxes(x, -1, -2),
    softmax=_np_softmax,
    logsumexp=_np_logsumexp,
    mean=lambda x, axis, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
    sum=lambda x, axis, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    sqrt=np.sqrt,
    relu=lambda x: np.maximum(x, 0),
    permute=np.transpose,
)


def jax_ops() -> SimpleNamespace:
    import jax
    import jax.numpy as jnp

    return SimpleNamespace(
        T=lambda x: jnp.swapaxes(x, -1, -2),
        softmax=lambda x, axis: jax.nn.softmax(x, axis=axis),
        logsumexp=lambda x, axis: jax.nn.logsumexp(x, axis=axis),
        mean=lambda x, axis, keepdims=False: jnp.mean(x, axis=axis, keepdims=keepdims),
        sum=lambda x, axis, keepdims=False: jnp.sum(x, axis=axis, keepdims=keepdims),
        sqrt=jnp.sqrt,
        relu=jax.nn.relu,
        permute=jnp.transpose,
    )


def torch_ops() -> SimpleNamespace:
    import torch

    return SimpleNamespace(
        T=lambda x: x.transpose(-1, -2),
        softmax=lambda x, axis: torch.softmax(x, axis),
        logsumexp=lambda x, axis: torch.logsumexp(x, axis),
        mean=lambda x, axis, keepdims=False: torch.mean(x, axis, keepdim=keepdims),
        sum=lambda x, axis, keepdims=False: torch.sum(x, axis, keepdim=keepdims),
        sqrt=torch.sqrt,
        relu=torch.relu,
        permute=lambda x, perm: x.permute(*perm),
    )


# Inputs with a dimension of size 0, by program name: every backend must handle them.
ZERO_SIZE = [
    ("matmul", {"A": (0, 4), "B": (4, 5)}),
    ("matmul", {"A": (3, 0), "B": (0, 5)}),
    ("batched_matmul_ellipsis", {"A": (0, 3, 4), "B": (0, 4, 5)}),
    ("attention", {"Q": (0, 8), "K": (5, 8), "V": (5, 6)}),
    ("layer_norm", {"X": (0, 6), "g": (6,), "b": (6,)}),
    ("softmax", {"S": (0, 5)}),
    ("softmax", {"S": (3, 0)}),
    ("logsumexp", {"S": (0, 5)}),
    ("logsumexp", {"S": (3, 0)}),
    ("merge_axes", {"X": (2, 0, 4, 5)}),
    ("split_axes_keyword", {"Y": (0, 4, 6)}),
    ("reduction_broadcast", {"A": (0, 4)}),
    ("chain_of_three", {"A": (3, 4), "B": (4, 0), "C": (0, 2)}),
    ("relu_bias", {"X": (0, 4), "b": (4,)}),
    ("mean", {"A": (4, 0)}),
    ("norm", {"A": (0, 4)}),
]
ZERO_IDS = [
    f"{name}-{'-'.join('x'.join(map(str, s)) for s in shapes.values())}"
    for name, shapes in ZERO_SIZE
]
