"""Derivatives of programs with positions (CONTRACT §6 index arithmetic, §7 tensor-valued
indices): `tc.grad`, `tc.vjp` and `tc.jvp` on every backend against torch.autograd through
`F.conv*`/`F.max_pool2d`/indexing, `jax.grad` and `torch.func.jvp`, in float64 at 1e-10; the
derivative programs they write (a read at positions becomes a `+=` write there, a write a read);
and `tc.check` on such programs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from references import BACKENDS, to_backend, to_numpy

import tensorc as tc
from tensorc import ops

TOL: dict[str, float] = {"rtol": 1e-10, "atol": 1e-10}

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def call(f: Any, backend: str, *arrays: np.ndarray, **sizes: int) -> tuple[Any, ...]:
    """`f` called with the arrays on `backend`; its results as NumPy (nested tuples kept)."""
    result = f(*(to_backend(a, backend) for a in arrays), **sizes)
    if isinstance(result, tuple):
        return tuple(
            tuple(map(to_numpy, r)) if isinstance(r, tuple) else to_numpy(r) for r in result
        )
    return (to_numpy(result),)


def torch_vjp(
    fn: Callable[..., torch.Tensor], *arrays: np.ndarray, cotangent: np.ndarray | None = None
) -> list[np.ndarray]:
    """torch.autograd of fn(*arrays) with respect to each float array."""
    tensors = [torch.tensor(a).requires_grad_(a.dtype.kind == "f") for a in arrays]
    out = fn(*tensors)
    wrt = [x for x in tensors if x.requires_grad]
    seed = None if cotangent is None else torch.tensor(cotangent)
    return [g.numpy() for g in torch.autograd.grad(out, wrt, seed)]


def assert_close(got: tuple[Any, ...], want: list[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **TOL)


def body(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


# --- convolutions and pooling ------------------------------------------------------------

CONV_LAYER = """
C[n, o, h, w] = X[n, c, {h}, {w}] * K[o, c, kh, kw]
R[n, o, h, w] = relu(C[n, o, h, w])
P[n, o, u, v] = max[p, q](R[n, o, 2*u + p, 2*v + q])
L = sum[n, o, u, v](P[n, o, u, v])
"""
LAYERS = {  # the read of the input, and torch's conv2d arguments
    "stride 1, pad(e)": ("pad({i} + k{i} - 1)", {"padding": 1}),
    "stride 2, pad(e)": ("pad(2*{i} + k{i} - 1)", {"padding": 1, "stride": 2}),
    "stride 1, pad(e, p)": ("pad({i} + k{i} - 2, 2)", {"padding": 2}),
    "stride 2, pad(e, p)": ("pad(2*{i} + k{i} - 2, 2)", {"padding": 2, "stride": 2}),
    "stride 2, valid": ("2*{i} + k{i}", {"stride": 2}),
}


@pytest.mark.parametrize("layer", LAYERS)
def test_grad_of_a_conv_relu_max_pool_layer_is_torch_autograd(backend: str, layer: str) -> None:
    read, arguments = LAYERS[layer]
    source = CONV_LAYER.format(h=read.format(i="h"), w=read.format(i="w"))
    x, k = randn(2, 3, 9, 8), randn(4, 3, 3, 3, seed=1)
    got = call(tc.grad(source, wrt=("X", "K"), backend=backend), backend, x, k, p=2, q=2)

    def layer_of(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(F.conv2d(X, K, **arguments)), 2).sum()

    assert_close(got, torch_vjp(layer_of, x, k))


def test_the_gradient_of_a_conv_is_a_transposed_conv_and_a_conv(backend: str) -> None:
    source = "O[n, o, h, w] = X[n, c, pad(2*h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]"
    f = tc.vjp(source, wrt=("X", "K"), backend=backend)
    assert body(f.text)[1:] == [
        "dX[n, c, h_2, w_2] = 0 * X[n, c, h_2, w_2] ** 0",
        "dX[n, c, pad(2*h + kh - 1), pad(w + kw - 1)] += dO[n, o, h, w] * K[o, c, kh, kw]",
        "dK[o, c, kh, kw] = dO[n, o, h, w] * X[n, c, pad(2*h + kh - 1), pad(w + kw - 1)]",
        "return dX, dK",
    ]
    x, k, d_o = randn(2, 3, 8, 7), randn(4, 3, 3, 3, seed=1), randn(2, 4, 4, 7, seed=2)
    want = torch_vjp(lambda X, K: F.conv2d(X, K, stride=(2, 1), padding=1), x, k, cotangent=d_o)
    assert_close(call(f, backend, x, k, d_o), want)


def test_vjp_of_a_transposed_conv_reads_at_its_positions(backend: str) -> None:
    source = "Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * K[c, o, kh, kw]"
    f = tc.vjp(source, wrt=("X", "K"), backend=backend)
    assert "dX[n, c, h, w] = dY[n, o, 2*h + kh, 2*w + kw] * K[c, o, kh, kw]" in f.text
    x, k, d_y = randn(2, 3, 4, 5), randn(3, 2, 3, 3, seed=1), randn(2, 2, 9, 11, seed=2)
    want = torch_vjp(lambda X, K: F.conv_transpose2d(X, K, stride=2), x, k, cotangent=d_y)
    assert_close(call(f, backend, x, k, d_y), want)


def test_vjp_of_a_grouped_conv_writes_the_merged_axis_split(backend: str) -> None:
    source = "O[n, (g o), h] = X[n, (g c), pad(h + k - 1)] * W[(g o), c, k]"
    f = tc.vjp(source, wrt=("X", "W"), backend=backend)
    assert "dX_split[n, g, c, pad(h + k - 1)] += dO[n, (g o), h] * W[(g o), c, k]" in f.text
    x, w, d_o = randn(2, 6, 7), randn(4, 3, 3, seed=1), randn(2, 4, 7, seed=2)
    want = torch_vjp(lambda X, W: F.conv1d(X, W, padding=1, groups=2), x, w, cotangent=d_o)
    assert_close(call(f, backend, x, w, d_o, g=2), want)


def test_vjp_of_a_depthwise_causal_conv1d(backend: str) -> None:
    source = "Y[n, c, t] = X[n, c, pad(t - k)] * W[c, k]"
    x, w, d_y = randn(2, 5, 16), randn(5, 4, seed=1), randn(2, 5, 16, seed=2)

    def causal(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        return F.conv1d(F.pad(X, (3, 0)), W.flip(-1)[:, None, :], groups=5)

    got = call(tc.vjp(source, wrt=("X", "W"), backend=backend), backend, x, w, d_y)
    assert_close(got, torch_vjp(causal, x, w, cotangent=d_y))


def test_grad_of_an_overlapping_max_pool(backend: str) -> None:
    source = "P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw])\nL = sum[n, c, h, w](P[n, c, h, w] * G[n, c, h, w])"
    x, g = randn(2, 3, 9, 9), randn(2, 3, 4, 4, seed=1)
    got = call(tc.grad(source, wrt="X", backend=backend), backend, x, g, kh=3, kw=3)
    assert_close(got, torch_vjp(lambda X: F.max_pool2d(X, 3, 2), x, cotangent=g))


STENCILS = {
    "L[i, j] = U[pad(i - 1), j] + U[pad(i + 1), j] - 2 * U[i, j]": lambda U: (
        F.pad(U, (0, 0, 1, 1))[:-2] + F.pad(U, (0, 0, 1, 1))[2:] - 2 * U
    ),
    "L[i, j] = U[clamp(i - 1), j] * U[wrap(i + 2), j]": lambda U: (
        U[[0, 0, 1, 2, 3, 4, 5]] * U[[2, 3, 4, 5, 6, 0, 1]]
    ),
    "L[i, j] = U[pad(i - 1, 1), clamp(j + 1)]": lambda U: F.pad(U, (0, 0, 1, 1))[
        :, [1, 2, 3, 4, 4]
    ],
}


@pytest.mark.parametrize("source", STENCILS)
def test_vjp_of_a_stencil(backend: str, source: str) -> None:
    u = randn(7, 5)
    reference = STENCILS[source]
    d_l = randn(*reference(torch.tensor(u)).shape, seed=1)
    got = call(tc.vjp(source, wrt="U", backend=backend), backend, u, d_l)
    assert_close(got, torch_vjp(reference, u, cotangent=d_l))


def test_constant_positions_and_keepdims(backend: str) -> None:
    source = "first[i] = A[i, 0]\nS[i, 0] = sum[j](A[i, j]) * first[i]"
    a, d_s = randn(6, 4), randn(6, 1, seed=1)
    got = call(tc.vjp(source, wrt="A", backend=backend), backend, a, d_s)
    want = torch_vjp(lambda A: A.sum(1, keepdim=True) * A[:, :1], a, cotangent=d_s)
    assert_close(got, want)


# --- gathers and scatters ------------------------------------------------------------------

EMBEDDING = "E[b, t, d] = W[ids[b, t], d]"
SEGMENT_SUM = "S[s, d] = 0\nS[seg[e], d] += X[e, d]"
CROSS_ENTROPY = "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]\nL = mean[n](nll[n])"


def test_vjp_of_a_gather_is_a_scatter_add_and_duplicates_add_up(backend: str) -> None:
    f = tc.vjp(EMBEDDING, wrt="W", backend=backend)
    assert body(f.text)[1:] == [
        "dW[p, d] = 0 * W[p, d] ** 0",
        "dW[ids[b, t], d] += dE[b, t, d]",
        "return dW",
    ]
    w, ids, d_e = randn(6, 4), np.array([[3, 0, 3], [5, 3, 0]]), randn(2, 3, 4, seed=1)
    (got,) = call(f, backend, w, ids, d_e)
    assert_close((got,), torch_vjp(lambda W, i: W[i], w, ids, cotangent=d_e))
    np.testing.assert_allclose(got[3], d_e[0, 0] + d_e[0, 2] + d_e[1, 1], **TOL)
    _, vjp = jax.vjp(lambda W: jnp.take(W, jnp.asarray(ids), axis=0), jnp.asarray(w))
    np.testing.assert_allclose(got, np.asarray(vjp(jnp.asarray(d_e))[0]), **TOL)


def test_vjp_of_a_scatter_add_is_a_gather(backend: str) -> None:
    f = tc.vjp(SEGMENT_SUM, wrt="X", backend=backend)
    assert body(f.text)[-2:] == ["dX[e, d] = dS[seg[e], d]", "return dX"]
    seg, x, d_s = np.array([3, 0, 3, 2, 3]), randn(5, 2), randn(4, 2, seed=1)
    got = call(f, backend, seg, x, d_s, s=4)

    def segment_sum(i: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return torch.zeros(4, 2, dtype=X.dtype).index_add(0, i, X)

    assert_close(got, torch_vjp(segment_sum, seg, x, cotangent=d_s))
    grad = jax.grad(lambda X: jnp.sum(jnp.zeros((4, 2)).at[jnp.asarray(seg)].add(X) * d_s))
    np.testing.assert_allclose(got[0], np.asarray(grad(jnp.asarray(x))), **TOL)


def test_vjp_of_a_scatter_into_an_earlier_array(backend: str) -> None:
    """The array `+=` adds into gets the whole cotangent; the value read back at the written
    positions (after the write) gets it too."""
    source = (
        "S[s, d] = 2 * Q[s, d]\nS[seg[e], d] += X[e, d] * S[seg[e], d]\nT[s, d] = S[s, d] * Q[s, d]"
    )
    q, seg, x, d_t = randn(4, 3), np.array([1, 3, 1]), randn(3, 3, seed=1), randn(4, 3, seed=2)
    got = call(tc.vjp(source, wrt=("Q", "X"), backend=backend), backend, q, seg, x, d_t)

    def reference(Q: torch.Tensor, i: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        S = 2 * Q
        return S.index_add(0, i, X * S[i]) * Q

    assert_close(got, torch_vjp(reference, q, seg, x, cotangent=d_t))


def test_vjp_of_a_take_along_axis(backend: str) -> None:
    x, idx, d_g = randn(4, 6), np.array([[5, 0, 0], [1, 1, 1], [2, 4, 3], [5, 5, 0]]), randn(4, 3)
    got = call(tc.vjp("G[i, j] = X[i, idx[i, j]]", wrt="X", backend=backend), backend, x, idx, d_g)
    assert_close(got, torch_vjp(lambda X, i: torch.gather(X, 1, i), x, idx, cotangent=d_g))


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_grad_of_the_cross_entropy(backend: str, offset: float) -> None:
    z, y = randn(6, 5) + offset, np.array([4, 0, 1, 1, 3, 2])
    got = call(tc.grad(CROSS_ENTROPY, wrt="Z", backend=backend), backend, z, y)
    assert_close(got, torch_vjp(lambda Z, Y: F.cross_entropy(Z, Y), z, y))
    grad = jax.grad(
        lambda Z: -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(Z), jnp.asarray(y)[:, None], 1))
    )
    np.testing.assert_allclose(got[0], np.asarray(grad(jnp.asarray(z))), **TOL)


def test_integer_positions_get_a_zero_gradient(backend: str) -> None:
    f = tc.vjp(EMBEDDING, wrt=("W", "ids"), backend=backend)
    ids = np.array([[1, 0]])
    _, d_ids = call(f, backend, randn(2, 3), ids, randn(1, 2, 3, seed=1))
    assert d_ids.shape == ids.shape and not d_ids.any()


@pytest.mark.skipif("argmax" not in ops.OPS, reason="argmax is not in the operation table yet")
def test_argmax_has_no_derivative(backend: str) -> None:
    source = "a[i] = argmax[j](X[i, j])\nY[i] = X[i, a[i]]"
    x, d_y = randn(4, 5), randn(4, seed=1)
    got = call(tc.vjp(source, wrt="X", backend=backend), backend, x, d_y)
    want = np.zeros_like(x)
    want[np.arange(4), x.argmax(1)] = d_y
    assert_close(got, [want])


# --- forward mode --------------------------------------------------------------------------

JVPS: dict[str, tuple[tuple[np.ndarray, ...], Callable[..., torch.Tensor], dict[str, int]]] = {
    "O[n, o, h, w] = X[n, c, pad(2*h + kh - 1), pad(w + kw - 2, 2)] * K[o, c, kh, kw]": (
        (randn(2, 3, 8, 7), randn(4, 3, 3, 3, seed=1)),
        lambda X, K: F.conv2d(F.pad(X, (2, 2, 1, 1)), K, stride=(2, 1)),
        {},
    ),
    "Y[n, o, 2*h + kh] += X[n, c, h] * K[c, o, kh]": (
        (randn(2, 3, 5), randn(3, 2, 3, seed=1)),
        lambda X, K: F.conv_transpose1d(X, K, stride=2),
        {},
    ),
    "P[n, c, h] = max[k](X[n, c, 2*h + k])": (
        (randn(2, 3, 11),),
        lambda X: F.max_pool1d(X, 3, 2),
        {"k": 3},
    ),
    "L[i, j] = U[clamp(i - 1), j] * U[wrap(i + 2), j]": (
        (randn(7, 5),),
        lambda U: U[[0, 0, 1, 2, 3, 4, 5]] * U[[2, 3, 4, 5, 6, 0, 1]],
        {},
    ),
}


@pytest.mark.parametrize("source", JVPS)
def test_jvp_of_reads_and_writes_at_positions(backend: str, source: str) -> None:
    arrays, reference, sizes = JVPS[source]
    tangents = tuple(randn(*a.shape, seed=9 + k) for k, a in enumerate(arrays))
    names = tc.compile(source).inputs
    f = tc.jvp(source, wrt=names, backend=backend)
    out, tangent = call(f, backend, *arrays, *tangents, **sizes)
    want_out, want = torch.func.jvp(
        reference, tuple(map(torch.tensor, arrays)), tuple(map(torch.tensor, tangents))
    )
    np.testing.assert_allclose(out, want_out.numpy(), **TOL)
    np.testing.assert_allclose(tangent, want.numpy(), **TOL)


def test_jvp_of_a_gather_and_a_scatter_is_the_same_gather_and_scatter(backend: str) -> None:
    source = "E[e, d] = W[ids[e], d]\nS[s, d] = V[s, d]\nS[seg[e], d] += E[e, d]"
    f = tc.jvp(source, wrt=("W", "V"), backend=backend)
    assert "dE[e, d] = dW[ids[e], d]" in f.text
    assert "dS_2[seg[e], d] += dE[e, d]" in f.text
    w, ids, v, seg = randn(5, 2), np.array([4, 0, 4]), randn(3, 2, seed=1), np.array([2, 2, 0])
    dw, dv = randn(5, 2, seed=2), randn(3, 2, seed=3)
    out, tangent = call(f, backend, w, ids, v, seg, dw, dv)

    def reference(W: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        return V.index_add(0, torch.tensor(seg), W[torch.tensor(ids)])

    want_out, want = torch.func.jvp(
        reference, (torch.tensor(w), torch.tensor(v)), (torch.tensor(dw), torch.tensor(dv))
    )
    np.testing.assert_allclose(out, want_out.numpy(), **TOL)
    np.testing.assert_allclose(tangent, want.numpy(), **TOL)


def test_jvp_of_the_cross_entropy(backend: str) -> None:
    z, y, dz = randn(6, 5) + 1000, np.array([4, 0, 1, 1, 3, 2]), randn(6, 5, seed=1)
    out, tangent = call(tc.jvp(CROSS_ENTROPY, wrt="Z", backend=backend), backend, z, y, dz)
    want_out, want = torch.func.jvp(
        lambda Z: F.cross_entropy(Z, torch.tensor(y)), (torch.tensor(z),), (torch.tensor(dz),)
    )
    np.testing.assert_allclose(out, want_out.numpy(), **TOL)
    np.testing.assert_allclose(tangent, want.numpy(), **TOL)


# --- tc.check ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "O[n, o, h, w] = I[n, c, pad(2*h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]",
        "Y[n, o, 2*h + kh] += X[n, c, h] * W[c, o, kh]",
        "L[i, j] = U[pad(i - 1), j] + U[clamp(i + 1), j] - 2 * U[wrap(i + 2), j]",
        EMBEDDING,
        CROSS_ENTROPY,
        "G[i, j] = X[i, idx[i, j] + 1]",
    ],
)
def test_check_compares_the_gradients_of_programs_with_positions(backend: str, source: str) -> None:
    report = tc.check(source, backends=["numpy", backend])
    assert report.ok, str(report)
    if backend != "numpy":
        assert any(d.value.startswith("grad") for d in report.differences), str(report)
        assert not any(d.value in ("grad ids", "grad y", "grad idx") for d in report.differences)


def test_check_of_a_segment_sum(backend: str) -> None:
    report = tc.check(SEGMENT_SUM, sizes={"s": 4}, backends=["numpy", backend])
    assert report.ok, str(report)
    assert "S.0=4" in str(report)
