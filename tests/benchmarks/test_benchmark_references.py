"""The benchmark workloads of issues 9 and 10 compute what their programs mean.

Every hand-written and anchor variant (the code tensorc is timed against) is checked on tiny
inputs against an explicit Python loop over the indices, written from CONTRACT.md sections 6
and 7; so is each workload's tensorc program.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest

import tensorc as tc
from benchmarks import frameworks
from benchmarks.catalog import WORKLOADS
from benchmarks.workloads import Env, Sizes, Skip, Variant, Workload

Arrays = tuple[np.ndarray, ...]


def conv2d(arrays: Arrays, s: Sizes) -> np.ndarray:
    """O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]"""
    x, w = arrays
    n, c, rows, cols = x.shape
    o, _, k, _ = w.shape
    out = np.zeros((n, o, rows, cols))
    for b, p, h, v, ch, i, j in itertools.product(*map(range, (n, o, rows, cols, c, k, k))):
        r, q = h + i - 1, v + j - 1
        if 0 <= r < rows and 0 <= q < cols:
            out[b, p, h, v] += x[b, ch, r, q] * w[p, ch, i, j]
    return out


def conv2d_nhwc(arrays: Arrays, s: Sizes) -> np.ndarray:
    """O[n, h, w, o] = I[n, pad(h + kh - 1), pad(w + kw - 1), c] * W[kh, kw, c, o]"""
    x, w = arrays
    return conv2d((x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)), s).transpose(0, 2, 3, 1)


def causal_conv1d(arrays: Arrays, s: Sizes) -> np.ndarray:
    """Y[n, c, t] = X[n, c, pad(t - k)] * W[c, k]"""
    x, w = arrays
    out = np.zeros(x.shape)
    for b, c, t, k in itertools.product(*map(range, (*x.shape, w.shape[1]))):
        if t - k >= 0:
            out[b, c, t] += x[b, c, t - k] * w[c, k]
    return out


def conv_transpose2d(arrays: Arrays, s: Sizes) -> np.ndarray:
    """Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * W[c, o, kh, kw]"""
    x, w = arrays
    n, c, rows, cols = x.shape
    _, o, k, _ = w.shape
    out = np.zeros((n, o, 2 * rows + k - 2, 2 * cols + k - 2))
    for b, p, h, v, ch, i, j in itertools.product(*map(range, (n, o, rows, cols, c, k, k))):
        out[b, p, 2 * h + i, 2 * v + j] += x[b, ch, h, v] * w[ch, p, i, j]
    return out


def max_pool(arrays: Arrays, s: Sizes) -> np.ndarray:
    """P[n, c, h, w] = max[kh, kw](X[n, c, 2*h + kh, 2*w + kw]), valid rows only"""
    (x,) = arrays
    n, c, rows, cols = x.shape
    kh, kw = s["kh"], s["kw"]
    out = np.full((n, c, (rows - kh) // 2 + 1, (cols - kw) // 2 + 1), -np.inf)
    for b, ch, h, v, i, j in itertools.product(*map(range, (n, c, *out.shape[2:], kh, kw))):
        out[b, ch, h, v] = max(out[b, ch, h, v], x[b, ch, 2 * h + i, 2 * v + j])
    return out


def toeplitz(arrays: Arrays, s: Sizes) -> np.ndarray:
    """y[i] = t[pad(i - j)] * x[j]: i covers t ("same")"""
    t, x = arrays
    return np.array(
        [sum(t[i - j] * x[j] for j in range(len(x)) if 0 <= i - j < len(t)) for i in range(len(t))]
    )


def hankel(arrays: Arrays, s: Sizes) -> np.ndarray:
    """y[i] = t[i + j] * x[j]: i has the largest valid size, len(t) - len(x) + 1"""
    t, x = arrays
    return np.array(
        [sum(t[i + j] * x[j] for j in range(len(x))) for i in range(len(t) - len(x) + 1)]
    )


def embedding(arrays: Arrays, s: Sizes) -> np.ndarray:
    """E[b, t, d] = W[ids[b, t], d]"""
    table, ids = arrays
    out = np.zeros((*ids.shape, table.shape[1]))
    for b, t, d in itertools.product(*map(range, out.shape)):
        out[b, t, d] = table[ids[b, t], d]
    return out


def segment_sum(arrays: Arrays, s: Sizes) -> np.ndarray:
    """S[s, d] = 0; S[seg[e], d] += X[e, d]"""
    seg, x = arrays
    out = np.zeros((s["s"], x.shape[1]))
    for e, d in itertools.product(*map(range, x.shape)):
        out[seg[e], d] += x[e, d]
    return out


def cross_entropy(arrays: Arrays, s: Sizes) -> np.ndarray:
    """loss = mean[n](logsumexp[c](Z[n, c]) - Z[n, y[n]])"""
    z, y = arrays
    rows = [
        math.log(sum(math.exp(float(v)) for v in z[n])) - float(z[n, y[n]]) for n in range(len(y))
    ]
    return np.array(sum(rows) / len(rows))


def one_hot(arrays: Arrays, s: Sizes) -> np.ndarray:
    """E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d], summed over v"""
    tok, table = arrays
    out = np.zeros((len(tok), table.shape[1]))
    for i, v, d in itertools.product(*map(range, (len(tok), *table.shape))):
        out[i, d] += (1.0 if tok[i] == v else 0.0) * table[v, d]
    return out


REFERENCES: dict[str, Callable[[Arrays, Sizes], np.ndarray]] = {
    "conv2d": conv2d,
    "conv2d_nhwc": conv2d_nhwc,
    "causal_conv1d": causal_conv1d,
    "conv_transpose2d": conv_transpose2d,
    "max_pool_2x2": max_pool,
    "max_pool_3x3": max_pool,
    "toeplitz": toeplitz,
    "hankel": hankel,
    "embedding": embedding,
    "segment_sum": segment_sum,
    "cross_entropy": cross_entropy,
    "one_hot": one_hot,
}
CONV_SIZES = {"n": 2, "c": 3, "o": 2, "H": 5, "W": 4, "k": 3}
TINY_SIZES: dict[str, Sizes] = {
    "conv2d": CONV_SIZES,
    "conv2d_nhwc": CONV_SIZES,
    "causal_conv1d": {"n": 2, "c": 3, "t": 7, "k": 4},
    "conv_transpose2d": {**CONV_SIZES, "o": 3},
    "max_pool_2x2": {"n": 2, "c": 2, "H": 6, "W": 4, "kh": 2, "kw": 2},
    "max_pool_3x3": {"n": 2, "c": 2, "H": 7, "W": 6, "kh": 3, "kw": 3},
    "toeplitz": {"i": 6, "j": 4},
    "hankel": {"i": 5, "j": 3},
    "embedding": {"v": 7, "d": 3, "b": 2, "t": 4},
    "segment_sum": {"e": 20, "d": 3, "s": 6},
    "cross_entropy": {"n": 5, "c": 6},
    "one_hot": {"v": 6, "d": 3, "i": 5},
}
NEW_WORKLOADS = [w for w in WORKLOADS if w.name in REFERENCES]
INSTALLED = [fw for fw in frameworks.FRAMEWORKS if importlib.util.find_spec(fw) is not None]


def test_every_workload_of_issues_9_and_10_has_a_reference() -> None:
    groups = {"index arithmetic", "tensor-valued indices"}
    assert {w.name for w in WORKLOADS if w.group in groups} == set(REFERENCES)


def load(name: str) -> frameworks.Framework:
    """The benchmark's adapter for a framework, leaving torch's thread count as it is."""
    if name == "torch":
        import torch

        return frameworks.load(name, torch.get_num_threads())
    return frameworks.load(name, 1)


def setup(workload: Workload, framework: str) -> tuple[Env, Arrays, Sizes]:
    sizes = TINY_SIZES[workload.name]
    arrays = workload.make_inputs(np.random.default_rng(0), sizes)
    fw = load(framework)
    env = Env(
        fw=fw,
        tc=tc,
        program=None,
        spec=workload.spec,
        inputs=tuple(fw.from_numpy(a) for a in arrays),
        sizes=sizes,
        quick=True,
        keywords=workload.keyword_sizes(sizes),
    )
    return env, arrays, sizes


def run(variant: Variant, env: Env) -> np.ndarray:
    fn = variant.build(env)
    if variant.jit:
        fn = env.fw.jit(fn)
    result = fn(*env.inputs)
    if env.fw.sync is not None:
        result = env.fw.sync(result)
    return np.asarray(env.fw.to_numpy(result) if not isinstance(result, np.generic) else result)


def competitor_cases() -> list[tuple[Workload, str, Variant]]:
    return [
        (w, fw, v)
        for w in NEW_WORKLOADS
        for v in w.variants
        if v.role in ("hand", "anchor")
        for fw in INSTALLED
        if fw in v.frameworks
    ]


@pytest.mark.parametrize(
    ("workload", "framework", "variant"),
    competitor_cases(),
    ids=lambda item: getattr(item, "name", getattr(item, "key", item)),
)
def test_competitors_match_the_loop(workload: Workload, framework: str, variant: Variant) -> None:
    env, arrays, sizes = setup(workload, framework)
    try:
        result = run(variant, env)
    except Skip as skip:
        pytest.skip(str(skip))
    expected = REFERENCES[workload.name](arrays, sizes)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.astype(np.float64), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("framework", INSTALLED)
@pytest.mark.parametrize("workload", NEW_WORKLOADS, ids=lambda w: w.name)
def test_tensorc_program_matches_the_loop(workload: Workload, framework: str) -> None:
    env, arrays, sizes = setup(workload, framework)
    assert workload.source is not None
    program = tc.compile(workload.source, backend=framework)
    result = program(*env.inputs, **env.keywords)
    expected = REFERENCES[workload.name](arrays, sizes)
    np.testing.assert_allclose(env.fw.to_numpy(result), expected, rtol=1e-5, atol=1e-5)
