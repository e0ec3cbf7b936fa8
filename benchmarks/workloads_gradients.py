"""Derivatives (issue 13): `tc.grad` and `tc.vjp` of a scalar loss against each framework's
autograd of the same hand-written computation: PyTorch eager (`torch.autograd.grad`), JAX
(`jax.jit(jax.grad(...))`) and `torch.func.grad`; on NumPy, which has no autograd, against
the gradient derived by hand where it is short. Each workload also times the loss alone
(hand-written and tensorc), so that gradient ÷ forward is visible, and measures peak memory.

The losses: a two-layer MLP with softmax cross-entropy, multi-head attention (a weighted sum
of its output, so the cotangent is a given array), a layer norm, a conv -> relu -> max pool
layer, and an embedding lookup followed by a linear classifier and cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import gradient_losses as losses
from benchmarks.gradient_losses import Loss
from benchmarks.workloads import (
    TENSORC,
    Env,
    Fn,
    Sizes,
    Variant,
    Workload,
    _anchor,
    _build_tensorc,
    _hand,
    _normal,
)

GROUP = "contractions and layers"  # the layers whose gradients these are
HAND = "hand-written"
FORWARD_HAND = "forward (hand-written)"
FORWARD_TC = "forward (tensorc)"


def _loss(env: Env, loss: Loss) -> Fn:
    build = {"torch": loss.torch, "jax": loss.jax, "numpy": loss.numpy}[env.fw.name]
    assert build is not None
    return build(env)


def _autograd(loss: Loss) -> Callable[[Env], Fn]:
    def build(env: Env) -> Fn:
        if env.fw.name == "numpy":
            assert loss.numpy_grad is not None
            return loss.numpy_grad(env)
        f = _loss(env, loss)
        if env.fw.name == "jax":
            return env.fw.modules["jax"].grad(f, argnums=loss.positions)
        autograd = env.fw.xp.autograd

        def gradient(*inputs: Any) -> Any:
            leaves = list(inputs)
            for k in loss.positions:
                leaves[k] = inputs[k].detach().requires_grad_()
            return autograd.grad(f(*leaves), [leaves[k] for k in loss.positions])

        return gradient

    return build


def _func_grad(loss: Loss) -> Callable[[Env], Fn]:
    def build(env: Env) -> Fn:
        import torch.func

        return torch.func.grad(_loss(env, loss), argnums=loss.positions)

    return build


def _forward(loss: Loss) -> Callable[[Env], Fn]:
    def build(env: Env) -> Fn:
        f = _loss(env, loss)
        if env.fw.name != "torch":
            return f
        no_grad = env.fw.xp.no_grad

        def forward(*inputs: Any) -> Any:
            with no_grad():
                return f(*inputs)

        return forward

    return build


def _tc_grad(loss: Loss) -> Callable[[Env], Fn]:
    def build(env: Env) -> Fn:
        f: Fn = env.tc.grad(loss.source, wrt=loss.wrt, backend=env.fw.name)
        return f

    return build


def _tc_vjp(loss: Loss) -> Callable[[Env], Fn]:
    def build(env: Env) -> Fn:
        v = env.tc.vjp(loss.source, wrt=loss.wrt, backend=env.fw.name)
        one = env.fw.xp.ones((), dtype=env.fw.xp.float32)
        return lambda *inputs: v(*inputs, one)

    return build


def _variants(loss: Loss, *anchors: Variant) -> tuple[Variant, ...]:
    wrt = ", ".join(loss.wrt)
    hand_frameworks = ("numpy", "torch", "jax") if loss.numpy_grad else ("torch", "jax")
    return (
        _hand(
            _autograd(loss),
            "torch.autograd.grad of the hand-written loss (eager) / jax.grad of it (jax.jit) "
            "/ its gradient derived by hand (NumPy)",
            frameworks=hand_frameworks,
        ),
        Variant(TENSORC.key, "tensorc", _tc_grad(loss), f"tc.grad(program, wrt=({wrt})) (jax.jit)"),
        Variant(
            "tc.vjp",
            "tensorc-extra",
            _tc_vjp(loss),
            f"tc.vjp(program, wrt=({wrt})) with the cotangent 1 of the loss",
        ),
        _anchor(
            "torch.func.grad",
            _func_grad(loss),
            "torch.func.grad(hand-written loss, argnums=...)",
            frameworks=("torch",),
        ),
        *anchors,
        Variant(
            FORWARD_HAND,
            "reference",
            _forward(loss),
            "the hand-written loss alone (torch.no_grad() / jax.jit)",
            frameworks=hand_frameworks,
        ),
        Variant(FORWARD_TC, "reference", _build_tensorc, "tc.compile(program): the loss alone"),
    )


PAIRS = (
    (TENSORC.key, HAND),
    ("tc.vjp", HAND),
    (TENSORC.key, FORWARD_TC),
    (HAND, FORWARD_HAND),
)


def _workload(
    name: str,
    title: str,
    loss: Loss,
    sizes: Sizes,
    quick_sizes: Sizes,
    make_inputs: Callable[[np.random.Generator, Sizes], tuple[np.ndarray, ...]],
    *anchors: Variant,
) -> Workload:
    return Workload(
        name=name,
        title=title,
        source=loss.source,
        spec=None,
        sizes=sizes,
        quick_sizes=quick_sizes,
        make_inputs=make_inputs,
        variants=_variants(loss, *anchors),
        rtol=1e-3,
        memory=True,
        pairs=PAIRS,
        group=GROUP,
    )


# --- the workloads ----------------------------------------------------------------------


def _mlp_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    labels = rng.integers(0, s["o"], s["b"])
    return (
        _normal(rng, s["b"], s["i"]),
        _normal(rng, s["i"], s["h"]) / np.float32(np.sqrt(s["i"])),
        _normal(rng, s["h"]) * np.float32(0.1),
        _normal(rng, s["h"], s["o"]) / np.float32(np.sqrt(s["h"])),
        np.eye(s["o"], dtype=np.float32)[labels],
    )


GRAD_MLP = _workload(
    "grad_mlp",
    "Gradient of a two-layer MLP's softmax cross-entropy w.r.t. W1, W2",
    losses.MLP,
    {"b": 512, "i": 256, "h": 512, "o": 64},
    {"b": 32, "i": 16, "h": 32, "o": 8},
    _mlp_inputs,
)


def _attention_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    shape = (s["b"], s["h"], s["n"], s["d"])
    return tuple(_normal(rng, *shape) for _ in range(4))


GRAD_ATTENTION = _workload(
    "grad_attention",
    "Gradient of multi-head attention w.r.t. Q, K, V",
    losses.ATTENTION,
    {"b": 8, "h": 8, "n": 256, "d": 64},
    {"b": 2, "h": 2, "n": 16, "d": 8},
    _attention_inputs,
    _anchor(
        "SDPA autograd",
        losses.attention_fused,
        "torch.autograd.grad of F.scaled_dot_product_attention (the fused kernel)",
        frameworks=("torch",),
    ),
)


def _layer_norm_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    return (
        _normal(rng, s["b"], s["f"]),
        _normal(rng, s["f"]),
        _normal(rng, s["f"]),
        _normal(rng, s["b"], s["f"]),
    )


GRAD_LAYER_NORM = _workload(
    "grad_layer_norm",
    "Gradient of a layer norm w.r.t. its input and gain",
    losses.LAYER_NORM,
    {"b": 4096, "f": 1024},
    {"b": 16, "f": 32},
    _layer_norm_inputs,
    _anchor(
        "F.layer_norm autograd",
        losses.layer_norm_fused,
        "torch.autograd.grad of F.layer_norm (the library kernel)",
        frameworks=("torch",),
    ),
)


def _conv_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    return (
        _normal(rng, s["n"], s["c"], s["H"], s["H"]),
        _normal(rng, s["o"], s["c"], 3, 3) / np.float32(np.sqrt(9 * s["c"])),
        _normal(rng, s["n"], s["o"], s["H"] // 2, s["H"] // 2),
    )


GRAD_CONV = _workload(
    "grad_conv_relu_pool",
    "Gradient of conv 3x3 -> relu -> max pool 2x2 w.r.t. the input and the kernel",
    losses.CONV,
    {"n": 8, "c": 16, "o": 32, "H": 32},
    {"n": 2, "c": 3, "o": 4, "H": 8},
    _conv_inputs,
)


def _embedding_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    return (
        _normal(rng, s["v"], s["d"]),
        rng.integers(0, s["v"], (s["b"], s["t"]), dtype=np.int64),
        _normal(rng, s["d"], s["c"]) / np.float32(np.sqrt(s["d"])),
        rng.integers(0, s["c"], (s["b"], s["t"]), dtype=np.int64),
    )


GRAD_EMBEDDING = _workload(
    "grad_embedding_cross_entropy",
    "Gradient of an embedding, a linear classifier and cross-entropy w.r.t. both tables",
    losses.EMBEDDING,
    {"v": 10_000, "d": 128, "b": 32, "t": 64, "c": 1000},
    {"v": 50, "d": 8, "b": 2, "t": 4, "c": 10},
    _embedding_inputs,
)

WORKLOADS: tuple[Workload, ...] = (
    GRAD_MLP,
    GRAD_ATTENTION,
    GRAD_LAYER_NORM,
    GRAD_CONV,
    GRAD_EMBEDDING,
)
