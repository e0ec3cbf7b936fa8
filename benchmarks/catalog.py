"""Every benchmark workload, in report order, from the modules that define them.

workloads           contractions and layers (einsum, attention, layer norm, ...)
workloads_kernels   layers with library kernels: RMS norm, a transformer block (issue 11)
workloads_gradients their gradients: tc.grad and tc.vjp against autograd (issue 13)
workloads_conv      index arithmetic: convolutions (issue 9)
workloads_windows   index arithmetic: pooling, Toeplitz and Hankel products (issue 9)
workloads_gather    tensor-valued indices: embeddings, segment sums, losses (issue 10)
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks import (
    workloads,
    workloads_conv,
    workloads_gather,
    workloads_gradients,
    workloads_kernels,
    workloads_windows,
)
from benchmarks.workloads import COMPILE_NAME, Workload

WORKLOADS: tuple[Workload, ...] = (
    *workloads.WORKLOADS,
    *workloads_kernels.WORKLOADS,
    *workloads_gradients.WORKLOADS,  # layers' gradients: in the group of the layers
    *workloads_conv.WORKLOADS,
    *workloads_windows.WORKLOADS,
    *workloads_gather.WORKLOADS,
)
WORKLOAD_NAMES: tuple[str, ...] = (*(w.name for w in WORKLOADS), COMPILE_NAME)


def select(names: Sequence[str] | None) -> tuple[tuple[Workload, ...], bool]:
    """The workloads named (all if None), and whether the compile-time benchmark is included."""
    if not names:
        return WORKLOADS, True
    unknown = sorted(set(names) - set(WORKLOAD_NAMES))
    if unknown:
        raise ValueError(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOAD_NAMES)}"
        )
    return tuple(w for w in WORKLOADS if w.name in names), COMPILE_NAME in names


for _workload in WORKLOADS:
    assert _workload.variants[0].role == "hand", _workload.name
    assert len({v.key for v in _workload.variants}) == len(_workload.variants), _workload.name
assert len(WORKLOAD_NAMES) == len(set(WORKLOAD_NAMES)), "workload names must be unique"
