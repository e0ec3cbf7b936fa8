"""The losses of the derivative benchmarks (`workloads_gradients`): each as a tensorc program
and written by hand in PyTorch, JAX and (where its gradient is short to derive) NumPy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.workloads import Env, Fn


@dataclass(frozen=True)
class Loss:
    """A scalar loss: its tensorc program, the inputs it is differentiated along (names and
    positions among the program's inputs), and the loss written by hand per framework."""

    source: str
    wrt: tuple[str, ...]
    positions: tuple[int, ...]
    torch: Callable[[Env], Fn]  # the loss as torch code (differentiable)
    jax: Callable[[Env], Fn]
    numpy: Callable[[Env], Fn] | None = None  # the loss alone, NumPy
    numpy_grad: Callable[[Env], Fn] | None = None  # its gradient, derived by hand


EPS = 1e-5
SCALE = 0.125  # the attention's 1 / sqrt(64), at every size


def _softmax_np(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _logsumexp_np(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(z - top).sum(axis=-1, keepdims=True)))[..., 0]


# --- a two-layer MLP, softmax cross-entropy with one-hot labels ---------------------------

MLP_SOURCE = """\
A[b, h] = X[b, i] * W1[i, h]
H[b, h] = relu(A[b, h] + b1[h])
Z[b, o] = H[b, h] * W2[h, o]
l[b] = logsumexp[o](Z[b, o]) - sum[o](Y[b, o] * Z[b, o])
L = mean[b](l[b])
"""


def _mlp_torch(env: Env) -> Fn:
    torch = env.fw.xp

    def loss(x: Any, w1: Any, b1: Any, w2: Any, y: Any) -> Any:
        z = torch.relu(x @ w1 + b1) @ w2
        return (torch.logsumexp(z, 1) - (y * z).sum(1)).mean()

    return loss


def _mlp_jax(env: Env) -> Fn:
    jax, jnp = env.fw.modules["jax"], env.fw.xp

    def loss(x: Any, w1: Any, b1: Any, w2: Any, y: Any) -> Any:
        z = jax.nn.relu(x @ w1 + b1) @ w2
        return jnp.mean(jax.nn.logsumexp(z, 1) - (y * z).sum(1))

    return loss


def _mlp_numpy(env: Env) -> Fn:
    def loss(x: Any, w1: Any, b1: Any, w2: Any, y: Any) -> Any:
        z = np.maximum(x @ w1 + b1, 0) @ w2
        return np.mean(_logsumexp_np(z) - (y * z).sum(1))

    return loss


def _mlp_numpy_grad(env: Env) -> Fn:
    def gradient(x: Any, w1: Any, b1: Any, w2: Any, y: Any) -> Any:
        a = x @ w1 + b1
        h = np.maximum(a, 0)
        dz = (_softmax_np(h @ w2) - y) / np.float32(len(x))
        da = np.where(a > 0, dz @ w2.T, 0)
        return x.T @ da, h.T @ dz

    return gradient


# --- multi-head attention, the weighted sum of its output ---------------------------------

ATTENTION_SOURCE = f"""\
S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] * {SCALE}
O[b, h, i, d] = softmax[j](S[b, h, i, j]) * V[b, h, j, d]
L = sum[b, h, i, d](O[b, h, i, d] * G[b, h, i, d])
"""


def _attention_torch(env: Env) -> Fn:
    torch = env.fw.xp

    def loss(q: Any, k: Any, v: Any, g: Any) -> Any:
        p = torch.softmax(q @ k.transpose(-1, -2) * SCALE, -1)
        return ((p @ v) * g).sum()

    return loss


def attention_fused(env: Env) -> Fn:
    """torch.autograd.grad of the fused kernel's output against the weights G."""
    torch, sdpa = env.fw.xp, env.fw.modules["F"].scaled_dot_product_attention

    def gradient(q: Any, k: Any, v: Any, g: Any) -> Any:
        leaves = [x.detach().requires_grad_() for x in (q, k, v)]
        return torch.autograd.grad((sdpa(*leaves, scale=SCALE) * g).sum(), leaves)

    return gradient


def _attention_jax(env: Env) -> Fn:
    jax = env.fw.modules["jax"]

    def loss(q: Any, k: Any, v: Any, g: Any) -> Any:
        p = jax.nn.softmax(q @ k.swapaxes(-1, -2) * SCALE, -1)
        return ((p @ v) * g).sum()

    return loss


def _attention_numpy(env: Env) -> Fn:
    def loss(q: Any, k: Any, v: Any, g: Any) -> Any:
        return ((_softmax_np(q @ k.swapaxes(-1, -2) * SCALE) @ v) * g).sum()

    return loss


def _attention_numpy_grad(env: Env) -> Fn:
    def gradient(q: Any, k: Any, v: Any, g: Any) -> Any:
        p = _softmax_np(q @ k.swapaxes(-1, -2) * np.float32(SCALE))
        dp = g @ v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * np.float32(SCALE)
        return ds @ k, ds.swapaxes(-1, -2) @ q, p.swapaxes(-1, -2) @ g

    return gradient


# --- layer norm -----------------------------------------------------------------------------

LAYER_NORM_SOURCE = f"""\
m[b] = mean[f](X[b, f])
v[b] = mean[f]((X[b, f] - m[b]) ** 2)
Y[b, f] = (X[b, f] - m[b]) / sqrt(v[b] + {EPS}) * g[f] + be[f]
L = sum[b, f](Y[b, f] * G[b, f])
"""


def _layer_norm_torch(env: Env) -> Fn:
    torch = env.fw.xp

    def loss(x: Any, g: Any, be: Any, w: Any) -> Any:
        c = x - x.mean(1, keepdim=True)
        y = c / torch.sqrt((c * c).mean(1, keepdim=True) + EPS) * g + be
        return (y * w).sum()

    return loss


def layer_norm_fused(env: Env) -> Fn:
    """torch.autograd.grad of F.layer_norm against the weights G."""
    torch, layer_norm = env.fw.xp, env.fw.modules["F"].layer_norm

    def gradient(x: Any, g: Any, be: Any, w: Any) -> Any:
        x, g = x.detach().requires_grad_(), g.detach().requires_grad_()
        y = layer_norm(x, (x.shape[1],), g, be, EPS)
        return torch.autograd.grad((y * w).sum(), (x, g))

    return gradient


def _layer_norm_jax(env: Env) -> Fn:
    jnp = env.fw.xp

    def loss(x: Any, g: Any, be: Any, w: Any) -> Any:
        c = x - x.mean(1, keepdims=True)
        y = c / jnp.sqrt((c * c).mean(1, keepdims=True) + EPS) * g + be
        return (y * w).sum()

    return loss


def _layer_norm_numpy(env: Env) -> Fn:
    def loss(x: Any, g: Any, be: Any, w: Any) -> Any:
        c = x - x.mean(1, keepdims=True)
        return ((c / np.sqrt((c * c).mean(1, keepdims=True) + EPS) * g + be) * w).sum()

    return loss


def _layer_norm_numpy_grad(env: Env) -> Fn:
    def gradient(x: Any, g: Any, be: Any, w: Any) -> Any:
        c = x - x.mean(1, keepdims=True)
        rstd = 1 / np.sqrt((c * c).mean(1, keepdims=True) + np.float32(EPS))
        normed = c * rstd
        dn = w * g
        dx = rstd * (dn - dn.mean(1, keepdims=True) - normed * (dn * normed).mean(1, keepdims=True))
        return dx, (w * normed).sum(0)

    return gradient


# --- conv 3x3 (same) -> relu -> max pool 2x2 --------------------------------------------------

CONV_SOURCE = """\
C[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]
R[n, o, h, w] = relu(C[n, o, h, w])
P[n, o, y, x] = max[ph, pw](R[n, o, 2*y + ph, 2*x + pw])
L = sum[n, o, y, x](P[n, o, y, x] * G[n, o, y, x])
"""


def _conv_torch(env: Env) -> Fn:
    F = env.fw.modules["F"]

    def loss(i: Any, k: Any, g: Any) -> Any:
        return (F.max_pool2d(F.relu(F.conv2d(i, k, padding=1)), 2) * g).sum()

    return loss


def _conv_jax(env: Env) -> Fn:
    jax = env.fw.modules["jax"]
    lax = jax.lax

    def loss(i: Any, k: Any, g: Any) -> Any:
        c = lax.conv_general_dilated(
            i, k, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")
        )
        p = lax.reduce_window(jax.nn.relu(c), -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return (p * g).sum()

    return loss


# --- embedding, linear classifier, cross-entropy ----------------------------------------------

EMBEDDING_SOURCE = """\
E[b, t, d] = W[ids[b, t], d]
Z[b, t, c] = E[b, t, d] * U[d, c]
L = mean[b, t](logsumexp[c](Z[b, t, c]) - Z[b, t, y[b, t]])
"""


def _embedding_torch(env: Env) -> Fn:
    F = env.fw.modules["F"]

    def loss(w: Any, ids: Any, u: Any, y: Any) -> Any:
        z = F.embedding(ids, w) @ u
        return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1))

    return loss


def _embedding_jax(env: Env) -> Fn:
    jax, jnp = env.fw.modules["jax"], env.fw.xp

    def loss(w: Any, ids: Any, u: Any, y: Any) -> Any:
        logp = jax.nn.log_softmax(w[ids] @ u)
        return -jnp.mean(jnp.take_along_axis(logp, y[..., None], -1))

    return loss


def _embedding_numpy(env: Env) -> Fn:
    def loss(w: Any, ids: Any, u: Any, y: Any) -> Any:
        z = np.take(w, ids, axis=0) @ u
        return np.mean(_logsumexp_np(z) - np.take_along_axis(z, y[..., None], -1)[..., 0])

    return loss


def _embedding_numpy_grad(env: Env) -> Fn:
    def gradient(w: Any, ids: Any, u: Any, y: Any) -> Any:
        e = np.take(w, ids, axis=0).reshape(-1, w.shape[1])
        dz = _softmax_np(e @ u)
        dz[np.arange(len(dz)), y.reshape(-1)] -= 1
        dz /= np.float32(len(dz))
        dw = np.zeros_like(w)
        np.add.at(dw, ids.reshape(-1), dz @ u.T)
        return dw, e.T @ dz

    return gradient


MLP = Loss(MLP_SOURCE, ("W1", "W2"), (1, 3), _mlp_torch, _mlp_jax, _mlp_numpy, _mlp_numpy_grad)
ATTENTION = Loss(
    ATTENTION_SOURCE,
    ("Q", "K", "V"),
    (0, 1, 2),
    _attention_torch,
    _attention_jax,
    _attention_numpy,
    _attention_numpy_grad,
)
LAYER_NORM = Loss(
    LAYER_NORM_SOURCE,
    ("X", "g"),
    (0, 1),
    _layer_norm_torch,
    _layer_norm_jax,
    _layer_norm_numpy,
    _layer_norm_numpy_grad,
)
CONV = Loss(CONV_SOURCE, ("I", "K"), (0, 1), _conv_torch, _conv_jax)
EMBEDDING = Loss(
    EMBEDDING_SOURCE,
    ("W", "U"),
    (0, 2),
    _embedding_torch,
    _embedding_jax,
    _embedding_numpy,
    _embedding_numpy_grad,
)
LOSSES = {"grad_mlp": MLP, "grad_attention": ATTENTION, "grad_layer_norm": LAYER_NORM}
LOSSES |= {"grad_conv_relu_pool": CONV, "grad_embedding_cross_entropy": EMBEDDING}
