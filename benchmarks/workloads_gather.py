"""Tensor-valued index workloads (issue 10): gathers, scatter-adds and a loss with labels.

An embedding lookup against ``index_select``, ``F.embedding``, ``W[ids]`` and ``jnp.take``; a
segment sum against ``index_add_``, ``scatter_add_``, ``.at[].add``, ``jax.ops.segment_sum``
and ``np.add.at``; cross-entropy against ``F.cross_entropy`` and optax's formula written out
in JAX; and the one-hot idiom ``where(tok[i] == v, 1.0, 0.0) * W[v, d]``, which means the
gather ``W[tok]``, against that gather and against the one-hot matrix product it spells.
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
    Variant,
    Workload,
    _anchor,
    _hand,
    _normal,
    _per_framework,
    _program,
)

GROUP = "tensor-valued indices"


def _positions(rng: np.random.Generator, high: int, *shape: int) -> np.ndarray:
    """Uniform int64 positions in [0, high), duplicates and all."""
    return rng.integers(0, high, size=shape, dtype=np.int64)


def _jax(env: Env) -> Any:
    return env.fw.modules["jax"]


# ---------------------------------------------------------------------------------------
# Gathers along the first axis: an embedding lookup, and the one-hot idiom that means one


def _take_rows(env: Env) -> Fn:
    """table[ids] for a table and integer ids of any shape: each framework's fastest gather.

    torch: index_select (F.embedding is about as fast, table[ids] 2-3x slower on CPU); JAX:
    table[ids] (jnp.take's default mode="fill" costs 2-4x); NumPy: np.take.
    """
    if env.fw.name == "torch":
        return lambda table, ids: table.index_select(0, ids.reshape(-1)).reshape(
            *ids.shape, table.shape[1]
        )
    if env.fw.name == "jax":
        return _fancy_index(env)
    return lambda table, ids: np.take(table, ids, axis=0)


def _fancy_index(env: Env) -> Fn:
    return lambda table, ids: table[ids]


def _take_jax(env: Env) -> Fn:
    take = env.fw.xp.take
    return lambda table, ids: take(table, ids, axis=0)


def _embedding_torch(env: Env) -> Fn:
    return env.fw.modules["F"].embedding  # F.embedding(ids, table)


def _swapped(build: Builder) -> Builder:
    """A builder whose callable takes its two inputs in the other order."""

    def swapped_build(env: Env) -> Fn:
        fn = build(env)
        return lambda first, second: fn(second, first)

    return swapped_build


def _embedding_inputs(rng: np.random.Generator, s: Sizes) -> tuple[np.ndarray, ...]:
    return _normal(rng, s["v"], s["d"]), _positions(rng, s["v"], s["b"], s["t"])


TAKE_TEXT = (
    "W.index_select(0, ids.view(-1)).view(*ids.shape, d) / W[ids] (JAX) / np.take(W, ids, 0)"
)

EMBEDDING = Workload(
    name="embedding",
    title="Embedding lookup (gather of table rows)",
    source="E[b, t, d] = W[ids[b, t], d]",
    spec=None,
    sizes={"v": 50_000, "d": 512, "b": 8, "t": 512},
    quick_sizes={"v": 1000, "d": 64, "b": 2, "t": 32},
    make_inputs=_embedding_inputs,
    variants=(
        _hand(_take_rows, TAKE_TEXT),
        TENSORC,
        _anchor("W[ids]", _fancy_index, "W[ids]: advanced indexing", frameworks=("numpy", "torch")),
        _anchor("jnp.take", _take_jax, "jnp.take(W, ids, axis=0)", frameworks=("jax",)),
        _anchor(
            "F.embedding",
            _swapped(_embedding_torch),
            "torch.nn.functional.embedding(ids, W)",
            frameworks=("torch",),
        ),
    ),
    group=GROUP,
)


def _one_hot_matmul(env: Env) -> Fn:
    """The idiom as written: a (tokens, vocabulary) one-hot matrix times the table."""
    if env.fw.name == "torch":
        one_hot = env.fw.modules["F"].one_hot
        return lambda tok, table: one_hot(tok, table.shape[0]).to(table.dtype) @ table
    if env.fw.name == "jax":
        one_hot = _jax(env).nn.one_hot
        return lambda tok, table: one_hot(tok, table.shape[0], dtype=table.dtype) @ table
    return lambda tok, table: (
        (tok[:, None] == np.arange(table.shape[0])).astype(table.dtype) @ table
    )


def _tensorc_gather(env: Env) -> Fn:
    """The gather that the idiom means, written as a tensorc program."""
    _program(env)  # the same missing language feature stops both programs
    gather = env.tc.compile("E[i, d] = W[tok[i], d]", backend=env.fw.name)
    return lambda tok, table: gather(table, tok)


ONE_HOT = Workload(
    name="one_hot",
    title="The one-hot idiom where(tok[i] == v, 1, 0) * W[v, d]: a gather in disguise",
    source="E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d]",
    spec=None,
    sizes={"v": 5000, "d": 256, "i": 512},
    quick_sizes={"v": 200, "d": 32, "i": 64},
    make_inputs=lambda rng, s: (_positions(rng, s["v"], s["i"]), _normal(rng, s["v"], s["d"])),
    variants=(
        _hand(_swapped(_take_rows), "the gather it means: " + TAKE_TEXT),
        TENSORC,
        Variant(
            "tensorc: gather form",
            "tensorc-extra",
            _tensorc_gather,
            "tc.compile('E[i, d] = W[tok[i], d]'): the gather, written as one",
        ),
        _anchor(
            "W[tok]",
            _swapped(_fancy_index),
            "W[tok]: advanced indexing",
            frameworks=("numpy", "torch"),
        ),
        _anchor(
            "one-hot @ W",
            _one_hot_matmul,
            "the idiom computed as written: one_hot(tok, V) @ W (F.one_hot / jax.nn.one_hot)",
        ),
    ),
    pairs=(("tensorc", "tensorc: gather form"), ("tensorc", "one-hot @ W")),
    group=GROUP,
)

# ---------------------------------------------------------------------------------------
# Segment sum: S[seg[e], d] += X[e, d] into s segments (s by keyword)

SEGMENT_SUM_SOURCE = """\
S[s, d] = 0
S[seg[e], d] += X[e, d]
"""


def _segment_sum_numpy(env: Env) -> Fn:
    segments = env.sizes["s"]

    def segment_sum(seg: np.ndarray, x: np.ndarray) -> np.ndarray:
        out = np.zeros((segments, x.shape[1]), dtype=x.dtype)
        np.add.at(out, seg, x)
        return out

    return segment_sum


def _segment_sum_torch(env: Env) -> Fn:
    torch, segments = env.fw.xp, env.sizes["s"]
    return lambda seg, x: torch.zeros(segments, x.shape[1], dtype=x.dtype).index_add_(0, seg, x)


def _segment_sum_jax(env: Env) -> Fn:
    jnp, segments = env.fw.xp, env.sizes["s"]
    return lambda seg, x: jnp.zeros((segments, x.shape[1]), dtype=x.dtype).at[seg].add(x)


def _scatter_add_torch(env: Env) -> Fn:
    torch, segments = env.fw.xp, env.sizes["s"]

    def segment_sum(seg: Any, x: Any) -> Any:
        out = torch.zeros(segments, x.shape[1], dtype=x.dtype)
        return out.scatter_add_(0, seg[:, None].expand(-1, x.shape[1]), x)

    return segment_sum


def _index_put_torch(env: Env) -> Fn:
    torch, segments = env.fw.xp, env.sizes["s"]
    return lambda seg, x: torch.zeros(segments, x.shape[1], dtype=x.dtype).index_put_(
        (seg,), x, accumulate=True
    )


def _segment_sum_ops(env: Env) -> Fn:
    segment_sum, segments = _jax(env).ops.segment_sum, env.sizes["s"]
    return lambda seg, x: segment_sum(x, seg, num_segments=segments)


def _bincount_numpy(env: Env) -> Fn:
    """One bincount over the flattened (segment, column) positions, in float64."""
    segments = env.sizes["s"]

    def segment_sum(seg: np.ndarray, x: np.ndarray) -> np.ndarray:
        width = x.shape[1]
        flat = (seg[:, None] * width + np.arange(width)).ravel()
        sums = np.bincount(flat, weights=x.ravel(), minlength=segments * width)
        return sums.reshape(segments, width).astype(x.dtype)

    return segment_sum


segment_hand, _ = _per_framework(
    numpy=_segment_sum_numpy, torch=_segment_sum_torch, jax=_segment_sum_jax
)

SEGMENT_SUM = Workload(
    name="segment_sum",
    title="Segment sum (scatter-add of rows, s by keyword)",
    source=SEGMENT_SUM_SOURCE,
    spec=None,
    sizes={"e": 1_000_000, "d": 16, "s": 10_000},
    quick_sizes={"e": 10_000, "d": 16, "s": 100},
    make_inputs=lambda rng, s: (_positions(rng, s["s"], s["e"]), _normal(rng, s["e"], s["d"])),
    variants=(
        _hand(
            segment_hand,
            "zeros(s, d).index_add_(0, seg, X) / jnp.zeros((s, d)).at[seg].add(X) / "
            "np.add.at(zeros, seg, X)",
        ),
        TENSORC,
        _anchor(
            "scatter_add_",
            _scatter_add_torch,
            "zeros(s, d).scatter_add_(0, seg[:, None].expand(-1, d), X)",
            frameworks=("torch",),
        ),
        _anchor(
            "index_put_(accumulate)",
            _index_put_torch,
            "zeros(s, d).index_put_((seg,), X, accumulate=True)",
            frameworks=("torch",),
        ),
        _anchor(
            "jax.ops.segment_sum",
            _segment_sum_ops,
            "jax.ops.segment_sum(X, seg, num_segments=s)",
            frameworks=("jax",),
        ),
        _anchor(
            "np.bincount",
            _bincount_numpy,
            "np.bincount(seg * d + column, weights=X.ravel()) in float64, then float32",
            frameworks=("numpy",),
        ),
    ),
    rtol=2e-4,
    group=GROUP,
    keywords=("s",),
)

# ---------------------------------------------------------------------------------------
# Cross-entropy with integer labels, mean over the rows

CROSS_ENTROPY_SOURCE = "loss = mean[n](logsumexp[c](Z[n, c]) - Z[n, y[n]])"


def _cross_entropy_torch(env: Env) -> Fn:
    return env.fw.modules["F"].cross_entropy


def _cross_entropy_optax(env: Env) -> Fn:
    """optax.softmax_cross_entropy_with_integer_labels, written out, then the mean."""
    jax, jnp = _jax(env), env.fw.xp

    def cross_entropy(z: Any, y: Any) -> Any:
        shifted = z - jax.lax.stop_gradient(z.max(axis=-1, keepdims=True))
        picked = jnp.take_along_axis(shifted, y[:, None], axis=-1)[:, 0]
        return (jnp.log(jnp.exp(shifted).sum(axis=-1)) - picked).mean()

    return cross_entropy


def _cross_entropy_numpy(env: Env) -> Fn:
    def cross_entropy(z: np.ndarray, y: np.ndarray) -> Any:
        shifted = z - z.max(axis=1, keepdims=True)
        picked = shifted[np.arange(z.shape[0]), y]
        return (np.log(np.exp(shifted).sum(axis=1)) - picked).mean()

    return cross_entropy


def _log_softmax_pick(env: Env) -> Fn:
    """Log-softmax over the classes, then each row's label entry."""
    if env.fw.name == "torch":
        F = env.fw.modules["F"]
        return lambda z, y: F.nll_loss(F.log_softmax(z, dim=1), y)
    if env.fw.name == "jax":
        jax, jnp = _jax(env), env.fw.xp
        return lambda z, y: (
            -jnp.take_along_axis(jax.nn.log_softmax(z, axis=1), y[:, None], axis=1).mean()
        )

    def cross_entropy(z: np.ndarray, y: np.ndarray) -> Any:
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.take_along_axis(log_p, y[:, None], axis=1).mean()

    return cross_entropy


def _logsumexp_pick(env: Env) -> Fn:
    """The program's formula with the framework's logsumexp and gather (torch, JAX)."""
    if env.fw.name == "torch":
        torch = env.fw.xp
        return lambda z, y: (torch.logsumexp(z, 1) - z.gather(1, y[:, None])[:, 0]).mean()
    jax, jnp = _jax(env), env.fw.xp
    return lambda z, y: (
        jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
    ).mean()


ce_hand, _ = _per_framework(
    numpy=_cross_entropy_numpy, torch=_cross_entropy_torch, jax=_cross_entropy_optax
)

CROSS_ENTROPY = Workload(
    name="cross_entropy",
    title="Cross-entropy with integer labels (mean)",
    source=CROSS_ENTROPY_SOURCE,
    spec=None,
    sizes={"n": 4096, "c": 32_000},
    quick_sizes={"n": 64, "c": 1000},
    make_inputs=lambda rng, s: (
        _normal(rng, s["n"], s["c"]) * np.float32(3),
        _positions(rng, s["c"], s["n"]),
    ),
    variants=(
        _hand(
            ce_hand,
            "F.cross_entropy(Z, y) / optax's integer-label formula in JAX (shift by the max, "
            "take_along_axis, log-sum-exp) / the same in NumPy",
        ),
        TENSORC,
        _anchor(
            "log_softmax + pick",
            _log_softmax_pick,
            "F.nll_loss(F.log_softmax(Z)) / take_along_axis(jax.nn.log_softmax(Z)) / NumPy",
        ),
        _anchor(
            "logsumexp - pick",
            _logsumexp_pick,
            "torch.logsumexp / jax.nn.logsumexp, minus Z.gather / take_along_axis",
            frameworks=("torch", "jax"),
        ),
    ),
    rtol=1e-4,
    group=GROUP,
)

WORKLOADS: tuple[Workload, ...] = (EMBEDDING, SEGMENT_SUM, CROSS_ENTROPY, ONE_HOT)
