"""The benchmark workloads, as data: a tensorc program, inputs, and the code it competes with.

Each :class:`Workload` lists its :class:`Variant` s. A variant is one way of computing the
workload (hand-written framework code, the tensorc program, ``tc.einsum``, ``np.einsum``,
opt_einsum, einx, einops, a fused library kernel, ...) and knows how to build a callable for
each framework that can express it. The first variant is always the hand-written reference:
every other variant's result is checked against it before it is timed, and ratios are taken
against it.

Variant builders receive an :class:`Env` and return a callable taking the workload's inputs
positionally. On JAX, the runner wraps every variant in ``jax.jit`` unless ``jit=False``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from benchmarks.frameworks import FRAMEWORKS, Framework

# "reference": timed beside the others but not compared with them (a forward pass beside
# the gradients)
Role = Literal["hand", "tensorc", "tensorc-extra", "anchor", "reference"]
Fn = Callable[..., Any]
Sizes = Mapping[str, int]

# np.einsum without path optimisation (and einx / einops on NumPy, which call it that way)
# runs one nested C loop over every index: about 0.2 ns per multiply-add for two operands,
# about 5 ns per multiply-add and operand for more. Calls estimated slower than this many
# seconds are skipped.
NAIVE_EINSUM_LIMIT_S = {"quick": 0.05, "full": 2.0}
LAYER_NORM_EPS = 1e-5


class Skip(Exception):
    """Raised by a builder when a variant is deliberately not run (with the reason)."""


@dataclass(frozen=True)
class Env:
    """Everything a variant builder may need."""

    fw: Framework
    tc: Any  # the tensorc module
    program: Any  # tc.compile(workload.source, backend=fw.name), or None
    spec: str | None  # the workload's einsum subscripts, if it has one
    inputs: tuple[Any, ...]  # framework arrays
    sizes: Sizes
    quick: bool = False
    program_error: str | None = None  # why tc.compile failed, if it did
    keywords: Sizes = field(default_factory=dict)  # sizes the program takes by keyword


Builder = Callable[[Env], Fn]


@dataclass(frozen=True)
class Variant:
    key: str  # row name in the tables; the same across frameworks
    role: Role
    build: Builder
    description: str
    frameworks: tuple[str, ...] = FRAMEWORKS
    jit: bool = True  # on JAX: wrap in jax.jit


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    source: str | None  # the tensorc program
    spec: str | None  # equivalent einsum subscripts (None if not an einsum)
    sizes: Sizes
    quick_sizes: Sizes
    make_inputs: Callable[[np.random.Generator, Sizes], tuple[np.ndarray, ...]]
    variants: tuple[Variant, ...]
    flops: Callable[[Sizes], float] | None = None
    rtol: float = 1e-4
    memory: bool = False  # also measure peak memory (see benchmarks.memory)
    broadcast_bytes: Callable[[Sizes], int] | None = None  # size of a naive temporary
    # (numerator, denominator) variant keys whose ratio and difference are reported
    pairs: tuple[tuple[str, str], ...] = ()
    group: str = "contractions and layers"  # the report's heading for related workloads
    keywords: tuple[str, ...] = ()  # sizes passed to the tensorc program by keyword (kh=2)

    def keyword_sizes(self, sizes: Sizes) -> dict[str, int]:
        """The keyword arguments (sizes) that the tensorc program is called with."""
        return {name: sizes[name] for name in self.keywords}


# ---------------------------------------------------------------------------------------
# Inputs


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _uniform(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.random(shape, dtype=np.float32)


def _einsum_shapes(spec: str, sizes: Sizes) -> list[tuple[int, ...]]:
    operands = spec.split("->")[0].split(",")
    return [tuple(sizes[index] for index in operand) for operand in operands]


def _einsum_inputs(
    spec: str, *, positive: bool = False
) -> Callable[[np.random.Generator, Sizes], tuple[np.ndarray, ...]]:
    draw = _uniform if positive else _normal

    def make(rng: np.random.Generator, sizes: Sizes) -> tuple[np.ndarray, ...]:
        return tuple(draw(rng, *shape) for shape in _einsum_shapes(spec, sizes))

    return make


def naive_einsum_seconds(spec: str, sizes: Sizes) -> float:
    """Rough duration of np.einsum(spec, ..., optimize=False): one loop over all indices."""
    indices = set(spec.replace(",", "").replace("->", ""))
    macs = float(math.prod(sizes[index] for index in indices))
    operands = spec.count(",") + 1
    return macs * (0.2e-9 if operands <= 2 else 5e-9 * operands)


# ---------------------------------------------------------------------------------------
# Small helpers shared by hand-written code


def _per_framework(**fns: Builder) -> tuple[Builder, tuple[str, ...]]:
    """A builder dispatching on the framework, and the frameworks it supports."""

    def build(env: Env) -> Fn:
        return fns[env.fw.name](env)

    return build, tuple(fns)


def _softmax(env: Env) -> Callable[[Any], Any]:
    """The framework's idiomatic softmax over the last axis."""
    if env.fw.name == "torch":
        torch = env.fw.xp
        return lambda s: torch.softmax(s, dim=-1)
    if env.fw.name == "jax":
        jax = env.fw.modules["jax"]
        return lambda s: jax.nn.softmax(s, axis=-1)

    def softmax_np(s: np.ndarray) -> np.ndarray:
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    return softmax_np


def _relu(env: Env) -> Callable[[Any], Any]:
    if env.fw.name == "torch":
        return env.fw.xp.relu
    if env.fw.name == "jax":
        return env.fw.modules["jax"].nn.relu
    return lambda h: np.maximum(h, 0)


def _lax(env: Env) -> Any:
    """jax.lax, for hand-written JAX code."""
    return env.fw.modules["jax"].lax


def _matmul(env: Env) -> Fn:
    return lambda a, b: a @ b


def _spaced(spec: str) -> str:
    """'ab,bc->ac' -> 'a b, b c -> a c' (einx / einops notation)."""
    lhs, rhs = spec.split("->")
    return ", ".join(" ".join(op) for op in lhs.split(",")) + " -> " + " ".join(rhs)


def _require_naive_ok(env: Env, what: str) -> None:
    if env.fw.name == "numpy" and env.spec is not None:
        seconds = naive_einsum_seconds(env.spec, env.sizes)
        if seconds > NAIVE_EINSUM_LIMIT_S["quick" if env.quick else "full"]:
            raise Skip(
                f"{what} on NumPy runs one unoptimised loop over all indices "
                f"(about {seconds:.2g} s per call)"
            )


# ---------------------------------------------------------------------------------------
# Variants shared by many workloads


def _program(env: Env) -> Any:
    if env.program is None:
        raise RuntimeError(f"tc.compile failed: {env.program_error}")
    return env.program


def _spec(env: Env) -> str:
    if env.spec is None:
        raise Skip("the workload is not a single einsum")
    return env.spec


def _build_tensorc(env: Env) -> Fn:
    program = _program(env)
    if not env.keywords:
        return cast(Fn, program)
    keywords = dict(env.keywords)
    return lambda *inputs: program(*inputs, **keywords)


def _build_function_for(env: Env) -> Fn:
    return cast(Fn, _program(env).function_for(*env.inputs, **env.keywords))


def _build_tc_einsum(env: Env) -> Fn:
    tc, spec = env.tc, _spec(env)
    return lambda *ops: tc.einsum(spec, *ops)


def _build_einsum(env: Env) -> Fn:
    spec = _spec(env)
    if env.fw.name == "numpy":
        _require_naive_ok(env, "np.einsum(optimize=False)")
        return lambda *ops: np.einsum(spec, *ops)
    einsum = env.fw.xp.einsum
    return lambda *ops: einsum(spec, *ops)


def _build_np_einsum_opt(env: Env) -> Fn:
    spec = _spec(env)
    return lambda *ops: np.einsum(spec, *ops, optimize=True)


def _build_oe_contract(env: Env) -> Fn:
    import opt_einsum

    spec = _spec(env)
    return lambda *ops: opt_einsum.contract(spec, *ops)


def _build_oe_expression(env: Env) -> Fn:
    import opt_einsum

    spec = _spec(env)
    return opt_einsum.contract_expression(spec, *_einsum_shapes(spec, env.sizes))


def _build_einx_dot(env: Env) -> Fn:
    import einx

    _require_naive_ok(env, "einx.dot (np.einsum underneath)")
    pattern = _spaced(_spec(env))
    return lambda *ops: einx.dot(pattern, *ops)


def _build_einops_einsum(env: Env) -> Fn:
    import einops

    _require_naive_ok(env, "einops.einsum (np.einsum underneath)")
    pattern = _spaced(_spec(env))
    einsum: Fn = einops.einsum  # typed for up to four operands; takes any number
    return lambda *ops: einsum(*ops, pattern)


TENSORC = Variant(
    "tensorc",
    "tensorc",
    _build_tensorc,
    "f = tc.compile(program, backend=...); f(*inputs) (jax.jit(f) on JAX)",
)
FUNCTION_FOR = Variant(
    "tensorc: function_for",
    "tensorc-extra",
    _build_function_for,
    "f.function_for(*inputs): the generated function, without the call checks",
)
TC_EINSUM = Variant("tc.einsum", "tensorc-extra", _build_tc_einsum, "tc.einsum(spec, *inputs)")
EINSUM = Variant(
    "einsum",
    "anchor",
    _build_einsum,
    "np.einsum (optimize=False, NumPy's default) / torch.einsum / jnp.einsum",
)
NP_EINSUM_OPT = Variant(
    "np.einsum(optimize=True)",
    "anchor",
    _build_np_einsum_opt,
    "np.einsum(spec, *inputs, optimize=True)",
    frameworks=("numpy",),
)
OE_CONTRACT = Variant(
    "opt_einsum.contract",
    "anchor",
    _build_oe_contract,
    "opt_einsum.contract(spec, *inputs): plans the path on every call",
)
OE_EXPRESSION = Variant(
    "opt_einsum expression",
    "anchor",
    _build_oe_expression,
    "opt_einsum.contract_expression(spec, *shapes), built once, then called",
)
EINX_DOT = Variant("einx", "anchor", _build_einx_dot, "einx.dot('a b, b c -> a c', ...)")
EINOPS_EINSUM = Variant(
    "einops.einsum", "anchor", _build_einops_einsum, "einops.einsum(*inputs, 'a b, b c -> a c')"
)

EINSUM_FAMILY: tuple[Variant, ...] = (
    TC_EINSUM,
    EINSUM,
    NP_EINSUM_OPT,
    OE_CONTRACT,
    OE_EXPRESSION,
    EINX_DOT,
    EINOPS_EINSUM,
)


def _hand(build: Builder, description: str, frameworks: tuple[str, ...] = FRAMEWORKS) -> Variant:
    return Variant("hand-written", "hand", build, description, frameworks=frameworks)


def _anchor(
    key: str, build: Builder, description: str, frameworks: tuple[str, ...] = FRAMEWORKS
) -> Variant:
    return Variant(key, "anchor", build, description, frameworks=frameworks)


def _bmm_flops(sizes: Sizes) -> float:
    return 2.0 * sizes["b"] * sizes["i"] * sizes["j"] * sizes["k"]


# ---------------------------------------------------------------------------------------
# 1. Tiny matmul: call overhead


TINY = Workload(
    name="tiny",
    title="Call overhead: (2x3) @ (3x4)",
    source="C[i, k] = A[i, j] * B[j, k]",
    spec="ij,jk->ik",
    sizes={"i": 2, "j": 3, "k": 4},
    quick_sizes={"i": 2, "j": 3, "k": 4},
    make_inputs=_einsum_inputs("ij,jk->ik"),
    variants=(
        _hand(_matmul, "a @ b"),
        TENSORC,
        FUNCTION_FOR,
        *EINSUM_FAMILY,
        Variant(
            "hand-written (no jax.jit)",
            "anchor",
            _matmul,
            "a @ b, not wrapped in jax.jit (op-by-op dispatch)",
            frameworks=("jax",),
            jit=False,
        ),
        Variant(
            "tensorc (no jax.jit)",
            "tensorc-extra",
            _build_tensorc,
            "f(a, b), not wrapped in jax.jit (the generated function may jit itself)",
            frameworks=("jax",),
            jit=False,
        ),
        Variant(
            "tensorc: function_for (no jax.jit)",
            "tensorc-extra",
            _build_function_for,
            "f.function_for(a, b), not wrapped in jax.jit",
            frameworks=("jax",),
            jit=False,
        ),
    ),
    pairs=(
        ("tensorc", "tensorc: function_for"),
        ("tensorc (no jax.jit)", "tensorc: function_for (no jax.jit)"),
        ("tensorc", "hand-written"),
        ("tc.einsum", "einsum"),
        ("tc.einsum", "np.einsum(optimize=True)"),
    ),
)

# ---------------------------------------------------------------------------------------
# 2. Batched matmul


def _bmm_hand(env: Env) -> Fn:
    if env.fw.name == "torch":
        return env.fw.xp.bmm
    return env.fw.xp.matmul


BMM_SOURCE = "C[b, i, k] = A[b, i, j] * B[b, j, k]"

BMM = Workload(
    name="bmm",
    title="Batched matmul",
    source=BMM_SOURCE,
    spec="bij,bjk->bik",
    sizes={"b": 64, "i": 256, "j": 256, "k": 256},
    quick_sizes={"b": 8, "i": 64, "j": 64, "k": 64},
    make_inputs=_einsum_inputs("bij,bjk->bik"),
    variants=(_hand(_bmm_hand, "np.matmul / torch.bmm / jnp.matmul"), TENSORC, *EINSUM_FAMILY),
    flops=_bmm_flops,
    pairs=(("tc.einsum", "einsum"),),
)

LARGE_BMM = Workload(
    name="large_bmm",
    title="Large batched matmul (GFLOP/s)",
    source=BMM_SOURCE,
    spec="bij,bjk->bik",
    sizes={"b": 32, "i": 512, "j": 512, "k": 512},
    quick_sizes={"b": 4, "i": 128, "j": 128, "k": 128},
    make_inputs=_einsum_inputs("bij,bjk->bik"),
    variants=(
        _hand(_bmm_hand, "np.matmul / torch.bmm / jnp.matmul"),
        TENSORC,
        TC_EINSUM,
        EINSUM,
        OE_EXPRESSION,
    ),
    flops=_bmm_flops,
    rtol=2e-4,
)

# ---------------------------------------------------------------------------------------
# 3. Batched outer product


def _outer_hand(env: Env) -> Fn:
    return lambda x, y: x[:, :, None] * y[:, None, :]


def _outer_einx(env: Env) -> Fn:
    import einx

    return lambda x, y: einx.multiply("b i, b j -> b i j", x, y)


OUTER = Workload(
    name="outer",
    title="Batched outer product",
    source="D[b, i, j] = x[b, i] * y[b, j]",
    spec="bi,bj->bij",
    sizes={"b": 64, "i": 256, "j": 256},
    quick_sizes={"b": 8, "i": 64, "j": 64},
    make_inputs=_einsum_inputs("bi,bj->bij"),
    variants=(
        _hand(_outer_hand, "x[:, :, None] * y[:, None, :]"),
        TENSORC,
        TC_EINSUM,
        EINSUM,
        NP_EINSUM_OPT,
        OE_CONTRACT,
        OE_EXPRESSION,
        _anchor("einx", _outer_einx, "einx.multiply('b i, b j -> b i j', x, y)"),
        EINOPS_EINSUM,
    ),
)

# ---------------------------------------------------------------------------------------
# 4. Matrix chain with one small inner size: the contraction order matters


def _chain_hand(env: Env) -> Fn:
    return lambda a, b, c, d: a @ b @ c @ d


def _chain_multi_dot(env: Env) -> Fn:
    multi_dot = env.fw.xp.linalg.multi_dot
    return lambda a, b, c, d: multi_dot([a, b, c, d])


CHAIN = Workload(
    name="chain4",
    title="4-matrix chain ab,bc,cd,de->ae (c small)",
    source="R[a, e] = A[a, b] * B[b, c] * C[c, d] * D[d, e]",
    spec="ab,bc,cd,de->ae",
    sizes={"a": 512, "b": 512, "c": 8, "d": 512, "e": 512},
    quick_sizes={"a": 128, "b": 128, "c": 4, "d": 128, "e": 128},
    make_inputs=_einsum_inputs("ab,bc,cd,de->ae", positive=True),
    variants=(
        _hand(_chain_hand, "a @ b @ c @ d (left to right)"),
        TENSORC,
        _anchor(
            "multi_dot",
            _chain_multi_dot,
            "np/torch/jnp .linalg.multi_dot([a, b, c, d]): optimal order",
        ),
        *EINSUM_FAMILY,
    ),
    rtol=2e-4,
    pairs=(("tc.einsum", "einsum"),),
)

# ---------------------------------------------------------------------------------------
# 5. A six-tensor network contracted to a scalar

NETWORK_SPEC = "xsb,btc,yud,dvc,stuv,xy->"


def _network_hand(env: Env) -> Fn:
    return _build_oe_expression(env)


NETWORK = Workload(
    name="network",
    title="Tensor network xsb,btc,yud,dvc,stuv,xy-> (all sizes D)",
    source="z = A[x, s, b] * B[b, t, c] * C[y, u, d] * D[d, v, c] * E[s, t, u, v] * F[x, y]",
    spec=NETWORK_SPEC,
    sizes=dict.fromkeys("xsbtcyudv", 32),
    quick_sizes=dict.fromkeys("xsbtcyudv", 8),
    make_inputs=_einsum_inputs(NETWORK_SPEC, positive=True),
    variants=(
        _hand(_network_hand, "opt_einsum.contract_expression(spec, *shapes), prebuilt"),
        TENSORC,
        TC_EINSUM,
        EINSUM,
        NP_EINSUM_OPT,
        OE_CONTRACT,
        EINX_DOT,
        EINOPS_EINSUM,
    ),
    rtol=1e-3,
    pairs=(("tc.einsum", "einsum"), ("tc.einsum", "np.einsum(optimize=True)")),
)

# ---------------------------------------------------------------------------------------
# 6. Explicit sum of products: must not materialise the broadcast product


def _broadcast_sum(env: Env) -> Fn:
    if env.fw.name == "torch":
        return lambda a, b: (a[:, :, None] * b[None, :, :]).sum(dim=1)
    return lambda a, b: (a[:, :, None] * b[None, :, :]).sum(axis=1)


SUM_OF_PRODUCTS = Workload(
    name="sum_of_products",
    title="C[i, k] = sum[j](A[i, j] * B[j, k]) vs A @ B",
    source="C[i, k] = sum[j](A[i, j] * B[j, k])",
    spec="ij,jk->ik",
    sizes={"i": 512, "j": 512, "k": 512},
    quick_sizes={"i": 128, "j": 128, "k": 128},
    make_inputs=_einsum_inputs("ij,jk->ik"),
    variants=(
        _hand(_matmul, "a @ b"),
        TENSORC,
        _anchor(
            "broadcast-then-sum",
            _broadcast_sum,
            "(a[:, :, None] * b[None, :, :]).sum(1): the literal semantics",
        ),
        *EINSUM_FAMILY,
    ),
    flops=lambda s: 2.0 * s["i"] * s["j"] * s["k"],
    memory=True,
    broadcast_bytes=lambda s: 4 * s["i"] * s["j"] * s["k"],
)

# ---------------------------------------------------------------------------------------
# 7. Attention

ATTENTION_SOURCE = """\
S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] / 8
P[b, h, i, j] = softmax[j](S[b, h, i, j])
O[b, h, i, d] = P[b, h, i, j] * V[b, h, j, d]
"""  # the 8 is sqrt(d) for d = 64


def _attention_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    assert s["d"] == 64, "ATTENTION_SOURCE hard-codes sqrt(d) = 8"
    return tuple(_normal(rng, s["b"], s["h"], s["n"], s["d"]) for _ in range(3))


def _attention_hand(env: Env) -> Fn:
    softmax = _softmax(env)
    if env.fw.name == "torch":
        return lambda q, k, v: softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])) @ v
    return lambda q, k, v: softmax(q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])) @ v


def _attention_fused_torch(env: Env) -> Fn:
    return env.fw.modules["F"].scaled_dot_product_attention


def _attention_fused_jax(env: Env) -> Fn:
    jax = env.fw.modules["jax"]

    def attention(q: Any, k: Any, v: Any) -> Any:  # jax wants (batch, seq, heads, dim)
        bnhd = [t.transpose(0, 2, 1, 3) for t in (q, k, v)]
        return jax.nn.dot_product_attention(*bnhd).transpose(0, 2, 1, 3)

    return attention


def _attention_einsum(env: Env) -> Fn:
    einsum, softmax = env.fw.xp.einsum, _softmax(env)

    def attention(q: Any, k: Any, v: Any) -> Any:
        s = einsum("bhid,bhjd->bhij", q, k) / math.sqrt(q.shape[-1])
        return einsum("bhij,bhjd->bhid", softmax(s), v)

    return attention


def _attention_einx(env: Env) -> Fn:
    import einx

    def attention(q: Any, k: Any, v: Any) -> Any:
        s = einx.dot("b h i d, b h j d -> b h i j", q, k) / math.sqrt(q.shape[-1])
        return einx.dot("b h i j, b h j d -> b h i d", einx.softmax("b h i [j]", s), v)

    return attention


def _attention_einops(env: Env) -> Fn:
    import einops

    softmax = _softmax(env)

    def attention(q: Any, k: Any, v: Any) -> Any:
        s = einops.einsum(q, k, "b h i d, b h j d -> b h i j") / math.sqrt(q.shape[-1])
        return einops.einsum(softmax(s), v, "b h i j, b h j d -> b h i d")

    return attention


fused_build, fused_frameworks = _per_framework(
    torch=_attention_fused_torch, jax=_attention_fused_jax
)

ATTENTION = Workload(
    name="attention",
    title="Attention softmax(QK^T/sqrt(d))V",
    source=ATTENTION_SOURCE,
    spec=None,
    sizes={"b": 8, "h": 8, "n": 256, "d": 64},
    quick_sizes={"b": 2, "h": 2, "n": 64, "d": 64},
    make_inputs=_attention_inputs,
    variants=(
        _hand(_attention_hand, "softmax(q @ k^T / sqrt(d)) @ v, eager (jitted on JAX)"),
        TENSORC,
        _anchor(
            "fused attention",
            fused_build,
            "F.scaled_dot_product_attention / jax.nn.dot_product_attention",
            frameworks=fused_frameworks,
        ),
        _anchor("einsum", _attention_einsum, "two backend einsums + the backend softmax"),
        _anchor("einx", _attention_einx, "einx.dot, einx.softmax('b h i [j]'), einx.dot"),
        _anchor("einops.einsum", _attention_einops, "two einops.einsum + the backend softmax"),
    ),
    flops=lambda s: 4.0 * s["b"] * s["h"] * s["n"] * s["n"] * s["d"],
    rtol=2e-4,
)

# ---------------------------------------------------------------------------------------
# 8. Layer norm

LAYER_NORM_SOURCE = """\
mu[n] = mean[c](X[n, c])
var[n] = mean[c]((X[n, c] - mu[n]) ** 2)
Y[n, c] = (X[n, c] - mu[n]) / sqrt(var[n] + 0.00001) * g[c] + b[c]
"""


def _layer_norm_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    x = _normal(rng, s["n"], s["c"]) * 3 + 1
    return x, _normal(rng, s["c"]), _normal(rng, s["c"])


def _layer_norm_hand(env: Env) -> Fn:
    """The program's math by hand: two-pass mean of squared deviations."""
    sqrt = env.fw.xp.sqrt
    if env.fw.name == "torch":

        def layer_norm_torch(x: Any, g: Any, b: Any) -> Any:
            xc = x - x.mean(dim=-1, keepdim=True)
            var = (xc * xc).mean(dim=-1, keepdim=True)
            return xc / sqrt(var + LAYER_NORM_EPS) * g + b

        return layer_norm_torch

    def layer_norm(x: Any, g: Any, b: Any) -> Any:
        xc = x - x.mean(axis=-1, keepdims=True)
        var = (xc * xc).mean(axis=-1, keepdims=True)
        return xc / sqrt(var + LAYER_NORM_EPS) * g + b

    return layer_norm


def _layer_norm_var(env: Env) -> Fn:
    """The same with the framework's var() (torch.var is a slow Welford reduction on CPU)."""
    sqrt = env.fw.xp.sqrt
    if env.fw.name == "torch":

        def layer_norm_torch(x: Any, g: Any, b: Any) -> Any:
            mu = x.mean(dim=-1, keepdim=True)
            var = x.var(dim=-1, unbiased=False, keepdim=True)
            return (x - mu) / sqrt(var + LAYER_NORM_EPS) * g + b

        return layer_norm_torch

    def layer_norm(x: Any, g: Any, b: Any) -> Any:
        mu = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        return (x - mu) / sqrt(var + LAYER_NORM_EPS) * g + b

    return layer_norm


def _layer_norm_library_torch(env: Env) -> Fn:
    layer_norm = env.fw.modules["F"].layer_norm
    return lambda x, g, b: layer_norm(x, (x.shape[-1],), g, b, LAYER_NORM_EPS)


def _layer_norm_library_jax(env: Env) -> Fn:
    standardize = env.fw.modules["jax"].nn.standardize
    return lambda x, g, b: standardize(x, axis=-1, epsilon=LAYER_NORM_EPS) * g + b


def _layer_norm_einx(env: Env) -> Fn:
    import einx

    sqrt = env.fw.xp.sqrt

    def layer_norm(x: Any, g: Any, b: Any) -> Any:
        xc = einx.subtract("n c, n", x, einx.mean("n [c]", x))
        inv = 1 / sqrt(einx.mean("n [c]", xc * xc) + LAYER_NORM_EPS)
        return einx.add("n c, c", einx.multiply("n c, c", einx.multiply("n c, n", xc, inv), g), b)

    return layer_norm


ln_build, ln_frameworks = _per_framework(
    torch=_layer_norm_library_torch, jax=_layer_norm_library_jax
)

LAYER_NORM = Workload(
    name="layer_norm",
    title="Layer norm over the last axis, with gain and bias",
    source=LAYER_NORM_SOURCE,
    spec=None,
    sizes={"n": 2048, "c": 1024},
    quick_sizes={"n": 128, "c": 256},
    make_inputs=_layer_norm_inputs,
    variants=(
        _hand(_layer_norm_hand, "xc = x - mean(x); xc / sqrt(mean(xc * xc) + eps) * g + b"),
        TENSORC,
        _anchor("with .var()", _layer_norm_var, "(x - x.mean()) / sqrt(x.var() + eps) * g + b"),
        _anchor(
            "library kernel",
            ln_build,
            "F.layer_norm / jax.nn.standardize(x) * g + b",
            frameworks=ln_frameworks,
        ),
        _anchor("einx", _layer_norm_einx, "einx.mean / subtract / multiply / add"),
    ),
    pairs=(("tensorc", "library kernel"),),
    rtol=1e-4,
)

# ---------------------------------------------------------------------------------------
# 9. Softmax


def _softmax_hand(env: Env) -> Fn:
    return _softmax(env)


def _softmax_scipy(env: Env) -> Fn:
    try:
        from scipy.special import softmax
    except ImportError as exc:
        raise Skip("scipy is not installed") from exc
    return lambda x: softmax(x, axis=-1)


def _softmax_einx(env: Env) -> Fn:
    import einx

    return lambda x: einx.softmax("n [c]", x)


SOFTMAX = Workload(
    name="softmax",
    title="Softmax over the last axis",
    source="Y[n, c] = softmax[c](X[n, c])",
    spec=None,
    sizes={"n": 2048, "c": 1024},
    quick_sizes={"n": 128, "c": 256},
    make_inputs=lambda rng, s: (_normal(rng, s["n"], s["c"]) * 4,),
    variants=(
        _hand(_softmax_hand, "exp(x - max) / sum (NumPy) / torch.softmax / jax.nn.softmax"),
        TENSORC,
        _anchor(
            "scipy.special.softmax",
            _softmax_scipy,
            "scipy.special.softmax(x, axis=-1)",
            frameworks=("numpy",),
        ),
        _anchor("einx", _softmax_einx, "einx.softmax('n [c]', x)"),
    ),
)

# ---------------------------------------------------------------------------------------
# 10. MLP layer

MLP_SPEC = "ni,io->no"


def _mlp_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    w = _normal(rng, s["i"], s["o"]) / np.float32(math.sqrt(s["i"]))
    return _normal(rng, s["n"], s["i"]), w, _normal(rng, s["o"])


def _mlp_hand(env: Env) -> Fn:
    relu = _relu(env)
    return lambda x, w, b: relu(x @ w + b)


def _mlp_linear(env: Env) -> Fn:
    linear = env.fw.modules["F"].linear
    return lambda x, w, b: linear(x, w.T, b).relu_()


def _mlp_with(contract: Callable[[Env], Fn]) -> Builder:
    def build(env: Env) -> Fn:
        dot, relu = contract(env), _relu(env)
        return lambda x, w, b: relu(dot(x, w) + b)

    return build


def _mlp_einsum(env: Env) -> Fn:
    einsum = env.fw.xp.einsum
    return lambda x, w: einsum(MLP_SPEC, x, w)


def _mlp_einx(env: Env) -> Fn:
    import einx

    return lambda x, w: einx.dot("n i, i o -> n o", x, w)


def _mlp_einops(env: Env) -> Fn:
    import einops

    return lambda x, w: einops.einsum(x, w, "n i, i o -> n o")


def _mlp_oe(env: Env) -> Fn:
    import opt_einsum

    return lambda x, w: opt_einsum.contract(MLP_SPEC, x, w)


MLP = Workload(
    name="mlp",
    title="MLP layer relu(x @ W + b)",
    source="Y[n, o] = relu(sum[i](X[n, i] * W[i, o]) + b[o])",
    spec=None,
    sizes={"n": 512, "i": 1024, "o": 1024},
    quick_sizes={"n": 64, "i": 128, "o": 128},
    make_inputs=_mlp_inputs,
    variants=(
        _hand(_mlp_hand, "relu(x @ w + b)"),
        TENSORC,
        _anchor("F.linear", _mlp_linear, "F.linear(x, w.T, b).relu_()", frameworks=("torch",)),
        _anchor("einsum", _mlp_with(_mlp_einsum), "relu(einsum('ni,io->no', x, w) + b)"),
        _anchor("opt_einsum.contract", _mlp_with(_mlp_oe), "relu(opt_einsum.contract(...) + b)"),
        _anchor("einx", _mlp_with(_mlp_einx), "relu(einx.dot('n i, i o -> n o', x, w) + b)"),
        _anchor("einops.einsum", _mlp_with(_mlp_einops), "relu(einops.einsum(...) + b)"),
    ),
    flops=lambda s: 2.0 * s["n"] * s["i"] * s["o"],
    rtol=2e-4,
)

# ---------------------------------------------------------------------------------------
# Compile time (measured separately by the runner)

COMPILE_NAME = "compile"
COMPILE_TEMPLATE = """\
H[n, o] = X[n, i] * W[i, o]
Z[n, o] = relu(H[n, o] + b[o])
y[n] = sum[o](Z[n, o]) * {constant}
"""
COMPILE_SIZES: Sizes = {"n": 4, "i": 3, "o": 5}


def compile_inputs(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    s = COMPILE_SIZES
    return _normal(rng, s["n"], s["i"]), _normal(rng, s["i"], s["o"]), _normal(rng, s["o"])


def compile_source(counter: int) -> str:
    """A fresh three-statement program per counter value, so the compile cache misses."""
    return COMPILE_TEMPLATE.format(constant=f"{1 + counter / 1e6:.6f}")


# ---------------------------------------------------------------------------------------

# The workloads of this module, in report order; benchmarks.catalog lists every module's.
WORKLOADS: tuple[Workload, ...] = (
    TINY,
    BMM,
    OUTER,
    CHAIN,
    NETWORK,
    SUM_OF_PRODUCTS,
    ATTENTION,
    LAYER_NORM,
    SOFTMAX,
    MLP,
    LARGE_BMM,
)
