"""Limits that real inputs hit: deep nesting, long statements, many indices, long programs, many
distinct sources, and many threads.

Each gives a correct result or a clear `TensorcError`, never `RecursionError`. Times are
printed (run with `-s` to see them), never asserted: the benchmarks track them.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import linecache
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tensorc as tc
from tensorc import runtime

INSTALLED = [b for b in ("numpy", "jax", "torch") if importlib.util.find_spec(b) is not None]
DEPTH = 2000


def to_backend(value: np.ndarray, backend: str) -> Any:
    if backend == "torch":
        import torch

        return torch.from_numpy(value)
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(value)
    return value


def rtol(backend: str) -> float:
    """JAX computes in float32 unless 64-bit types are enabled."""
    if backend == "jax":
        import jax

        return 1e-9 if getattr(jax.config, "jax_enable_x64", False) else 1e-5
    return 1e-9


def to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


def timed(label: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = work()
    print(f"{label}: {time.perf_counter() - start:.2f} s")
    return result


def generated_modules() -> set[str]:
    return {name for name in sys.modules if name.startswith("tensorc.generated_")}


def iterate(step: Callable[[np.ndarray], np.ndarray], x: np.ndarray, times: int) -> np.ndarray:
    for _ in range(times):
        x = step(x)
    return x


# ----------------------------------------------------------------------------- deep nesting

X = np.linspace(-0.9, 0.9, 5)

NESTED: list[tuple[str, str, np.ndarray]] = [
    ("parentheses", "y[i] = " + "(" * DEPTH + "x[i]" + ")" * DEPTH, X),
    ("functions", "y[i] = " + "tanh(" * DEPTH + "x[i]" + ")" * DEPTH, iterate(np.tanh, X, DEPTH)),
    ("unary-minus", "y[i] = " + "-" * (DEPTH + 1) + "x[i]", -X),
    ("power", "y[i] = x[i]" + " ** 1" * DEPTH, X),
    (
        "right-nested-binary",
        "y[i] = " + "x[i] / 2 - (" * DEPTH + "x[i]" + ")" * DEPTH,
        iterate(lambda t: X / 2 - t, X, DEPTH),
    ),
    (
        "two-argument-functions",
        "y[i] = " + "max(x[i] / 2, " * DEPTH + "-x[i]" + ")" * DEPTH,
        np.maximum(X / 2, -X),
    ),
]


@pytest.mark.parametrize(
    ("src", "expected"), [case[1:] for case in NESTED], ids=[case[0] for case in NESTED]
)
def test_expressions_nested_2000_deep_compile_and_run(src: str, expected: np.ndarray) -> None:
    f = tc.compile(src, backend="numpy")
    np.testing.assert_allclose(f(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "src",
    [
        "y[i] = " + "tanh(" * 20_000 + "x[i]" + ")" * 20_000,
        "y[i] = " + "-" * 20_001 + "x[i]",
        "y[i] = " + "(x[i] + " * 20_000 + "x[i]" + ")" * 20_000,
    ],
    ids=["functions", "unary-minus", "binary"],
)
def test_nesting_beyond_the_limit_is_a_clear_error(src: str) -> None:
    with pytest.raises(tc.TensorcError) as info:
        tc.compile(src, backend="numpy")
    assert "nest" in info.value.message
    assert not isinstance(info.value.__cause__, RecursionError)


def test_twenty_thousand_parentheses_are_only_grouping() -> None:
    src = "y[i] = " + "(" * 20_000 + "x[i] * 2" + ")" * 20_000
    np.testing.assert_array_equal(tc.compile(src, backend="numpy")(X), X * 2)


# ----------------------------------------------------------------------------- long statements


@pytest.mark.parametrize("backend", [b for b in INSTALLED if b != "jax"])
def test_a_statement_with_500_terms(backend: str) -> None:
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(4) for _ in range(500)]
    signs = [1 if k % 3 else -1 for k in range(500)]
    terms = "".join(("+ " if s > 0 else "- ") + f"x{k}[i] " for k, s in enumerate(signs))
    src = "y[i] = " + terms.removeprefix("+ ")
    f = tc.compile(src, backend=backend)
    assert f.inputs == tuple(f"x{k}" for k in range(500))
    expected = sum(s * x for s, x in zip(signs, xs, strict=True))
    actual = to_numpy(f(*(to_backend(x, backend) for x in xs)))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


def test_a_statement_with_500_factors() -> None:
    rng = np.random.default_rng(1)
    xs = [rng.uniform(0.9, 1.1, 3) for _ in range(500)]
    src = "y[i] = " + " * ".join(f"x{k}[i]" for k in range(500))
    f = tc.compile(src, backend="numpy")
    np.testing.assert_allclose(f(*xs), np.prod(xs, axis=0), rtol=1e-12)


def test_500_factors_contracted_over_500_indices() -> None:
    rng = np.random.default_rng(2)
    xs = [rng.uniform(0.9, 1.1, 2) for _ in range(500)]
    src = "s = " + " * ".join(f"x{k}[i{k}]" for k in range(500))
    f = tc.compile(src, backend="numpy")
    np.testing.assert_allclose(f(*xs), np.prod([x.sum() for x in xs]), rtol=1e-10)


# ----------------------------------------------------------------------------- many indices


CHAIN = 60
CHAIN_SRC = f"C[i0, i{CHAIN}] = " + " * ".join(f"M{k}[i{k}, i{k + 1}]" for k in range(CHAIN))


@pytest.mark.parametrize("passes", ["all", "none"])
@pytest.mark.parametrize("backend", INSTALLED)
def test_a_chain_of_60_matrices(backend: str, passes: str) -> None:
    """61 distinct indices in one contraction: more than einsum's 52 letters."""
    rng = np.random.default_rng(3)
    ms = [rng.uniform(-1, 1, (2, 3) if k == 0 else (3, 3)) / 1.5 for k in range(CHAIN)]
    ms[-1] = rng.uniform(-1, 1, (3, 4))
    options: dict[str, Any] = {"passes": ()} if passes == "none" else {}
    f = tc.compile(CHAIN_SRC, backend=backend, **options)
    actual = to_numpy(f(*(to_backend(m, backend) for m in ms)))
    expected = functools.reduce(np.matmul, ms)
    assert actual.shape == (2, 4)
    np.testing.assert_allclose(actual, expected, rtol=rtol(backend), atol=1e-12)


@pytest.mark.parametrize("backend", INSTALLED)
def test_a_product_of_60_vectors_with_60_summed_indices(backend: str) -> None:
    rng = np.random.default_rng(4)
    vs = [rng.uniform(0.5, 1.0, 2) for _ in range(60)]
    src = "s = " + " * ".join(f"v{k}[i{k}]" for k in range(60))
    for options in ({}, {"passes": ()}):
        f = tc.compile(src, backend=backend, **options)
        actual = float(to_numpy(f(*(to_backend(v, backend) for v in vs))))
        assert actual == pytest.approx(np.prod([v.sum() for v in vs]), rel=rtol(backend))


def test_the_trace_of_a_chain_of_60_matrices() -> None:
    """The trace of a chain: every index is summed, none is left for the output."""
    rng = np.random.default_rng(5)
    ms = [rng.uniform(-1, 1, (2, 2)) for _ in range(CHAIN)]
    src = "t = " + " * ".join(f"M{k}[i{k}, i{(k + 1) % CHAIN}]" for k in range(CHAIN))
    expected = np.trace(functools.reduce(np.matmul, ms))
    assert float(tc.compile(src, backend="numpy")(*ms)) == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------- long programs


def test_a_10000_line_program_compiles_and_runs() -> None:
    lines = ["T0[i, j] = A[i, j]"]
    for k in range(1, 10_000):
        if k % 3 == 0:
            lines.append(f"T{k}[i, j] = T{k - 1}[j, i] * 0.5 + A[i, j]")
        elif k % 3 == 1:
            lines.append(f"T{k}[i, j] = T{k - 1}[i, m] * B[m, j]")
        else:
            lines.append(f"# step {k}\nT{k}[i, j] = tanh(T{k - 1}[i, j]) + A[i, j] / 4")
    src = "\n".join(lines) + "\n"
    assert src.count("\n") >= 10_000
    rng = np.random.default_rng(6)
    a = rng.uniform(-1, 1, (3, 3))
    b = rng.uniform(-1, 1, (3, 3)) / 2
    f = timed("compile a 10,000-line program", lambda: tc.compile(src, backend="numpy"))
    actual = timed("first call (plan and generate)", lambda: f(a, b))
    expected = a
    for k in range(1, 10_000):
        if k % 3 == 0:
            expected = expected.T * 0.5 + a
        elif k % 3 == 1:
            expected = expected @ b
        else:
            expected = np.tanh(expected) + a / 4
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- the compile cache


def test_the_compile_cache_stays_bounded_and_releases_generated_modules() -> None:
    cache = runtime.CACHE
    before = generated_modules()
    x = np.arange(3.0)
    first_modules = []
    start = time.perf_counter()
    for k in range(3000):
        f = tc.compile(f"y[i] = x[i] * {k} + {k % 7}", backend="numpy")
        assert f(x)[2] == 2 * k + k % 7
        if k < 100:
            first_modules.append(f.function_for(x).__module__)
        assert len(cache.entries) <= cache.capacity
    print(f"3,000 distinct sources compiled and called: {time.perf_counter() - start:.2f} s")
    del f
    gc.collect()
    assert len(cache.entries) <= cache.capacity
    now = generated_modules()
    assert not now & set(first_modules), "modules of programs that left the cache stay loaded"
    assert len(now - before) <= cache.capacity
    stale = [name for name in first_modules if f"<{name}>" in linecache.cache]
    assert not stale, "linecache keeps the source of released modules"


# ----------------------------------------------------------------------------- threads


def test_eight_threads_compiling_and_calling_at_once_get_correct_results() -> None:
    threads = 8
    barrier = threading.Barrier(threads)
    shared = tc.compile("C[i, k] = A[i, j] * B[j, k]", backend="numpy")
    failures: list[str] = []

    def work(number: int) -> None:
        rng = np.random.default_rng(100 + number)
        barrier.wait()
        for k in range(40):
            backend = INSTALLED[(number + k) % len(INSTALLED)]
            scale = (number * 40 + k) % 13  # some sources shared between threads, some not
            src = f"P[i, j] = softmax[j](sum[k](A[i, k] * B[k, j]) * {scale})"
            rows = 1 + (number + k) % 5
            a = rng.standard_normal((rows, 3))
            b = rng.standard_normal((3, 4))
            try:
                f = tc.compile(src, backend=backend)
                got = to_numpy(f(to_backend(a, backend), to_backend(b, backend)))
                logits = a @ b * scale
                want = np.exp(logits - logits.max(-1, keepdims=True))
                want /= want.sum(-1, keepdims=True)
                if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                    failures.append(f"thread {number}, {backend}: wrong softmax result")
                # One program object, called with more shapes than it keeps plans for.
                n = 1 + (number * 40 + k) % 97
                c = rng.standard_normal((n, 2))
                if not np.allclose(shared(c, b[:2]), c @ b[:2]):
                    failures.append(f"thread {number}: wrong product for {n} rows")
            except Exception as error:  # collected: an exception in a thread fails no test
                failures.append(f"thread {number}: {type(error).__name__}: {error}")

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    print(f"8 threads x 40 compiles and calls: {time.perf_counter() - start:.2f} s")
    assert not any(worker.is_alive() for worker in workers)
    assert not failures, "\n".join(failures[:10])
