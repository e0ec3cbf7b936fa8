"""Measure every selected workload on ONE framework; print the results as JSON lines on stdout.

Run by the driver (``python -m benchmarks``) once per framework, each in its own process,
so that one framework's thread pools cannot slow another's. Progress goes to stderr.

    python -m benchmarks.run_framework --framework torch [--quick] [--only bmm,attention]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import numpy as np

from benchmarks import frameworks, memory, timing
from benchmarks.catalog import select
from benchmarks.frameworks import Framework
from benchmarks.timing import Timed, TimingConfig
from benchmarks.workloads import (
    COMPILE_NAME,
    COMPILE_SIZES,
    Env,
    Skip,
    Workload,
    compile_inputs,
    compile_source,
)

SEED = 20240607
MAX_TEXT = 6000  # characters of generated source / IR kept in the JSON, per workload


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:400]


def to_numpy(fw: Framework, value: Any) -> np.ndarray:
    """A result as one NumPy array (a tuple of results, such as gradients, flattened into one)."""
    if isinstance(value, tuple):
        return np.concatenate([to_numpy(fw, part).ravel() for part in value])
    if isinstance(value, np.ndarray | np.generic | int | float):
        return np.asarray(value)
    return fw.to_numpy(value)


def compare(result: np.ndarray, reference: np.ndarray, rtol: float) -> str | None:
    """None if ``result`` is allclose to ``reference``, else why not.

    The absolute tolerance scales with the reference's largest magnitude, so entries that
    cancel to nearly zero do not fail on float32 rounding.
    """
    if result.shape != reference.shape:
        return f"shape {result.shape} != reference shape {reference.shape}"
    r, ref = result.astype(np.float64), reference.astype(np.float64)
    if not np.all(np.isfinite(r)):
        return "result has non-finite values"
    atol = rtol * float(np.max(np.abs(ref), initial=0.0))
    if not np.allclose(r, ref, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(r - ref) - rtol * np.abs(ref)))
        return f"not allclose (rtol={rtol:.0e}, atol={atol:.2e}): worst excess {worst:.2e}"
    return None


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


Pending = list[tuple[str, dict[str, Any], Timed]]  # memory to measure after all timing


def run_workload(
    workload: Workload,
    fw: Framework,
    tc: Any,
    config: TimingConfig,
    quick: bool,
    pending: Pending | None = None,
) -> dict[str, Any]:
    sizes = dict(workload.quick_sizes if quick else workload.sizes)
    arrays = workload.make_inputs(np.random.default_rng(SEED), sizes)
    inputs = tuple(fw.from_numpy(a) for a in arrays)
    keywords = workload.keyword_sizes(sizes)
    record: dict[str, Any] = {
        "name": workload.name,
        "title": workload.title,
        "group": workload.group,
        "source": workload.source,
        "spec": workload.spec,
        "sizes": sizes,
        "flops": workload.flops(sizes) if workload.flops else None,
        "broadcast_bytes": workload.broadcast_bytes(sizes) if workload.broadcast_bytes else None,
        "pairs": [list(pair) for pair in workload.pairs],
        "variants": [],
    }
    program = None
    if workload.source is not None:
        try:
            start = time.perf_counter_ns()
            program = tc.compile(workload.source, backend=fw.name)
            record["tensorc_compile_ns"] = time.perf_counter_ns() - start
        except Exception as exc:
            record["tensorc_error"] = describe(exc)
            log(f"  tensorc compile failed: {describe(exc)}")
    env = Env(
        fw=fw,
        tc=tc,
        program=program,
        spec=workload.spec,
        inputs=inputs,
        sizes=sizes,
        quick=quick,
        program_error=record.get("tensorc_error"),
        keywords=keywords,
    )

    reference: np.ndarray | None = None
    active: list[tuple[dict[str, Any], Timed]] = []
    estimates: list[float] = []
    for variant in workload.variants:
        if fw.name not in variant.frameworks:
            continue
        entry: dict[str, Any] = {
            "key": variant.key,
            "role": variant.role,
            "description": variant.description,
            "status": "ok",
        }
        record["variants"].append(entry)
        try:
            fn = variant.build(env)
            if variant.jit:
                fn = fw.jit(fn)
            timed = Timed(fn, inputs, fw.sync)
            start = time.perf_counter_ns()
            result = to_numpy(fw, timed.call())
            entry["first_call_ns"] = time.perf_counter_ns() - start
            entry["dtype"] = str(result.dtype)
            if variant.role == "hand":
                reference = result
                entry["check"] = "reference"
            elif variant.role == "reference":
                entry["check"] = "not compared: another computation, timed for the ratio"
            elif reference is None:
                entry["check"] = "unchecked (no reference)"
            else:
                problem = compare(result, reference, workload.rtol)
                if problem is not None:
                    entry.update(status="wrong", error=problem)
                    log(f"  {variant.key}: WRONG RESULT ({problem}); not timed")
                    continue
                entry["check"] = "ok"
                if result.dtype != reference.dtype:
                    entry["check"] = f"ok, but dtype {result.dtype} (reference {reference.dtype})"
            estimates.append(timing.warm_up(timed, config))
            active.append((entry, timed))
        except Skip as skip:
            entry.update(status="skipped", error=str(skip))
            log(f"  {variant.key}: skipped ({skip})")
        except Exception as exc:
            entry.update(status="error", error=describe(exc))
            log(f"  {variant.key}: ERROR {describe(exc)}")

    if active:
        all_stats = timing.measure_interleaved([t for _, t in active], estimates, config)
        for (entry, _), stats in zip(active, all_stats, strict=True):
            entry.update(stats.as_dict())
            log(
                f"  {entry['key']:<32} {stats.median_ns / 1e3:12.2f} us "
                f"[{stats.q1_ns / 1e3:.2f}-{stats.q3_ns / 1e3:.2f}] x{stats.number}"
                f"/{stats.blocks}"
            )
    if workload.memory:
        for entry, timed in active:
            if memory.deferred(fw) and pending is not None:
                pending.append((workload.name, entry, timed))
            else:
                entry["peak_bytes"] = memory.peak_bytes(fw, timed)
                entry["peak_method"] = memory.METHODS.get(fw.name)
    if program is not None:
        for attr in ("source_for", "ir_for"):
            try:
                text = str(getattr(program, attr)(*inputs, **keywords))
                record[f"tensorc_{attr}"] = text[:MAX_TEXT]
            except Exception as exc:
                record[f"tensorc_{attr}"] = f"<{describe(exc)}>"
    return record


def measure_compile(fw: Framework, tc: Any, config: TimingConfig, quick: bool) -> dict[str, Any]:
    """Cold compile time of a three-statement program, cached compile, compile + first call."""
    inputs = tuple(fw.from_numpy(a) for a in compile_inputs(np.random.default_rng(SEED)))
    sync = fw.sync or (lambda value: value)
    counter = random.randrange(10**5) * 10  # fresh sources even if a cache outlives the process
    record: dict[str, Any] = {
        "name": COMPILE_NAME,
        "sizes": dict(COMPILE_SIZES),
        "source": compile_source(0),
        "entries": [],
    }

    def fresh() -> str:
        nonlocal counter
        counter += 1
        return compile_source(counter)

    def add(key: str, description: str, stats: timing.Stats) -> None:
        record["entries"].append({"key": key, "description": description, **stats.as_dict()})
        log(f"  {key:<32} {stats.median_ns / 1e3:12.2f} us")

    try:
        sync(tc.compile(fresh(), backend=fw.name)(*inputs))  # load the grammar, warm caches
        samples = 5 if quick else 30
        cold = [
            timing.time_once_ns(lambda: tc.compile(fresh(), backend=fw.name))
            for _ in range(samples)
        ]
        add("tc.compile (cold)", "tc.compile(new_source, backend=...)", timing.summarize(cold))
        first = [
            timing.time_once_ns(lambda: sync(tc.compile(fresh(), backend=fw.name)(*inputs)))
            for _ in range(samples)
        ]
        add(
            "tc.compile + first call",
            "tc.compile(new_source, ...)(*small_inputs), no outer jax.jit",
            timing.summarize(first),
        )
        source = fresh()
        cached = Timed(lambda: tc.compile(source, backend=fw.name), ())
        estimate = timing.warm_up(cached, config)
        add(
            "tc.compile (cached)",
            "tc.compile(same_source, backend=...): a cache hit",
            timing.measure_interleaved([cached], [estimate], config)[0],
        )
    except Exception as exc:
        record["error"] = describe(exc)
        log(f"  compile benchmark failed: {describe(exc)}")
    return record


Emit = Callable[[str, Any], None]


def run(framework: str, names: Sequence[str] | None, quick: bool, threads: int, emit: Emit) -> None:
    """Measure and ``emit(part, data)`` as each part completes: meta, workload..., compile."""
    fw = frameworks.load(framework, threads)
    chosen, with_compile = select(names)
    config = TimingConfig.quick() if quick else TimingConfig.full()
    meta: dict[str, Any] = {
        "framework_version": fw.version,
        "threads": threads,
        "threads_note": fw.threads_note,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opt_einsum": package_version("opt_einsum"),
        "einx": package_version("einx"),
        "einops": package_version("einops"),
        "quick": quick,
        "timing": vars(config),
    }
    try:
        import tensorc as tc
    except Exception as exc:
        emit("meta", meta)
        emit("error", f"import tensorc failed: {describe(exc)}")
        log(f"import tensorc failed: {describe(exc)}")
        return
    meta["tensorc"] = str(getattr(tc, "__version__", package_version("tensorc")))
    emit("meta", meta)
    pending: Pending = []
    for workload in chosen:
        log(f"[{framework}] {workload.name}")
        emit("workload", run_workload(workload, fw, tc, config, quick, pending))
    if with_compile:
        log(f"[{framework}] {COMPILE_NAME}")
        emit("compile", measure_compile(fw, tc, config, quick))
    for name, entry, timed in pending:  # last: measuring changes how the process allocates
        peak = memory.peak_bytes(fw, timed)
        method = memory.METHODS.get(fw.name)
        emit("memory", {"workload": name, "key": entry["key"], "peak": peak, "method": method})


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_framework", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--framework", required=True, choices=frameworks.FRAMEWORKS)
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Print one JSON object per line: ``{"part": ..., "data": ...}``, then a "done" part."""
    args = parse_args(argv)
    names = [n for n in args.only.split(",") if n] or None
    # Keep stray output (Python prints and native logs alike) out of the JSON on stdout:
    # fd 1 goes to stderr while we run, and the JSON lines go to a saved copy of stdout.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def emit(part: str, data: Any) -> None:
        json_out.write(json.dumps({"part": part, "data": data}) + "\n")
        json_out.flush()

    with json_out, contextlib.redirect_stdout(sys.stderr):
        run(args.framework, names, args.quick, args.threads, emit)
        emit("done", None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
