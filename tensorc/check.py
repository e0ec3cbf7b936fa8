"""`tc.check`: the cross-backend oracle for any program.

A program runs on random inputs on every installed backend, and each output is compared with
a NumPy float64 reference: the same program compiled for NumPy with no optimising passes, so
the passes are checked too. For programs with float outputs and tensor inputs, the gradients
of ``sum(output * cotangent)`` (a fixed random cotangent) with respect to every tensor input,
taken with ``jax.grad`` and ``torch.autograd``, are compared with each other and, for small
inputs, with central finite differences of the reference in float64.

>>> print(check("C[i, k] = A[i, j] * B[j, k]", backends=["numpy"]))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from math import inf, prod
from typing import Any

import numpy as np

from tensorc import compiler
from tensorc.backends import BACKENDS as REGISTRY
from tensorc.errors import TensorcError
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import ELLIPSIS, label_parts
from tensorc.ir.shapes import KeywordSize, reads, size_sources
from tensorc.runtime import Program, compile_program

DEFAULT_SIZE = 3  # every index whose size no --shape or --size gives
DEFAULT_BATCH = (2,)  # the '...' dimensions when no --shape gives them
DEFAULT_TOLERANCE = 1e-5
FINITE_DIFFERENCE_LIMIT = 1000  # input elements; beyond, gradients are compared across backends
STEP = 1e-6  # of the central finite differences
AUTODIFF = ("jax", "torch")
REFERENCE = "reference"
FINITE_DIFFERENCES = "finite diff"


@dataclass(frozen=True)
class Difference:
    """How far one backend's value (an output, or a gradient) is from what it is checked against.

    `max_rel` is `max_abs` divided by the largest finite magnitude of the reference value.
    `error` says why there is no value to compare (the backend failed, or gave the wrong shape).
    """

    backend: str
    value: str  # an output's name, or "grad A"
    against: str  # "reference", "finite diff", or the backend it is compared with
    max_abs: float
    max_rel: float
    error: str | None = None

    def within(self, tolerance: float) -> bool:
        """Whether the absolute or the relative difference is at most `tolerance`."""
        return self.error is None and (self.max_abs <= tolerance or self.max_rel <= tolerance)


@dataclass(frozen=True)
class CheckReport:
    """What `check` found: one `Difference` per backend and value, and what was not checked."""

    source: str
    inputs: Mapping[str, tuple[int, ...]]  # the shape of every input (() for a scalar)
    sizes: Mapping[str, int]  # the size of every index
    differences: tuple[Difference, ...]
    skipped: Mapping[str, str]  # backend -> why it was not run
    notes: tuple[str, ...]
    tolerance: float
    dtype: str
    seed: int

    @property
    def ok(self) -> bool:
        """Every difference is within the tolerance, and no backend failed."""
        return all(d.within(self.tolerance) for d in self.differences)

    @property
    def failures(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.within(self.tolerance))

    @property
    def max_abs(self) -> float:
        """The largest absolute difference of all (0 when nothing was compared)."""
        return max((d.max_abs for d in self.differences), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((d.max_rel for d in self.differences), default=0.0)

    def __str__(self) -> str:
        inputs = ", ".join(f"{name} {_shape_text(shape)}" for name, shape in self.inputs.items())
        sizes = " ".join(f"{index}={size}" for index, size in self.sizes.items())
        lines = [
            f"tensorc check: {_first_line(self.source)}",
            f"inputs: {inputs or '(none)'}",
            f"sizes: {sizes or '(none)'}; {self.dtype} inputs, seed {self.seed}",
            "reference: the program on NumPy in float64, with no optimising passes",
            "",
        ]
        header = ("backend", "value", "against", "max abs", "max rel", f"within {self.tolerance:g}")
        rows = [header]
        for d in self.differences:
            verdict = "error" if d.error else "yes" if d.within(self.tolerance) else "NO"
            numbers = ("-", "-") if d.error else (_number(d.max_abs), _number(d.max_rel))
            rows.append((d.backend, d.value, d.against, *numbers, verdict))
        widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (rows if self.differences else [])
        ]
        errors = [f"{d.backend} {d.value}: {d.error}" for d in self.differences if d.error]
        if errors:
            lines += ["", "errors:", *(f"  {text}" for text in errors)]
        if self.skipped:
            lines.append("")
            lines += [f"skipped {backend}: {why}" for backend, why in self.skipped.items()]
        if self.notes:
            lines.append("")
            lines += [f"note: {note}" for note in self.notes]
        lines.append("")
        largest = f"largest difference {_number(self.max_abs)} abs, {_number(self.max_rel)} rel"
        failed = len(self.failures)
        if not self.differences:
            lines.append("nothing was compared: every backend named was skipped")
        elif failed:
            lines.append(
                f"FAILED: {failed} of {len(self.differences)} are not within {self.tolerance:g} "
                f"({largest})"
            )
        else:
            lines.append(f"ok: every difference is within {self.tolerance:g} ({largest})")
        return "\n".join(lines)


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
    all rounded to `dtype` ("float64" or "float32") for the backends. Errors of the program itself raise `TensorcError`; a backend
    that fails is reported, not raised.
    """
    if dtype not in ("float64", "float32"):
        raise TensorcError(f"dtype must be 'float64' or 'float32', not {dtype!r}")
    if not isinstance(tolerance, int | float) or not 0 <= tolerance < inf:
        raise TensorcError(f"the tolerance must be a non-negative number, not {tolerance!r}")
    chosen = _backends(backends)
    program = compiler.front_end(src)
    reference = compile_program(src, "numpy", passes=())
    arguments, keywords = _arguments(
        program, reference, shapes or {}, sizes or {}, seed, dtype, positive
    )
    found_sizes = reference.sizes_for(*arguments, **keywords)  # ShapeError for bad shapes
    index_sizes = {i: found_sizes[i] for i in size_sources(program) if i in found_sizes}
    with np.errstate(all="ignore"):
        expected = _as_tuple(reference(*arguments, **keywords))
    expected_arrays = [np.asarray(value) for value in expected]
    names = _output_names(reference, len(expected_arrays))
    skipped = {backend: why for backend in chosen if (why := _unavailable(backend))}
    active = [backend for backend in chosen if backend not in skipped]

    differences: list[Difference] = []
    for backend in active:
        differences += _compare_outputs(
            src, backend, arguments, keywords, dtype, expected_arrays, names
        )
    notes = list(_nan_notes(expected_arrays, names))
    run = _Run(src, reference, arguments, keywords, dtype, program, expected_arrays, seed)
    found, gradient_notes = run.gradients([b for b in active if b in AUTODIFF])
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


# --- inputs ---------------------------------------------------------------------------------


def _backends(backends: Sequence[str] | None) -> list[str]:
    if backends is None:
        return list(REGISTRY)
    if isinstance(backends, str):
        backends = [b.strip() for b in backends.split(",") if b.strip()]
    for backend in backends:
        compiler.check_backend(backend)
    return list(dict.fromkeys(backends))


def _unavailable(backend: str) -> str | None:
    """Why a backend cannot run here (None when it can)."""
    try:
        found = importlib.util.find_spec(backend) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else "not installed"


def _arguments(
    program: ir.Program,
    reference: Program,
    shapes: Mapping[str, Sequence[int]],
    sizes: Mapping[str, int],
    seed: int,
    dtype: str,
    positive: bool,
) -> tuple[list[Any], dict[str, int]]:
    """Random inputs in input order (float64 values, already rounded to `dtype`) and the index
    sizes to pass by keyword."""
    labels = _input_labels(program)
    given = {name: _valid_shape(name, shape) for name, shape in dict(shapes).items()}
    for index, size in sizes.items():
        if _count(size) is None:
            raise TensorcError(f"the size {index}={size!r} must be a non-negative int")
    sizes = {index: int(size) for index, size in sizes.items()}
    for name in given:
        if name not in labels:
            inputs = ", ".join(reference.inputs) or "none"
            raise TensorcError(f"'{name}' is not an input of the program (its inputs: {inputs})")
    index_sizes, batch, keywords = _solve_sizes(program, labels, given, sizes)
    rng = np.random.default_rng(seed)
    low, high = (0.5, 1.5) if positive else (-1.0, 1.0)
    arguments: list[Any] = []
    for name, axes in labels.items():
        shape = given[name] if name in given else _shape(axes, index_sizes, batch)
        if axes is None and shape == ():
            # A scalar input is a Python float, and positive: scalars are mostly scales,
            # epsilons and sizes (`sqrt(dk)`). An array given for one by `shapes` is left for
            # the runtime to refuse with its own message.
            arguments.append(float(np.float64(rng.uniform(0.5, 1.5)).astype(dtype)))
        else:
            arguments.append(rng.uniform(low, high, shape).astype(dtype).astype(np.float64))
    return arguments, keywords


def _valid_shape(name: str, shape: Any) -> tuple[int, ...]:
    """A shape as a tuple of ints; TensorcError for anything else."""
    dims = tuple(shape) if isinstance(shape, Iterable) and not isinstance(shape, str) else None
    sizes = None if dims is None else [_count(n) for n in dims]
    if sizes is None or None in sizes:
        raise TensorcError(f"the shape of {name} must be non-negative ints, not {shape!r}")
    return tuple(n for n in sizes if n is not None)


def _count(value: Any) -> int | None:
    """A non-negative int (numpy's ints too), or None."""
    if isinstance(value, bool):
        return None
    try:
        number = operator.index(value)
    except TypeError:
        return None
    return number if number >= 0 else None


def _input_labels(program: ir.Program) -> dict[str, tuple[str, ...] | None]:
    """Each input's axis labels where it is first read (None for a scalar), in input order."""
    first: dict[str, tuple[str, ...]] = {}
    for _, var in reads(program):
        first.setdefault(var.name, var.labels)
    return {
        spec.name: None if spec.is_scalar else first.get(spec.name, ()) for spec in program.inputs
    }


def _solve_sizes(
    program: ir.Program,
    labels: Mapping[str, tuple[str, ...] | None],
    given: Mapping[str, tuple[int, ...]],
    sizes: Mapping[str, int],
) -> tuple[dict[str, int], tuple[int, ...], dict[str, int]]:
    """Every index's size (from `sizes`, then from the given input shapes, then the default),
    the '...' dimensions, and the sizes to pass by keyword.

    Disagreements are left for the runtime's shape check, which reports them with a caret: so
    the factors of a given composed axis are passed by keyword only where the caller gave them,
    or where several were unknown and this chose them."""
    solved = dict(sizes)
    batch: tuple[int, ...] | None = None
    composed: list[tuple[tuple[str, ...], int]] = []
    for name, shape in given.items():
        axes = labels[name] or ()
        for label, size in _aligned(axes, shape):
            if label.startswith("("):
                composed.append((label_parts(label), size))
            else:
                solved.setdefault(label, size)
        if ELLIPSIS in axes and batch is None and len(shape) >= len(axes) - 1:
            split = axes.index(ELLIPSIS)
            batch = shape[split : len(shape) - (len(axes) - split - 1)]
    chosen = _solve_composed(composed, solved)
    sources = size_sources(program)
    for index in sources:
        solved.setdefault(index, DEFAULT_SIZE)
    in_given = {part for parts, _ in composed for part in parts}
    keywords = {
        index: solved[index]
        for index, where in sources.items()
        if isinstance(where, KeywordSize) and (index not in in_given or index in chosen)
    }
    keywords.update(sizes)
    return solved, batch if batch is not None else DEFAULT_BATCH, keywords


def _aligned(axes: tuple[str, ...], shape: tuple[int, ...]) -> Iterator[tuple[str, int]]:
    """(label, size) for each named axis of an input of this shape; nothing if the ranks differ."""
    if ELLIPSIS not in axes:
        if len(axes) == len(shape):
            yield from zip(axes, shape, strict=True)
        return
    split = axes.index(ELLIPSIS)
    after = len(axes) - split - 1
    if len(shape) < len(axes) - 1:
        return
    yield from zip(axes[:split], shape[:split], strict=True)
    yield from zip(axes[split + 1 :], shape[len(shape) - after :], strict=True)


def _solve_composed(
    composed: list[tuple[tuple[str, ...], int]], solved: dict[str, int]
) -> set[str]:
    """Sizes of the indices merged in given composed axes: the one unknown factor is solved for;
    where several are unknown, all but the last get the default size if it divides (else 1).
    Returns the indices chosen that way."""
    chosen: set[str] = set()
    while True:
        progress = False
        for parts, size in composed:
            unknown = [part for part in parts if part not in solved]
            known = prod(solved[part] for part in parts if part in solved)
            if len(unknown) == 1 and known and size % known == 0:
                solved[unknown[0]] = size // known
                progress = True
        if progress:
            continue
        for parts, size in composed:
            unknown = [part for part in parts if part not in solved]
            known = prod(solved[part] for part in parts if part in solved)
            if len(unknown) > 1 and known and size % known == 0:
                rest = size // known
                solved[unknown[0]] = DEFAULT_SIZE if rest % DEFAULT_SIZE == 0 else 1
                chosen.add(unknown[0])
                progress = True
                break
        if not progress:
            return chosen


def _shape(
    axes: tuple[str, ...] | None, sizes: Mapping[str, int], batch: tuple[int, ...]
) -> tuple[int, ...]:
    shape: list[int] = []
    for label in axes or ():
        if label == ELLIPSIS:
            shape.extend(batch)
        else:
            shape.append(prod(sizes[part] for part in label_parts(label)))
    return tuple(shape)


# --- outputs --------------------------------------------------------------------------------


def _compare_outputs(
    src: str,
    backend: str,
    arguments: list[Any],
    keywords: dict[str, int],
    dtype: str,
    expected: list[np.ndarray],
    names: list[str],
) -> list[Difference]:
    try:
        program = compile_program(src, backend)
        with _precision(backend, dtype), np.errstate(all="ignore"):
            values = [_to_backend(value, backend, dtype) for value in arguments]
            found = [_to_numpy(out) for out in _as_tuple(program(*values, **keywords))]
    except Exception as error:  # the oracle reports a failing backend instead of stopping
        return [Difference(backend, name, REFERENCE, inf, inf, _describe(error)) for name in names]
    if len(found) != len(expected):
        why = f"{len(found)} outputs but the reference has {len(expected)}"
        return [Difference(backend, name, REFERENCE, inf, inf, why) for name in names]
    return [
        _difference(backend, name, REFERENCE, actual, wanted)
        for name, actual, wanted in zip(names, found, expected, strict=True)
    ]


def _difference(
    backend: str, value: str, against: str, actual: np.ndarray, expected: np.ndarray
) -> Difference:
    """The largest absolute and relative difference; equal non-finite values agree."""
    if actual.shape != expected.shape:
        why = f"shape {actual.shape} but {against} has shape {expected.shape}"
        return Difference(backend, value, against, inf, inf, why)
    if (actual.dtype.kind == "b") != (expected.dtype.kind == "b"):
        why = f"dtype {actual.dtype} but {against} has dtype {expected.dtype}"
        return Difference(backend, value, against, inf, inf, why)
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


def _nan_notes(expected: list[np.ndarray], names: list[str]) -> Iterator[str]:
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


# --- gradients ------------------------------------------------------------------------------


@dataclass
class _Run:
    """One check's program and inputs, for the gradients."""

    src: str
    reference: Program
    arguments: list[Any]
    keywords: dict[str, int]
    dtype: str
    program: ir.Program
    expected: list[np.ndarray]
    seed: int

    def gradients(self, backends: list[str]) -> tuple[list[Difference], list[str]]:
        """Gradient differences of each autodiff backend, and notes on what was not compared."""
        tensors = [k for k, spec in enumerate(self.program.inputs) if not spec.is_scalar]
        outputs = [k for k, value in enumerate(self.expected) if value.dtype.kind == "f"]
        if not tensors:
            return [], ["gradients not compared: the program has no tensor input"]
        if not outputs:
            return [], ["gradients not compared: the program has no float output"]
        if not backends:
            return [], ["gradients not compared: they need jax or torch"]
        rng = np.random.default_rng([self.seed, 1])
        # Outputs that are not finite (a causal mask's -inf) get no weight in the loss.
        cotangents = [
            np.where(
                np.isfinite(self.expected[k]), rng.standard_normal(self.expected[k].shape), 0.0
            )
            for k in outputs
        ]
        names = [f"grad {self.reference.inputs[k]}" for k in tensors]
        found: dict[str, list[np.ndarray]] = {}
        differences: list[Difference] = []
        for backend in backends:
            try:
                found[backend] = self._autodiff(backend, tensors, outputs, cotangents)
            except Exception as error:  # reported, as for outputs
                why = _describe(error)
                differences += [Difference(backend, name, "-", inf, inf, why) for name in names]
        notes = []
        elements = sum(int(np.size(self.arguments[k])) for k in tensors)
        nan = any(np.isnan(self.expected[k]).any() for k in outputs)
        if elements > FINITE_DIFFERENCE_LIMIT:
            notes.append(
                f"gradients not compared with finite differences: the tensor inputs have "
                f"{elements} elements (the limit is {FINITE_DIFFERENCE_LIMIT})"
            )
        elif nan:
            notes.append(
                "gradients not compared with finite differences: the reference output has NaNs"
            )
        elif found:
            estimate = self._finite_differences(tensors, outputs, cotangents)
            for backend, grads in found.items():
                differences += [
                    _difference(backend, name, FINITE_DIFFERENCES, grad, want)
                    for name, grad, want in zip(names, grads, estimate, strict=True)
                ]
        ran = list(found)
        for backend in ran[1:]:
            differences += [
                _difference(backend, name, ran[0], grad, want)
                for name, grad, want in zip(names, found[backend], found[ran[0]], strict=True)
            ]
        if len(ran) == 1 and (nan or elements > FINITE_DIFFERENCE_LIMIT):
            notes.append(f"gradients of {ran[0]} not compared: no other autodiff backend ran")
        return differences, notes

    def _autodiff(
        self, backend: str, tensors: list[int], outputs: list[int], cotangents: list[np.ndarray]
    ) -> list[np.ndarray]:
        program = compile_program(self.src, backend)
        with _precision(backend, self.dtype):
            if backend == "jax":
                return _jax_gradients(program, self, tensors, outputs, cotangents)
            return _torch_gradients(program, self, tensors, outputs, cotangents)

    def _finite_differences(
        self, tensors: list[int], outputs: list[int], cotangents: list[np.ndarray]
    ) -> list[np.ndarray]:
        """Central differences of the reference's loss, in float64."""

        def loss(values: list[Any]) -> float:
            found = _as_tuple(self.reference(*values, **self.keywords))
            return sum(
                float(np.sum(np.where(c != 0, np.asarray(found[k], dtype=np.float64) * c, 0.0)))
                for k, c in zip(outputs, cotangents, strict=True)
            )

        grads = []
        with np.errstate(all="ignore"):
            for k in tensors:
                base = self.arguments[k]
                grad = np.zeros(np.shape(base))
                for where in np.ndindex(grad.shape):
                    values = list(self.arguments)
                    bumped = base.copy()
                    bumped[where] = base[where] + STEP
                    values[k] = bumped
                    up = loss(values)
                    bumped = base.copy()
                    bumped[where] = base[where] - STEP
                    values[k] = bumped
                    grad[where] = (up - loss(values)) / (2 * STEP)
                grads.append(grad)
        return grads


def _jax_gradients(
    program: Program,
    run: _Run,
    tensors: list[int],
    outputs: list[int],
    cotangents: list[np.ndarray],
) -> list[np.ndarray]:
    import jax
    import jax.numpy as jnp

    values = [_to_backend(value, "jax", run.dtype) for value in run.arguments]
    weights = [jnp.asarray(c.astype(run.dtype)) for c in cotangents]

    def loss(*diff: Any) -> Any:
        current = list(values)
        for k, value in zip(tensors, diff, strict=True):
            current[k] = value
        found = _as_tuple(program(*current, **run.keywords))
        total = jnp.zeros((), run.dtype)
        for k, weight in zip(outputs, weights, strict=True):
            total = total + jnp.sum(found[k] * weight)
        return total

    grads = jax.grad(loss, argnums=tuple(range(len(tensors))))(*(values[k] for k in tensors))
    return [np.asarray(g, dtype=np.float64) for g in grads]


def _torch_gradients(
    program: Program,
    run: _Run,
    tensors: list[int],
    outputs: list[int],
    cotangents: list[np.ndarray],
) -> list[np.ndarray]:
    import torch

    values = [_to_backend(value, "torch", run.dtype) for value in run.arguments]
    leaves = [values[k].requires_grad_(True) for k in tensors]
    found = _as_tuple(program(*values, **run.keywords))
    total = torch.zeros((), dtype=getattr(torch, run.dtype))
    for k, c in zip(outputs, cotangents, strict=True):
        total = total + (found[k] * torch.from_numpy(c.astype(run.dtype))).sum()
    if not total.requires_grad:  # no output depends on a tensor input
        return [np.zeros(leaf.shape) for leaf in leaves]
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [
        np.zeros(leaf.shape) if g is None else g.detach().cpu().numpy().astype(np.float64)
        for leaf, g in zip(leaves, grads, strict=True)
    ]


# --- helpers --------------------------------------------------------------------------------


def _precision(backend: str, dtype: str) -> AbstractContextManager[Any]:
    """JAX computes in float32 unless 64-bit types are on: turn them on for float64 checks."""
    if backend != "jax" or dtype != "float64":
        return nullcontext()
    import jax

    enable: Callable[[bool], AbstractContextManager[Any]] | None = getattr(jax, "enable_x64", None)
    if enable is None:  # older jax has it in jax.experimental
        enable = getattr(importlib.import_module("jax.experimental"), "enable_x64", None)
    return nullcontext() if enable is None else enable(True)


def _to_backend(value: Any, backend: str, dtype: str) -> Any:
    if isinstance(value, float):
        return value
    array = np.asarray(value).astype(dtype)
    if backend == "torch":
        import torch

        return torch.from_numpy(array)
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(array)
    return array


def _to_numpy(value: Any) -> np.ndarray:
    if type(value).__module__.startswith("torch"):
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _output_names(program: Program, count: int) -> list[str]:
    names = list(program.outputs)
    return names if len(names) == count else [f"output {k}" for k in range(count)]


def _describe(error: Exception) -> str:
    message = (
        error.message if isinstance(error, TensorcError) else f"{type(error).__name__}: {error}"
    )
    return message.splitlines()[0] if message else type(error).__name__


def _number(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _first_line(source: str) -> str:
    lines = [line.strip() for line in source.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return (lines[0] if len(lines[0]) <= 60 else lines[0][:57] + "...") + more
