"""Sharded workloads (issue 12): tensorc programs laid out over a device mesh by `shard=`,
each beside the same computation written by hand in JAX with explicit `NamedSharding`s.

The benchmark (`python -m benchmarks.sharding`) and the tests on 8 simulated devices
(tests/sharding/_devices.py) both use these. Import this module only in a process whose
`XLA_FLAGS` asked for the devices before JAX started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

Sizes = Mapping[str, int]
Spec = tuple[str | None, ...]  # the entries of a PartitionSpec
EPS = 1e-5


@dataclass(frozen=True)
class Hand:
    """What hand-written sharded JAX code needs: the mesh, and whether its axes are explicit
    (then values are resharded and split contractions get `out_sharding`; otherwise values
    are constrained and the partitioner propagates)."""

    mesh: Any
    explicit: bool

    def sharding(self, spec: Spec) -> NamedSharding:
        return NamedSharding(self.mesh, P(*spec))

    def on(self, x: Any, *spec: str | None) -> Any:
        """`x` laid out as `spec` says."""
        if self.explicit:
            return jax.reshard(x, P(*spec))
        return jax.lax.with_sharding_constraint(x, self.sharding(spec))

    def einsum(self, equation: str, *operands: Any, out: Spec) -> Any:
        """`jnp.einsum` with its result laid out as `out`."""
        if self.explicit:
            return jnp.einsum(equation, *operands, out_sharding=P(*out))
        return self.on(jnp.einsum(equation, *operands), *out)

    def jit(self, function: Callable[..., Any], ins: tuple[Spec, ...], out: Spec) -> Any:
        """`function` under `jax.jit`, its inputs and output placed by NamedShardings."""
        return jax.jit(
            function,
            in_shardings=tuple(self.sharding(spec) for spec in ins),
            out_shardings=self.sharding(out),
        )


@dataclass(frozen=True)
class ShardedCase:
    """A tensorc program with its `shard=`, the PartitionSpecs of its inputs and output, and
    the same computation written by hand (`hand(Hand) -> function of the inputs`)."""

    name: str
    title: str
    source: str
    shard: Mapping[str, str]
    shapes: Callable[[Sizes], tuple[tuple[int, ...], ...]]
    specs: tuple[Spec, ...]
    out: Spec
    hand: Callable[[Hand], Callable[..., Any]]
    sizes: Sizes  # small: the tests
    bench_sizes: Sizes  # the benchmark

    def inputs(self, sizes: Sizes, seed: int = 0) -> tuple[np.ndarray, ...]:
        """float32 inputs: the first standard normal, each later one (a weight) divided by
        the square root of its size without its last axis, so that products stay near 1."""
        rng = np.random.default_rng(seed)
        arrays = []
        for k, shape in enumerate(self.shapes(sizes)):
            scale = np.float32(np.sqrt(np.prod(shape[:-1]))) if k else np.float32(1)
            arrays.append(rng.standard_normal(shape, dtype=np.float32) / scale)
        return tuple(arrays)

    def placed(self, hand: Hand, sizes: Sizes) -> tuple[Any, ...]:
        """The inputs on the mesh, each laid out as its spec says."""
        return tuple(
            jax.device_put(array, hand.sharding(spec))
            for array, spec in zip(self.inputs(sizes), self.specs, strict=True)
        )

    def hand_jitted(self, hand: Hand) -> Any:
        return hand.jit(self.hand(hand), self.specs, self.out)


# --- batched matmul: batch on data, rows on model: no communication -----------------------


def _bmm(h: Hand) -> Callable[..., Any]:
    def bmm(a: Any, b: Any) -> Any:
        return h.einsum("bij,bjk->bik", a, b, out=("data", "model", None))

    return bmm


BMM = ShardedCase(
    name="sharded_bmm",
    title="batched matmul, b on data, i on model",
    source="C[b, i, k] = A[b, i, j] * B[b, j, k]",
    shard={"b": "data", "i": "model"},
    shapes=lambda s: ((s["b"], s["i"], s["j"]), (s["b"], s["j"], s["k"])),
    specs=(("data", "model", None), ("data", None, None)),
    out=("data", "model", None),
    hand=_bmm,
    sizes={"b": 4, "i": 16, "j": 24, "k": 8},
    bench_sizes={"b": 8, "i": 256, "j": 256, "k": 256},
)


# --- Megatron MLP: the hidden index on model; the second product sums over it -------------


def _mlp(h: Hand) -> Callable[..., Any]:
    def mlp(x: Any, w1: Any, w2: Any) -> Any:
        hidden = h.einsum("bnd,df->bnf", x, w1, out=("data", None, "model"))
        hidden = jax.nn.gelu(hidden, approximate=False)
        return h.einsum("bnf,fd->bnd", hidden, w2, out=("data", None, None))

    return mlp


MLP = ShardedCase(
    name="sharded_mlp",
    title="Megatron MLP, b on data, hidden f on model",
    source="""H[b, n, f] = gelu(sum[d](X[b, n, d] * W1[d, f]))
Y[b, n, d] = H[b, n, f] * W2[f, d]""",
    shard={"b": "data", "f": "model"},
    shapes=lambda s: ((s["b"], s["n"], s["d"]), (s["d"], s["f"]), (s["f"], s["d"])),
    specs=(("data", None, None), (None, "model"), ("model", None)),
    out=("data", None, None),
    hand=_mlp,
    sizes={"b": 4, "n": 8, "d": 16, "f": 32},
    bench_sizes={"b": 8, "n": 128, "d": 256, "f": 1024},
)


# --- multi-head attention: batch on data, heads on model -----------------------------------


def _attention(h: Hand) -> Callable[..., Any]:
    def attention(x: Any, wq: Any, wk: Any, wv: Any, wo: Any) -> Any:
        heads = ("data", "model", None, None)
        q = h.einsum("bie,ehd->bhid", x, wq, out=heads)
        k = h.einsum("bje,ehd->bhjd", x, wk, out=heads)
        v = h.einsum("bje,ehd->bhjd", x, wv, out=heads)
        s = jnp.einsum("bhid,bhjd->bhij", q, k) * 0.25
        a = jnp.einsum("bhij,bhjd->bhid", jax.nn.softmax(s, axis=-1), v)
        return h.einsum("bhid,hde->bie", a, wo, out=("data", None, None))

    return attention


ATTENTION = ShardedCase(
    name="sharded_attention",
    title="multi-head attention, b on data, heads h on model",
    source="""Q[b, h, i, d] = X[b, i, e] * Wq[e, h, d]
K[b, h, j, d] = X[b, j, e] * Wk[e, h, d]
V[b, h, j, d] = X[b, j, e] * Wv[e, h, d]
S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] * 0.25
A[b, h, i, d] = softmax[j](S[b, h, i, j]) * V[b, h, j, d]
Y[b, i, e] = A[b, h, i, d] * Wo[h, d, e]""",
    shard={"b": "data", "h": "model"},
    shapes=lambda s: (
        (s["b"], s["i"], s["e"]),
        *((s["e"], s["h"], s["d"]),) * 3,
        (s["h"], s["d"], s["e"]),
    ),
    specs=(("data", None, None), *((None, "model", None),) * 3, ("model", None, None)),
    out=("data", None, None),
    hand=_attention,
    sizes={"b": 2, "i": 8, "e": 16, "h": 4, "d": 4},
    bench_sizes={"b": 8, "i": 128, "e": 256, "h": 8, "d": 32},
)


# --- layer norm: batch on data, the normalised index on model (two all-reduces) -----------


def _layer_norm(h: Hand) -> Callable[..., Any]:
    def layer_norm(x: Any, g: Any, beta: Any) -> Any:
        m = jnp.mean(x, axis=-1, keepdims=True)
        v = jnp.mean((x - m) ** 2, axis=-1, keepdims=True)
        return h.on((x - m) / jnp.sqrt(v + EPS) * g + beta, "data", None, "model")

    return layer_norm


LAYER_NORM = ShardedCase(
    name="sharded_layer_norm",
    title="layer norm, b on data, normalised d on model",
    source="""m[b, n] = mean[d](X[b, n, d])
v[b, n] = mean[d]((X[b, n, d] - m[b, n]) ** 2)
Y[b, n, d] = (X[b, n, d] - m[b, n]) / sqrt(v[b, n] + 1e-5) * g[d] + beta[d]""",
    shard={"b": "data", "d": "model"},
    shapes=lambda s: ((s["b"], s["n"], s["d"]), (s["d"],), (s["d"],)),
    specs=(("data", None, "model"), ("model",), ("model",)),
    out=("data", None, "model"),
    hand=_layer_norm,
    sizes={"b": 4, "n": 8, "d": 16},
    bench_sizes={"b": 8, "n": 512, "d": 1024},
)


# --- convolution: images on data, output channels on model ---------------------------------


def _conv(h: Hand) -> Callable[..., Any]:
    def conv(x: Any, w: Any) -> Any:
        kernel = w.shape[-1]
        pads = ((1, kernel - 2),) * 2  # pad(h + kh - 1): rows h - 1 ... h + kernel - 2
        numbers = ("NCHW", "OIHW", "NCHW")
        extra = {"out_sharding": P("data", "model", None, None)} if h.explicit else {}
        y = jax.lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=numbers, **extra)
        return h.on(y, "data", "model", None, None)

    return conv


CONV = ShardedCase(
    name="sharded_conv",
    title="conv2d, n on data, output channels o on model",
    source="O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]",
    shard={"n": "data", "o": "model"},
    shapes=lambda s: ((s["n"], s["c"], s["H"], s["H"]), (s["o"], s["c"], s["k"], s["k"])),
    specs=(("data", None, None, None), ("model", None, None, None)),
    out=("data", "model", None, None),
    hand=_conv,
    sizes={"n": 4, "c": 3, "H": 8, "o": 8, "k": 3},
    bench_sizes={"n": 8, "c": 32, "H": 32, "o": 64, "k": 3},
)


# --- a transformer block: data parallel over b, tensor parallel over heads and hidden -------


def _transformer(h: Hand) -> Callable[..., Any]:
    def layer_norm(x: Any, g: Any) -> Any:
        m = jnp.mean(x, axis=-1, keepdims=True)
        return (x - m) / jnp.sqrt(jnp.var(x, axis=-1, keepdims=True) + EPS) * g

    def block(*weights: Any) -> Any:
        x, g1, wq, wk, wv, wo, g2, w1, w2 = weights
        xn, heads, rows = layer_norm(x, g1), ("data", "model", None, None), ("data", None, None)
        q = h.einsum("bne,ehd->bhnd", xn, wq, out=heads)
        k = h.einsum("bme,ehd->bhmd", xn, wk, out=heads)
        v = h.einsum("bme,ehd->bhmd", xn, wv, out=heads)
        s = jnp.einsum("bhnd,bhmd->bhnm", q, k) * 0.125
        a = jnp.einsum("bhnm,bhmd->bhnd", jax.nn.softmax(s, axis=-1), v)
        r = x + h.einsum("bhnd,hde->bne", a, wo, out=rows)
        hidden = h.einsum("bne,ef->bnf", layer_norm(r, g2), w1, out=("data", None, "model"))
        return r + h.einsum("bnf,fe->bne", jax.nn.gelu(hidden, approximate=False), w2, out=rows)

    return block


TRANSFORMER_SOURCE = """\
Xn[b, n, e] = (X[b, n, e] - mean[e](X[b, n, e])) / sqrt(var[e](X[b, n, e]) + 1e-5) * g1[e]
Q[b, h, n, d] = Xn[b, n, e] * Wq[e, h, d]
K[b, h, m, d] = Xn[b, m, e] * Wk[e, h, d]
V[b, h, m, d] = Xn[b, m, e] * Wv[e, h, d]
S[b, h, n, m] = Q[b, h, n, d] * K[b, h, m, d] * 0.125
A[b, h, n, d] = softmax[m](S[b, h, n, m]) * V[b, h, m, d]
R[b, n, e] = X[b, n, e] + sum[h, d](A[b, h, n, d] * Wo[h, d, e])
Rn[b, n, e] = (R[b, n, e] - mean[e](R[b, n, e])) / sqrt(var[e](R[b, n, e]) + 1e-5) * g2[e]
H[b, n, f] = gelu(sum[e](Rn[b, n, e] * W1[e, f]))
Y[b, n, e] = R[b, n, e] + sum[f](H[b, n, f] * W2[f, e])"""


def _transformer_shapes(s: Sizes) -> tuple[tuple[int, ...], ...]:
    projection = (s["e"], s["h"], s["d"])
    return (
        (s["b"], s["n"], s["e"]),
        (s["e"],),
        projection,
        projection,
        projection,
        (s["h"], s["d"], s["e"]),
        (s["e"],),
        (s["e"], s["f"]),
        (s["f"], s["e"]),
    )


TRANSFORMER = ShardedCase(
    name="sharded_transformer",
    title="transformer block, b on data, heads h and hidden f on model",
    source=TRANSFORMER_SOURCE,
    shard={"b": "data", "h": "model", "f": "model"},
    shapes=_transformer_shapes,
    specs=(
        ("data", None, None),
        (None,),
        *((None, "model", None),) * 3,
        ("model", None, None),
        (None,),
        (None, "model"),
        ("model", None),
    ),
    out=("data", None, None),
    hand=_transformer,
    sizes={"b": 2, "n": 8, "e": 16, "h": 4, "d": 4, "f": 32},
    bench_sizes={"b": 8, "n": 128, "e": 256, "h": 8, "d": 32, "f": 1024},
)

CASES: tuple[ShardedCase, ...] = (BMM, MLP, ATTENTION, LAYER_NORM, CONV, TRANSFORMER)
NAMES: tuple[str, ...] = tuple(case.name for case in CASES)
