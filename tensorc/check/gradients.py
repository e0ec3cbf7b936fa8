"""The gradients of a check: each backend's own autodiff (its record's gradient oracle) of
``sum(output * cotangent)``, compared with central finite differences of the reference and
with each other."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc import backends
from tensorc.backends import Backend, GradientRequest
from tensorc.check.compare import Trial, as_tuple, describe, difference, on_backend
from tensorc.check.report import FINITE_DIFFERENCES, Difference, not_compared

STEP = 1e-6  # of the central finite differences


def compare_gradients(
    trial: Trial, autodiff: list[Backend], limit: int
) -> tuple[list[Difference], list[str]]:
    """Gradient differences of each backend in `autodiff`, and notes on what was not compared.
    Finite differences are taken only while the tensor inputs have at most `limit` elements."""
    tensors = [
        k
        for k, spec in enumerate(trial.program.inputs)
        if not spec.is_scalar and np.asarray(trial.arguments[k]).dtype.kind == "f"
    ]  # integer inputs are positions: they have no gradient
    outputs = [k for k, value in enumerate(trial.expected) if value.dtype.kind == "f"]
    if not tensors:
        return [], ["gradients not compared: the program has no tensor input"]
    if not outputs:
        return [], ["gradients not compared: the program has no float output"]
    if not autodiff:
        able = " or ".join(backend.name for backend in backends.with_gradients())
        return [], [f"gradients not compared: they need {able}"]
    rng = np.random.default_rng([trial.seed, 1])
    # Outputs that are not finite (a causal mask's -inf) get no weight in the loss.
    cotangents: dict[int, np.ndarray] = {}
    for k in outputs:
        value = trial.expected[k]
        cotangents[k] = np.where(np.isfinite(value), rng.standard_normal(value.shape), 0.0)
    names = [f"grad {trial.reference.inputs[k]}" for k in tensors]
    found: dict[str, list[np.ndarray]] = {}
    differences: list[Difference] = []
    for backend in autodiff:
        try:
            found[backend.name] = _oracle(trial, backend, tensors, cotangents)
        except Exception as error:  # reported, as for outputs
            differences += not_compared(backend.name, names, "-", describe(error))
    notes = []
    elements = sum(int(np.size(trial.arguments[k])) for k in tensors)
    nan = any(np.isnan(trial.expected[k]).any() for k in outputs)
    if elements > limit:
        notes.append(
            f"gradients not compared with finite differences: the tensor inputs have "
            f"{elements} elements (the limit is {limit})"
        )
    elif nan:
        notes.append(
            "gradients not compared with finite differences: the reference output has NaNs"
        )
    elif found:
        estimate = _finite_differences(trial, tensors, cotangents)
        for backend_name, grads in found.items():
            differences += _differences(backend_name, names, FINITE_DIFFERENCES, grads, estimate)
    ran = list(found)
    for backend_name in ran[1:]:
        differences += _differences(backend_name, names, ran[0], found[backend_name], found[ran[0]])
    if len(ran) == 1 and (nan or elements > limit):
        notes.append(f"gradients of {ran[0]} not compared: no other autodiff backend ran")
    return differences, notes


def _differences(
    backend: str,
    names: list[str],
    against: str,
    grads: list[np.ndarray],
    wanted: list[np.ndarray],
) -> list[Difference]:
    return [
        difference(backend, name, against, grad, want)
        for name, grad, want in zip(names, grads, wanted, strict=True)
    ]


def _oracle(
    trial: Trial, backend: Backend, tensors: list[int], cotangents: dict[int, np.ndarray]
) -> list[np.ndarray]:
    """The gradients that the backend's own autodiff computes, as float64 arrays."""
    assert backend.gradients is not None
    program = trial.compile(trial.src, backend.name)
    with backend.precision(trial.dtype):
        request = GradientRequest(
            call=lambda *values: as_tuple(program(*values, **trial.keywords)),
            arguments=[on_backend(value, backend, trial.dtype) for value in trial.arguments],
            wrt=tensors,
            cotangents={
                k: backend.from_numpy(c.astype(trial.dtype)) for k, c in cotangents.items()
            },
            dtype=trial.dtype,
        )
        return backend.gradients(request)


def _finite_differences(
    trial: Trial, tensors: list[int], cotangents: dict[int, np.ndarray]
) -> list[np.ndarray]:
    """Central differences of the reference's loss, in float64."""

    def loss(values: list[Any]) -> float:
        found = as_tuple(trial.reference(*values, **trial.keywords))
        return sum(
            float(np.sum(np.where(c != 0, np.asarray(found[k], dtype=np.float64) * c, 0.0)))
            for k, c in cotangents.items()
        )

    grads = []
    with np.errstate(all="ignore"):
        for k in tensors:
            base = trial.arguments[k]
            grad = np.zeros(np.shape(base))
            for where in np.ndindex(grad.shape):
                values = list(trial.arguments)
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
