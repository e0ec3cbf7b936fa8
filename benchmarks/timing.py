"""Wall-clock timing: warm-up, calibrated blocks of calls, interleaved variants, robust stats.

Every variant of a workload is timed in the same loop, block after block in round-robin
order (each round in its own order, from a fixed seed), so that background load on the
machine, and what the previous call left behind, affect all of them alike. A block runs a
callable ``number`` times back to back (``number`` chosen so a block lasts about
``block_s``); the per-call time of a block is its duration divided by ``number``. We report
the median of the per-call times over the blocks, with the interquartile range.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

Sync = Callable[[Any], Any]


@dataclass(frozen=True)
class TimingConfig:
    """How long to warm up and measure; ``quick`` is for smoke tests."""

    warmup_s: float  # minimum warm-up time per variant (at least ``warmup_calls`` calls)
    warmup_calls: int
    block_s: float  # target duration of one block of calls
    budget_s: float  # target total measuring time per variant
    min_blocks: int
    max_blocks: int

    @classmethod
    def quick(cls) -> TimingConfig:
        return cls(
            warmup_s=0.002, warmup_calls=2, block_s=0.002, budget_s=0.02, min_blocks=3, max_blocks=7
        )

    @classmethod
    def full(cls) -> TimingConfig:
        return cls(
            warmup_s=0.1, warmup_calls=3, block_s=0.01, budget_s=1.0, min_blocks=7, max_blocks=61
        )


@dataclass(frozen=True)
class Stats:
    """Per-call times in nanoseconds over ``blocks`` blocks of ``number`` calls each."""

    median_ns: float
    q1_ns: float
    q3_ns: float
    min_ns: float
    number: int
    blocks: int
    cpu_median_ns: float | None = None  # median per-call CPU time of the process

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "median_ns": self.median_ns,
            "q1_ns": self.q1_ns,
            "q3_ns": self.q3_ns,
            "min_ns": self.min_ns,
            "number": self.number,
            "blocks": self.blocks,
            "cpu_median_ns": self.cpu_median_ns,
        }


@dataclass
class Timed:
    """A callable to time with its positional arguments and an optional result sync."""

    fn: Callable[..., Any]
    args: Sequence[Any]
    sync: Sync | None = None

    def call(self) -> Any:
        out = self.fn(*self.args)
        return self.sync(out) if self.sync is not None else out

    def block(self, number: int) -> int:
        """Run ``number`` calls back to back; return the elapsed wall nanoseconds."""
        return self.block_with_cpu(number)[0]

    def block_with_cpu(self, number: int) -> tuple[int, int]:
        """Run ``number`` calls back to back; return elapsed wall and process-CPU nanoseconds.

        CPU time does not count the time the process waits for a core while other work runs
        on the machine, so it is the steadier figure on a loaded machine (single-threaded).
        """
        fn, args, sync = self.fn, self.args, self.sync
        cpu_start = time.process_time_ns()
        start = time.perf_counter_ns()
        if sync is None:
            for _ in range(number):
                fn(*args)
        else:
            for _ in range(number):
                sync(fn(*args))
        wall = time.perf_counter_ns() - start
        return wall, time.process_time_ns() - cpu_start


def warm_up(item: Timed, config: TimingConfig) -> float:
    """Call until warm; return an estimate of one call's duration in nanoseconds.

    The first call (which may trace, jit-compile or plan) is not part of the estimate.
    """
    item.call()
    samples: list[int] = []
    deadline = time.perf_counter_ns() + int(config.warmup_s * 1e9)
    while len(samples) < config.warmup_calls or time.perf_counter_ns() < deadline:
        samples.append(item.block(1))
        if sum(samples) > 5 * config.budget_s * 1e9:  # very slow call: stop warming up
            break
    return float(min(samples))


def measure_interleaved(
    items: Sequence[Timed], estimates: Sequence[float], config: TimingConfig
) -> list[Stats]:
    """Time all ``items`` in round-robin blocks; ``estimates`` are from :func:`warm_up`."""
    numbers = [max(1, math.ceil(config.block_s * 1e9 / max(est, 1.0))) for est in estimates]
    block_ns = [n * max(est, 1.0) for n, est in zip(numbers, estimates, strict=True)]
    blocks = max(
        config.min_blocks, min(config.max_blocks, int(config.budget_s * 1e9 / max(block_ns)))
    )
    if max(block_ns) > 2e9:  # calls slower than 2 s: keep the run bounded
        blocks = 3
    per_call: list[list[float]] = [[] for _ in items]
    cpu_per_call: list[list[float]] = [[] for _ in items]
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        order = list(range(len(items)))
        shuffle = random.Random(0).shuffle
        for _ in range(blocks):
            shuffle(order)  # what a call leaves behind can speed up the next: see above
            for i in order:
                wall, cpu = items[i].block_with_cpu(numbers[i])
                per_call[i].append(wall / numbers[i])
                cpu_per_call[i].append(cpu / numbers[i])
    finally:
        if gc_was_enabled:
            gc.enable()
    return [
        replace(summarize(samples, n), cpu_median_ns=statistics.median(cpu))
        for samples, cpu, n in zip(per_call, cpu_per_call, numbers, strict=True)
    ]


def summarize(samples: Sequence[float], number: int = 1) -> Stats:
    """Median, quartiles and minimum of per-call times (``number`` calls per sample)."""
    if len(samples) >= 2:
        q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    else:
        q1 = median = q3 = samples[0]
    return Stats(
        median_ns=median,
        q1_ns=q1,
        q3_ns=q3,
        min_ns=min(samples),
        number=number,
        blocks=len(samples),
    )


def time_once_ns(fn: Callable[[], Any]) -> int:
    """Duration of a single call in nanoseconds (for cold-start measurements)."""
    start = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - start


def peak_traced_bytes(fn: Callable[[], Any]) -> int:
    """Peak memory traced by :mod:`tracemalloc` during one call, above what was live before.

    NumPy reports its array buffers to tracemalloc, so for NumPy code this is the peak of
    temporary arrays plus the result.
    """
    gc.collect()
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        if not already:
            tracemalloc.stop()
    return peak - before
