"""Derivatives of index arithmetic and tensor-valued indices (issue 9 item 4, issue 10
item 4): `tc.grad`, `tc.vjp` and `tc.jvp` on every backend against `torch.autograd` through
`F.conv*`/`F.max_pool2d`/indexing and against `jax.grad`/`jax.vjp` of
`lax.conv_general_dilated`/`jnp.take`, in float64 at 1e-10.

Max pooling after a ReLU has tied maxima (windows where every value is 0); tensorc shares a
tie's gradient equally and torch gives it to one element, but the ReLU's derivative is 0
there either way, so the two agree.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from indexing_support import randn, t
from support import to_backend, to_numpy

import tensorc as tc

TOL: dict[str, float] = {"rtol": 1e-10, "atol": 1e-10}

CONV_LAYER = """
C[n, o, h, w] = X[n, c, pad(h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]
R[n, o, h, w] = relu(C[n, o, h, w])
P[n, o, u, v] = max[p, q](R[n, o, 2*u + p, 2*v + q])
L = sum[n, o, u, v](P[n, o, u, v])
"""
STRIDED_CONV = "O[n, o, h, w] = X[n, c, 2*h + kh, 2*w + kw] * K[o, c, kh, kw]"
DILATED_PADDED_CONV1D = "O[n, o, t] = X[n, c, pad(2*t + 3*k - 2, 2)] * K[o, c, k]"
TRANSPOSED = "Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * K[c, o, kh, kw]"
EMBEDDING = "E[b, t, d] = W[ids[b, t], d]"
TAKE_ALONG = "G[i, j] = X[i, idx[i, j]]"
SEGMENT_SUM = "S[s, d] = 0\nS[seg[e], d] += X[e, d]"
CROSS_ENTROPY = "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]\nL = mean[n](nll[n])"


def call(f: Any, backend: str, *arrays: np.ndarray, **sizes: int) -> tuple[np.ndarray, ...]:
    """Call a derivative function with the arrays on ``backend``; its results as NumPy."""
    result = f(*(to_backend(a, backend) for a in arrays), **sizes)
    return tuple(to_numpy(r) for r in (result if isinstance(result, tuple) else (result,)))


def torch_grads(
    fn: Any, *arrays: np.ndarray, cotangent: np.ndarray | None = None
) -> list[np.ndarray]:
    """torch.autograd of fn(*arrays) (a vjp with ``cotangent`` where the result is not a
    scalar) with respect to every floating array."""
    tensors = [t(a).requires_grad_(a.dtype.kind == "f") for a in arrays]
    out = fn(*tensors)
    wrt = [x for x in tensors if x.requires_grad]
    grads = torch.autograd.grad(out, wrt, None if cotangent is None else t(cotangent))
    return [g.numpy() for g in grads]


def assert_all_close(
    got: tuple[np.ndarray, ...], want: list[np.ndarray], shapes: list[tuple[int, ...]]
) -> None:
    assert len(got) == len(want)
    for g, w, shape in zip(got, want, shapes, strict=True):
        assert g.shape == shape, f"gradient shape {g.shape} != the input's {shape}"
        np.testing.assert_allclose(g, w, **TOL)


# ----------------------------------------------------------------------------- convolutions


def test_grad_of_a_conv_relu_max_pool_layer(backend: str) -> None:
    x, k = randn(2, 3, 7, 6), randn(4, 3, 3, 3, seed=1)
    f = tc.grad(CONV_LAYER, wrt=("X", "K"), backend=backend)
    got = call(f, backend, x, k, p=2, q=2)
    want = torch_grads(
        lambda X, K: F.max_pool2d(F.relu(F.conv2d(X, K, padding=1)), 2, 2).sum(), x, k
    )
    assert_all_close(got, want, [x.shape, k.shape])


def test_the_conv_layer_itself(backend: str) -> None:
    x, k = randn(2, 3, 7, 6), randn(4, 3, 3, 3, seed=1)
    got = call(tc.compile(CONV_LAYER, backend=backend), backend, x, k, p=2, q=2)[0]
    want = F.max_pool2d(F.relu(F.conv2d(t(x), t(k), padding=1)), 2, 2).sum().numpy()
    np.testing.assert_allclose(got, want, **TOL)


VJP_CASES = [
    (
        "O[n, o, h, w] = X[n, c, h + kh, w + kw] * K[o, c, kh, kw]",
        [(2, 3, 7, 6), (4, 3, 3, 2)],
        lambda X, K: F.conv2d(X, K),
    ),
    (
        "O[n, o, h, w] = X[n, c, pad(h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]",
        [(2, 3, 6, 5), (4, 3, 3, 3)],
        lambda X, K: F.conv2d(X, K, padding=1),
    ),
    (
        "O[n, o, t] = X[n, c, t + 2*k] * K[o, c, k]",
        [(2, 3, 11), (4, 3, 3)],
        lambda X, K: F.conv1d(X, K, dilation=2),
    ),
    (
        "Y[n, c, t] = X[n, c, pad(t - k)] * K[c, k]",
        [(2, 3, 10), (3, 4)],
        lambda X, K: F.conv1d(F.pad(X, (3, 0)), K.flip(-1)[:, None, :], groups=3),
    ),
]


@pytest.mark.parametrize(
    ("source", "shapes", "reference"), VJP_CASES, ids=["valid", "same", "dilated", "causal"]
)
def test_vjp_of_convolutions(
    backend: str, source: str, shapes: list[tuple[int, ...]], reference: Any
) -> None:
    x, k = (randn(*shape, seed=n) for n, shape in enumerate(shapes))
    out = reference(t(x), t(k)).numpy()
    cotangent = randn(*out.shape, seed=5)
    got = call(tc.vjp(source, wrt=("X", "K"), backend=backend), backend, x, k, cotangent)
    want = torch_grads(reference, x, k, cotangent=cotangent)
    assert_all_close(got, want, [x.shape, k.shape])


def test_vjp_of_a_strided_conv_leaves_unread_rows_at_zero(backend: str) -> None:
    """H = 8 with a 3-wide kernel at stride 2 never reads row 7: its gradient is 0 and the
    gradient still has the input's shape (not the smallest target of the writes)."""
    x, k = randn(2, 3, 8, 7), randn(4, 3, 3, 2, seed=1)
    d_o = randn(2, 4, 3, 3, seed=2)
    f = tc.vjp(STRIDED_CONV, wrt=("X", "K"), backend=backend)
    got = call(f, backend, x, k, d_o)
    want = torch_grads(lambda X, K: F.conv2d(X, K, stride=2), x, k, cotangent=d_o)
    assert_all_close(got, want, [x.shape, k.shape])
    assert not got[0][:, :, 7, :].any()


def test_vjp_of_a_dilated_padded_strided_conv1d_is_jax_vjp(backend: str) -> None:
    x, k = randn(2, 3, 13), randn(4, 3, 3, seed=1)

    def conv(x: Any, k: Any) -> Any:
        return jax.lax.conv_general_dilated(x, k, (2,), [(2, 2)], rhs_dilation=(3,))

    out, vjp = jax.vjp(conv, jnp.asarray(x), jnp.asarray(k))
    d_o = randn(*out.shape, seed=2)
    want = [np.asarray(g) for g in vjp(jnp.asarray(d_o))]
    got = call(tc.vjp(DILATED_PADDED_CONV1D, wrt=("X", "K"), backend=backend), backend, x, k, d_o)
    assert_all_close(got, want, [x.shape, k.shape])


def test_vjp_of_a_transposed_conv(backend: str) -> None:
    x, k = randn(2, 3, 4, 5), randn(3, 4, 3, 3, seed=1)
    d_y = randn(2, 4, 9, 11, seed=2)
    got = call(tc.vjp(TRANSPOSED, wrt=("X", "K"), backend=backend), backend, x, k, d_y)
    want = torch_grads(lambda X, K: F.conv_transpose2d(X, K, stride=2), x, k, cotangent=d_y)
    assert_all_close(got, want, [x.shape, k.shape])


def test_jvp_of_a_conv(backend: str) -> None:
    source = "O[n, o, h, w] = X[n, c, pad(h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]"
    x, k = randn(2, 3, 6, 5), randn(4, 3, 3, 3, seed=1)
    dx, dk = randn(2, 3, 6, 5, seed=2), randn(4, 3, 3, 3, seed=3)
    out, tangent = call(tc.jvp(source, wrt=("X", "K"), backend=backend), backend, x, k, dx, dk)

    def conv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return F.conv2d(t(a), t(b), padding=1).numpy()

    np.testing.assert_allclose(out, conv(x, k), **TOL)
    np.testing.assert_allclose(tangent, conv(dx, k) + conv(x, dk), **TOL)


def test_grad_of_a_max_pool(backend: str) -> None:
    source = "P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw])\nL = sum[n, c, h, w](P[n, c, h, w] * G[n, c, h, w])"
    x, g = randn(2, 3, 7, 8), randn(2, 3, 3, 3, seed=1)  # (7 - 3) // 2 + 1, (8 - 3) // 2 + 1
    got = call(tc.grad(source, wrt="X", backend=backend), backend, x, g, kh=3, kw=3)
    want = torch_grads(lambda X: F.max_pool2d(X, 3, 2), x, cotangent=g)
    assert_all_close(got, want, [x.shape])


# ----------------------------------------------------------------------------- gathers and scatters


def test_vjp_of_a_gather_is_a_scatter_add(backend: str) -> None:
    w, ids = randn(10, 4), np.array([[3, 0, 3], [9, 3, 0]], dtype=np.int64)
    d_e = randn(2, 3, 4, seed=1)
    f = tc.vjp(EMBEDDING, wrt="W", backend=backend)
    assert "+=" in f.text, f"the derivative program is a scatter-add:\n{f.text}"
    got = call(f, backend, w, ids, d_e)
    want = torch_grads(lambda W, i: W[i], w, ids, cotangent=d_e)
    assert_all_close(got, want, [w.shape])
    _, vjp = jax.vjp(lambda W: jnp.take(W, jnp.asarray(ids), axis=0), jnp.asarray(w))
    np.testing.assert_allclose(got[0], np.asarray(vjp(jnp.asarray(d_e))[0]), **TOL)


def test_vjp_of_take_along_axis(backend: str) -> None:
    x, idx = randn(4, 6), np.array([[5, 0, 0], [1, 1, 1], [2, 4, 3], [5, 5, 0]], dtype=np.int32)
    d_g = randn(4, 3, seed=1)
    got = call(tc.vjp(TAKE_ALONG, wrt="X", backend=backend), backend, x, idx, d_g)
    want = torch_grads(lambda X, i: torch.gather(X, 1, i.long()), x, idx, cotangent=d_g)
    assert_all_close(got, want, [x.shape])


def test_vjp_of_a_scatter_add_is_a_gather(backend: str) -> None:
    seg, x = np.array([3, 0, 3, 9, 3, 0, 5], dtype=np.int64), randn(7, 4)
    d_s = randn(10, 4, seed=1)
    f = tc.vjp(SEGMENT_SUM, wrt="X", backend=backend)
    assert re.search(r"^dX\[.*=.*\[seg\[e\]", f.text, re.MULTILINE), f"a gather:\n{f.text}"
    got = call(f, backend, seg, x, d_s, s=10)

    def segment_sum(i: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return torch.zeros(10, 4, dtype=X.dtype).index_add(0, i, X)

    want = torch_grads(segment_sum, seg, x, cotangent=d_s)
    assert_all_close(got, want, [x.shape])
    grad = jax.grad(lambda X: jnp.sum(jnp.zeros((10, 4)).at[jnp.asarray(seg)].add(X) * d_s))
    np.testing.assert_allclose(got[0], np.asarray(grad(jnp.asarray(x))), **TOL)


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_grad_of_the_mean_cross_entropy(backend: str, offset: float) -> None:
    z, y = randn(6, 5) + offset, np.array([4, 0, 1, 1, 3, 2], dtype=np.int64)
    got = call(tc.grad(CROSS_ENTROPY, wrt="Z", backend=backend), backend, z, y)
    want = torch_grads(lambda Z, Y: F.cross_entropy(Z, Y), z, y)
    assert_all_close(got, want, [z.shape])


# ----------------------------------------------------------------------------- the host frameworks


def test_torch_autograd_flows_through_a_conv() -> None:
    x, k = randn(2, 3, 7, 6), randn(4, 3, 3, 2, seed=1)
    f = tc.compile("O[n, o, h, w] = X[n, c, h + kh, w + kw] * K[o, c, kh, kw]", backend="torch")
    got = torch_grads(lambda X, K: f(X, K).square().sum(), x, k)
    want = torch_grads(lambda X, K: F.conv2d(X, K).square().sum(), x, k)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, **TOL)


def test_jax_grad_flows_through_a_gather() -> None:
    w, ids = randn(10, 4), np.array([[3, 0, 3], [9, 3, 0]], dtype=np.int64)
    f = tc.compile(EMBEDDING, backend="jax")
    got = jax.grad(lambda W: jnp.sum(f(W, jnp.asarray(ids)) ** 2))(jnp.asarray(w))
    want = jax.grad(lambda W: jnp.sum(W[jnp.asarray(ids)] ** 2))(jnp.asarray(w))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)
