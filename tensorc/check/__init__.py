"""`tc.check`: the cross-backend oracle for any program.

A program runs on random inputs on every installed backend, and each output is compared with
a NumPy float64 reference: the same program compiled for NumPy with no optimising passes, so
the passes are checked too. For programs with float outputs and tensor inputs, the gradients
of ``sum(output * cotangent)`` (a fixed random cotangent) with respect to every tensor input,
taken with each backend's own autodiff (its record's gradient oracle), are compared with each
other and, for small inputs, with central finite differences of the reference in float64.

The package: `report` (what was found, and its text), `inputs` (random arguments, sizes solved),
`compare` (outputs against the reference), `gradients` (each oracle against finite differences).

>>> print(check("C[i, k] = A[i, j] * B[j, k]", backends=["numpy"]))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import inf

import numpy as np

from tensorc import backends as registry
from tensorc import compiler
from tensorc.backends import Backend
from tensorc.check.compare import Trial, as_tuple, compare_outputs, nan_notes
from tensorc.check.gradients import compare_gradients
from tensorc.check.inputs import random_arguments
from tensorc.check.report import CheckReport, Difference
from tensorc.errors import TensorcError
from tensorc.ir.labels import Extent
from tensorc.ir.nodes import display_name
from tensorc.ir.sources import size_sources
from tensorc.runtime import Program, compile_program

DEFAULT_TOLERANCE = 1e-5
FINITE_DIFFERENCE_LIMIT = 1000  # input elements; beyond, gradients are compared across backends


def check(
    src: str,
    shapes: Mapping[str, Sequence[int]] | None = None,
    sizes: Mapping[str, int] | None = None,
    backends: Sequence[str] | None = None,
    seed: int = 0,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    dtype: str = "float64",
    positive: bool = False,
) -> CheckReport:
    """Runs `src` on every installed backend (or those named) with random inputs and compares
    each output, and the gradients, with the NumPy float64 reference.

    `shapes` gives input shapes by name and `sizes` index sizes; every other index has size 3
    (and '...' is one batch axis of size 2). Tensor inputs are uniform in [-1, 1] (in [0.5, 1.5]
    with `positive`, for programs that take logs or square roots), scalar inputs in [0.5, 1.5],
    all rounded to `dtype` ("float64" or "float32") for the backends. Errors of the program
    itself raise `TensorcError`; a backend that fails is reported, not raised.
    """
    if dtype not in ("float64", "float32"):
        raise TensorcError(f"dtype must be 'float64' or 'float32', not {dtype!r}")
    if not isinstance(tolerance, int | float) or not 0 <= tolerance < inf:
        raise TensorcError(f"the tolerance must be a non-negative number, not {tolerance!r}")
    chosen = _chosen(backends)
    program = compiler.front_end(src)
    reference = compile_program(src, "numpy", passes=())
    arguments, keywords = random_arguments(
        program, reference, shapes or {}, sizes or {}, seed, dtype, positive
    )
    found_sizes = reference.sizes_for(*arguments, **keywords)  # ShapeError for bad shapes
    index_sizes = {_size_name(i): found_sizes[i] for i in size_sources(program) if i in found_sizes}
    with np.errstate(all="ignore"):
        expected = as_tuple(reference(*arguments, **keywords))
    expected_arrays = [np.asarray(value) for value in expected]
    names = _output_names(reference, len(expected_arrays))
    skipped = {b.name: "not installed" for b in chosen if not b.installed()}
    active = [b for b in chosen if b.name not in skipped]
    trial = Trial(
        src=src,
        program=program,
        reference=reference,
        arguments=arguments,
        keywords=keywords,
        dtype=dtype,
        expected=expected_arrays,
        names=names,
        seed=seed,
        compile=compile_program,  # looked up here, so that tests can substitute a faulty one
    )
    differences: list[Difference] = []
    for backend in active:
        differences += compare_outputs(trial, backend)
    notes = list(nan_notes(expected_arrays, names))
    autodiff = [b for b in active if b.gradients is not None]
    found, gradient_notes = compare_gradients(trial, autodiff, limit=FINITE_DIFFERENCE_LIMIT)
    differences += found
    notes += gradient_notes
    return CheckReport(
        source=src,
        inputs={
            name: np.shape(value) for name, value in zip(reference.inputs, arguments, strict=True)
        },
        sizes=index_sizes,
        differences=tuple(differences),
        skipped=skipped,
        notes=tuple(notes),
        tolerance=tolerance,
        dtype=dtype,
        seed=seed,
    )


def _chosen(names: Sequence[str] | None) -> list[Backend]:
    """The backends named (a list, or one comma-separated str), or every registered one."""
    if names is None:
        return list(registry.BACKENDS.values())
    if isinstance(names, str):
        names = [b.strip() for b in names.split(",") if b.strip()]
    return [registry.backend(name) for name in dict.fromkeys(names)]


def _size_name(label: str) -> str:
    """An index, or an axis read or written at positions as the user names it (`S.0`)."""
    if isinstance(label, Extent):
        return f"{display_name(label.tensor)}.{label.axis}"
    return label


def _output_names(program: Program, count: int) -> list[str]:
    names = list(program.outputs)
    return names if len(names) == count else [f"output {k}" for k in range(count)]


__all__ = ["DEFAULT_TOLERANCE", "CheckReport", "Difference", "check"]
