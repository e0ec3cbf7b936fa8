"""Peak memory of one call, measured as each framework allows on a CPU:

- NumPy: :mod:`tracemalloc`, which sees NumPy's array buffers;
- PyTorch: ``torch.profiler`` with ``profile_memory=True``: the allocations and frees of the
  call in time order, summed, and their highest total (an operation's own scratch memory, freed
  before it returns, is not seen);
- JAX: XLA's buffer assignment for the jitted call (``memory_analysis()``): the temporary
  buffers plus the outputs.

Each figure is the memory the call needs above its inputs, the result included.
"""

from __future__ import annotations

import gc
from typing import Any

from benchmarks.frameworks import Framework
from benchmarks.timing import Timed, peak_traced_bytes

METHODS = {
    "numpy": "tracemalloc",
    "torch": "torch.profiler memory events",
    "jax": "XLA buffer assignment: temporaries + outputs",
}


def peak_bytes(fw: Framework, timed: Timed) -> int | None:
    """The peak memory of one call of `timed` above what was live before, or None where it
    cannot be measured."""
    if fw.name == "numpy":
        return peak_traced_bytes(timed.call)
    if fw.name == "torch":
        return _torch_peak(timed)
    if fw.name == "jax":
        return _jax_peak(timed)
    return None


def _torch_peak(timed: Timed) -> int:
    from torch.profiler import ProfilerActivity, profile

    timed.call()
    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = timed.call()
        del result
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def _jax_peak(timed: Timed) -> int | None:
    lower = getattr(timed.fn, "lower", None)
    if lower is None:
        return None
    analysis: Any = lower(*timed.args).compile().memory_analysis()
    if analysis is None:
        return None
    return int(analysis.temp_size_in_bytes + analysis.output_size_in_bytes)
