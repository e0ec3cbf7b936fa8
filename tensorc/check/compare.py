"""One check's program and inputs (`Trial`), and each backend's outputs compared with the
reference's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import inf
from typing import Any

import numpy as np

from tensorc import backends
from tensorc.backends import Backend
from tensorc.check.report import REFERENCE, Difference, not_compared
from tensorc.errors import TensorcError
from tensorc.ir import nodes as ir
from tensorc.runtime import Program


@dataclass(frozen=True)
class Trial:
    """What every comparison of one check shares: the program, its random inputs and the
    reference's outputs."""

    src: str
    program: ir.Program
    reference: Program  # the program on NumPy, in float64, with no optimising passes
    arguments: list[Any]  # float64 values (rounded to `dtype`), in input order
    keywords: dict[str, int]  # the index sizes passed by keyword
    dtype: str  # what the backends compute in
    expected: list[np.ndarray]  # the reference's outputs
    names: list[str]  # the outputs' names
    seed: int
    compile: Callable[..., Program]  # (src, backend) -> the backend's compiled program


def compare_outputs(trial: Trial, backend: Backend) -> list[Difference]:
    """Each output of the program on `backend` against the reference; a backend that fails
    is reported, not raised."""
    try:
        program = trial.compile(trial.src, backend.name)
        with backend.precision(trial.dtype), np.errstate(all="ignore"):
            values = [on_backend(value, backend, trial.dtype) for value in trial.arguments]
            found = [to_numpy(out) for out in as_tuple(program(*values, **trial.keywords))]
    except Exception as error:  # the oracle reports a failing backend instead of stopping
        return not_compared(backend.name, trial.names, REFERENCE, describe(error))
    if len(found) != len(trial.expected):
        why = f"{len(found)} outputs but the reference has {len(trial.expected)}"
        return not_compared(backend.name, trial.names, REFERENCE, why)
    return [
        difference(backend.name, name, REFERENCE, actual, wanted)
        for name, actual, wanted in zip(trial.names, found, trial.expected, strict=True)
    ]


def difference(
    backend: str, value: str, against: str, actual: np.ndarray, expected: np.ndarray
) -> Difference:
    """The largest absolute and relative difference; equal non-finite values agree."""
    if actual.shape != expected.shape:
        why = f"shape {actual.shape} but {against} has shape {expected.shape}"
        return not_compared(backend, [value], against, why)[0]
    if (actual.dtype.kind == "b") != (expected.dtype.kind == "b"):
        why = f"dtype {actual.dtype} but {against} has dtype {expected.dtype}"
        return not_compared(backend, [value], against, why)[0]
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        gap = np.where(same, 0.0, np.abs(a - e))
    gap = np.where(np.isnan(gap), inf, gap)
    max_abs = float(gap.max(initial=0.0))
    scale = float(np.abs(e[np.isfinite(e)]).max(initial=0.0))
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else inf)
    return Difference(backend, value, against, max_abs, max_rel)


def nan_notes(expected: list[np.ndarray], names: list[str]) -> Iterator[str]:
    """A note for each output with NaNs in the reference: inputs outside a function's domain."""
    for name, value in zip(names, expected, strict=True):
        if value.dtype.kind in "fc":
            nans = int(np.count_nonzero(np.isnan(value)))
            if nans:
                yield (
                    f"{nans} of {np.size(value)} values of {name} are NaN in the reference "
                    "(a backend agrees where it has NaN too); positive=True (--positive) draws "
                    "inputs from [0.5, 1.5]"
                )


def on_backend(value: Any, backend: Backend, dtype: str) -> Any:
    """An argument as the backend's array in `dtype` (integers, which are positions, as they
    are); a Python float stays one."""
    if isinstance(value, float):
        return value
    array = np.asarray(value)
    return backend.from_numpy(array if array.dtype.kind in "iu" else array.astype(dtype))


def to_numpy(value: Any) -> np.ndarray:
    """An output of any backend as a NumPy array."""
    owner = backends.owner(value)
    return np.asarray(value) if owner is None else owner.to_numpy(value)


def as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def describe(error: Exception) -> str:
    """The first line of an error's message, to report it in a table."""
    message = (
        error.message if isinstance(error, TensorcError) else f"{type(error).__name__}: {error}"
    )
    return message.splitlines()[0] if message else type(error).__name__
