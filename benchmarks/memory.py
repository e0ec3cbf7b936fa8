"""Peak memory of one call, measured as each framework allows on a CPU:

- NumPy: :mod:`tracemalloc`, which sees NumPy's array buffers;
- PyTorch: the process's peak resident memory (VmHWM, reset through /proc/self/clear_refs)
  above what was resident before the call, with every allocation of 64 KiB or more given its
  own mapping (``mallopt``) and the heap trimmed before the call (``malloc_trim``), so that
  freed memory leaves at once and the peak is what was live. That setting slows allocation, so the driver measures after every timing is done
  (`deferred`). (torch.profiler's memory events miss what autograd's backward allocates.)
- JAX: XLA's buffer assignment for the jitted call (``memory_analysis()``): the temporary
  buffers plus the outputs.

Each figure is the memory the call needs above its inputs, the result included.
"""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path
from typing import Any

from benchmarks.frameworks import Framework
from benchmarks.timing import Timed, peak_traced_bytes

METHODS = {
    "numpy": "tracemalloc",
    "torch": "peak resident memory, large allocations mapped apart",
    "jax": "XLA buffer assignment: temporaries + outputs",
}
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MAPPED_FROM = 64 * 1024
REPEATS = 7


def deferred(fw: Framework) -> bool:
    """Whether measuring changes the process (PyTorch): measure after all timing."""
    return fw.name == "torch"


def peak_bytes(fw: Framework, timed: Timed) -> int | None:
    """The peak memory of one call of `timed` above what was live before, or None where it
    cannot be measured."""
    if fw.name == "numpy":
        return peak_traced_bytes(timed.call)
    if fw.name == "torch":
        return _resident_peak(timed)
    if fw.name == "jax":
        return _jax_peak(timed)
    return None


def _resident_peak(timed: Timed) -> int | None:
    status = Path("/proc/self/status")
    libc = _libc()
    if libc is None or not status.exists():
        return None
    libc.mallopt(M_MMAP_THRESHOLD, MAPPED_FROM)
    timed.call()
    peaks = []
    gc.collect()  # once (it takes ~0.1 s with torch loaded); results go by reference count
    for _ in range(REPEATS):  # the least: page accounting only ever adds
        libc.malloc_trim(0)  # free memory in the heap goes back: reusing it counts again
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        before = _status_bytes(status, "VmRSS")
        result = timed.call()
        peaks.append(_status_bytes(status, "VmHWM") - before)
        del result
    return min(peaks)


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _status_bytes(status: Path, key: str) -> int:
    for line in status.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _jax_peak(timed: Timed) -> int | None:
    lower = getattr(timed.fn, "lower", None)
    if lower is None:
        return None
    analysis: Any = lower(*timed.args).compile().memory_analysis()
    if analysis is None:
        return None
    return int(analysis.temp_size_in_bytes + analysis.output_size_in_bytes)
