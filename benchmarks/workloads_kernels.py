"""Library kernels and compiled models (issue 11): an RMS norm against ``F.rms_norm``, and a
transformer block (attention, MLP, two layer norms) written in tensorc against the same block
written by hand in PyTorch, both eager and under ``torch.compile``, and in JAX under
``jax.jit``; ``tc.compile(..., jit=True)`` too.

``torch.compile`` takes tens of seconds per variant on a CPU, so the compiled variants run in
full runs only (``--quick`` skips them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.workloads import (
    TENSORC,
    Builder,
    Env,
    Fn,
    Sizes,
    Skip,
    Variant,
    Workload,
    _anchor,
    _hand,
    _normal,
    _per_framework,
)

GROUP = "contractions and layers"  # beside attention and layer norm
RMS_EPS = 1e-6
LAYER_NORM_EPS = 1e-5


def _compiled(build: Builder) -> Builder:
    """The variant `build` makes, through `torch.compile` (in full runs only)."""

    def compiled(env: Env) -> Fn:
        if env.quick:
            raise Skip("torch.compile takes tens of seconds: full runs only")
        return env.fw.xp.compile(build(env))

    return compiled


def _jit(source: str) -> Builder:
    """tc.compile(source, backend="torch", jit=True): each generated function through
    torch.compile (in full runs only)."""

    def build(env: Env) -> Fn:
        if env.quick:
            raise Skip("torch.compile takes tens of seconds: full runs only")
        return env.tc.compile(source, backend="torch", jit=True)

    return build


def _tensorc(env: Env) -> Fn:
    program = env.program
    if program is None:
        raise RuntimeError(f"tc.compile failed: {env.program_error}")
    return program


def _tensorc_jit(source: str) -> Variant:
    return Variant(
        "tensorc, jit=True",
        "tensorc-extra",
        _jit(source),
        "tc.compile(program, backend='torch', jit=True): the generated function, torch.compile-d",
        frameworks=("torch",),
    )


TENSORC_COMPILED = Variant(
    "tensorc, torch.compile",
    "tensorc-extra",
    _compiled(_tensorc),
    "torch.compile(f) of the tensorc function (one graph: AOTAutograd traces it)",
    frameworks=("torch",),
)


# ---------------------------------------------------------------------------------------
# RMS norm


RMS_NORM_SOURCE = "Y[n, c] = X[n, c] / sqrt(mean[c](X[n, c] ** 2) + 0.000001) * g[c]\n"


def _rms_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    return _normal(rng, s["n"], s["c"]) * 3 + 1, _normal(rng, s["c"])


def _rms_hand(env: Env) -> Fn:
    """The formula by hand: x * rsqrt(mean(x * x) + eps) * g."""
    if env.fw.name == "torch":
        torch = env.fw.xp
        return lambda x, g: x * torch.rsqrt((x * x).mean(-1, keepdim=True) + RMS_EPS) * g
    if env.fw.name == "jax":
        lax = env.fw.modules["jax"].lax
        return lambda x, g: x * lax.rsqrt((x * x).mean(-1, keepdims=True) + RMS_EPS) * g
    return lambda x, g: x / np.sqrt((x * x).mean(-1, keepdims=True) + RMS_EPS) * g


def _rms_library_torch(env: Env) -> Fn:
    rms_norm = env.fw.modules["F"].rms_norm
    return lambda x, g: rms_norm(x, (x.shape[-1],), g, RMS_EPS)


def _rms_library_jax(env: Env) -> Fn:
    jax = env.fw.modules["jax"]

    def rms_norm(x: Any, g: Any) -> Any:
        square = (x * x).mean(-1, keepdims=True)
        return jax.nn.standardize(x, axis=-1, mean=0, variance=square, epsilon=RMS_EPS) * g

    return rms_norm


rms_build, rms_frameworks = _per_framework(torch=_rms_library_torch, jax=_rms_library_jax)

RMS_NORM = Workload(
    name="rms_norm",
    title="RMS norm over the last axis, with gain",
    source=RMS_NORM_SOURCE,
    spec=None,
    sizes={"n": 2048, "c": 1024},
    quick_sizes={"n": 128, "c": 256},
    make_inputs=_rms_inputs,
    variants=(
        _hand(_rms_hand, "x * rsqrt(mean(x * x) + eps) * g"),
        TENSORC,
        _anchor(
            "library kernel",
            rms_build,
            "F.rms_norm / jax.nn.standardize(x, mean=0, variance=mean(x * x)) * g",
            frameworks=rms_frameworks,
        ),
        _tensorc_jit(RMS_NORM_SOURCE),
    ),
    pairs=(("tensorc", "library kernel"), ("tensorc, jit=True", "library kernel")),
    rtol=1e-4,
    group=GROUP,
)


# ---------------------------------------------------------------------------------------
# A transformer block: pre-norm attention and MLP, each with a residual


BLOCK_SOURCE = """\
H[b, t, d] = (X[b, t, d] - mean[d](X[b, t, d])) / sqrt(var[d](X[b, t, d]) + 0.00001) * g1[d] + c1[d]
Q[b, h, t, e] = H[b, t, d] * Wq[d, h, e]
K[b, h, s, e] = H[b, s, d] * Wk[d, h, e]
V[b, h, s, e] = H[b, s, d] * Wv[d, h, e]
S[b, h, t, s] = Q[b, h, t, e] * K[b, h, s, e] * 0.125
P[b, h, t, s] = softmax[s](S[b, h, t, s])
A[b, h, t, e] = P[b, h, t, s] * V[b, h, s, e]
R[b, t, d] = X[b, t, d] + sum[h, e](A[b, h, t, e] * Wo[h, e, d])
G[b, t, d] = (R[b, t, d] - mean[d](R[b, t, d])) / sqrt(var[d](R[b, t, d]) + 0.00001) * g2[d] + c2[d]
U[b, t, f] = gelu(sum[d](G[b, t, d] * W1[d, f]) + a1[f])
Y[b, t, d] = R[b, t, d] + sum[f](U[b, t, f] * W2[f, d]) + a2[d]
"""


def _block_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    """X, then (gain, bias) of the first norm, the four attention weights, (gain, bias) of the
    second norm, and the MLP's two weights and biases; weights scaled by 1/sqrt(fan-in)."""
    b, t, d, h, e, f = (s[k] for k in "btdhef")

    def weight(*shape: int) -> np.ndarray:
        fan_in = int(np.prod(shape[:-1])) if len(shape) == 2 else shape[0]
        return _normal(rng, *shape) / np.float32(np.sqrt(fan_in))

    def near(value: float, n: int) -> np.ndarray:
        return np.float32(value) + np.float32(0.1) * _normal(rng, n)

    attention = [weight(d, h, e) for _ in range(3)] + [weight(h * e, d).reshape(h, e, d)]
    mlp = [weight(d, f), near(0, f), weight(f, d), near(0, d)]
    return (_normal(rng, b, t, d), near(1, d), near(0, d), *attention, near(1, d), near(0, d), *mlp)


def _block_torch(env: Env) -> Fn:
    """An expert's block: F.layer_norm, F.scaled_dot_product_attention, F.gelu, matmuls."""
    functional = env.fw.modules["F"]

    def block(*args: Any) -> Any:
        x, g1, c1, wq, wk, wv, wo, g2, c2, w1, a1, w2, a2 = args
        b, t, d = x.shape
        h, e = wq.shape[1], wq.shape[2]

        def heads(w: Any) -> Any:
            return (hidden @ w.reshape(d, h * e)).view(b, t, h, e).transpose(1, 2)

        hidden = functional.layer_norm(x, (d,), g1, c1, LAYER_NORM_EPS)
        attended = functional.scaled_dot_product_attention(heads(wq), heads(wk), heads(wv))
        r = x + attended.transpose(1, 2).reshape(b, t, h * e) @ wo.reshape(h * e, d)
        g = functional.layer_norm(r, (d,), g2, c2, LAYER_NORM_EPS)
        return r + functional.gelu(g @ w1 + a1) @ w2 + a2

    return block


def _block_jax(env: Env) -> Fn:
    """The same block in JAX (jitted by the runner): jax.nn.standardize, dot_product_attention."""
    jax = env.fw.modules["jax"]

    def norm(x: Any, gain: Any, bias: Any) -> Any:
        return jax.nn.standardize(x, axis=-1, epsilon=LAYER_NORM_EPS) * gain + bias

    def block(*args: Any) -> Any:
        x, g1, c1, wq, wk, wv, wo, g2, c2, w1, a1, w2, a2 = args
        hidden = norm(x, g1, c1)
        q, k, v = (jax.numpy.einsum("btd,dhe->bthe", hidden, w) for w in (wq, wk, wv))
        attended = jax.nn.dot_product_attention(q, k, v)
        r = x + jax.numpy.einsum("bthe,hed->btd", attended, wo)
        return r + jax.nn.gelu(norm(r, g2, c2) @ w1 + a1, approximate=False) @ w2 + a2

    return block


block_hand, block_frameworks = _per_framework(torch=_block_torch, jax=_block_jax)

TRANSFORMER_BLOCK = Workload(
    name="transformer_block",
    title="A transformer block: layer norm, attention, residual, layer norm, MLP, residual",
    source=BLOCK_SOURCE,
    spec=None,
    sizes={"b": 8, "t": 256, "s": 256, "d": 512, "h": 8, "e": 64, "f": 2048},
    quick_sizes={"b": 2, "t": 64, "s": 64, "d": 128, "h": 2, "e": 64, "f": 512},
    make_inputs=_block_inputs,
    variants=(
        _hand(
            block_hand, "F.layer_norm, F.scaled_dot_product_attention, F.gelu, @", block_frameworks
        ),
        Variant("tensorc", "tensorc", _tensorc, TENSORC.description, frameworks=block_frameworks),
        Variant(
            "hand-written, torch.compile",
            "anchor",
            _compiled(_block_torch),
            "torch.compile of the hand-written block",
            frameworks=("torch",),
        ),
        TENSORC_COMPILED,
        _tensorc_jit(BLOCK_SOURCE),
    ),
    flops=lambda s: 2.0 * s["b"] * s["t"] * s["d"] * (4 * s["d"] + 2 * s["f"] + 2 * s["t"]),
    pairs=(
        ("tensorc", "hand-written"),
        ("tensorc, torch.compile", "hand-written, torch.compile"),
        ("tensorc, jit=True", "hand-written, torch.compile"),
    ),
    rtol=2e-4,
    group=GROUP,
)

WORKLOADS: tuple[Workload, ...] = (RMS_NORM, TRANSFORMER_BLOCK)
