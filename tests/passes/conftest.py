"""Shared checks for the pass tests.

Each pass test pairs a program with the IR text that the pass alone makes of it, and executes
the program on NumPy, JAX and PyTorch (the `backend` fixture): with only that pass, and with
the full pipeline, the answers must equal those of the same program compiled with `passes=()`. The fixtures below
hand those helpers to the tests (fixtures rather than imports, so that the helpers live in
this folder without colliding with other folders' modules).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from backend_arrays import BACKENDS, to_backend, to_numpy

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.ir.printer import format_program
from tensorc.ir.shapes import Sizes, reads
from tensorc.passes import PASSES, Pass


def ir_after(source: str, *passes: Pass, sizes: Sizes = UNKNOWN_SIZES) -> str:
    """The IR text of `source` after applying `passes` (none: the lowered, unoptimised IR)."""
    program = front_end(source)
    for apply in passes:
        program = apply(program, sizes)
    return format_program(program)


def example_arguments(
    source: str,
    *,
    seed: int = 0,
    low: float = 0.5,
    high: float = 1.5,
    index_sizes: dict[str, int] | None = None,
) -> tuple[list[Any], dict[str, int]]:
    """Inputs for `source` in positional order (positive float64 arrays, Python floats for
    scalars) and the keyword sizes it needs. Index k of first appearance gets size 2 + k % 3."""
    program = front_end(source)
    names: list[str] = []
    for _, var in reads(program):
        for label in var.labels:
            for part in label.strip("()").split():
                if part != "..." and part not in names:
                    names.append(part)
    chosen = {name: 2 + k % 3 for k, name in enumerate(names)}
    chosen.update(index_sizes or {})
    for spec in program.size_params:
        chosen.setdefault(spec.index, 3)
    sizes = Sizes(chosen, ellipsis=(2,))
    labels = {var.name: var.labels for _, var in reads(program)}
    rng = np.random.default_rng(seed)
    arguments: list[Any] = []
    for spec in program.inputs:
        if spec.is_scalar:
            arguments.append(float(rng.uniform(low, high)))
        else:
            arguments.append(rng.uniform(low, high, size=sizes.shape(labels[spec.name])))
    keywords = {spec.index: chosen[spec.index] for spec in program.size_params}
    return arguments, keywords


def run(
    source: str,
    backend: str,
    passes: Sequence[Pass],
    arguments: Sequence[Any],
    keywords: dict[str, int],
) -> Any:
    """`source` compiled for `backend` with `passes`, called, the result as NumPy."""
    program = tc.compile(source, backend=backend, passes=tuple(passes))
    return to_numpy(program(*(to_backend(a, backend) for a in arguments), **keywords))


def assert_close(actual: Any, expected: Any, context: str) -> None:
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), context
        for a, e in zip(actual, expected, strict=True):
            assert_close(a, e, context)
        return
    assert actual.shape == expected.shape, context
    single = np.float32 in (actual.dtype, expected.dtype)
    np.testing.assert_allclose(
        actual,
        expected,
        rtol=2e-5 if single else 1e-9,
        atol=1e-5 if single else 1e-12,
        equal_nan=True,
        err_msg=context,
    )


def assert_same_answers(
    source: str,
    passes: Sequence[Pass],
    backend: str,
    *,
    arguments: tuple[list[Any], dict[str, int]] | None = None,
    reference: Callable[..., Any] | None = None,
) -> None:
    """On `backend`, `source` with `passes` and with the full pipeline computes what it
    computes with no optimising passes; with `reference` (NumPy), that is also its answer."""
    args, keywords = arguments or example_arguments(source)
    unoptimised = run(source, backend, (), args, keywords)
    for chosen in (tuple(passes), PASSES):
        optimised = run(source, backend, chosen, args, keywords)
        names = [p.__name__ for p in chosen]
        assert_close(optimised, unoptimised, f"{backend} with {names}: {source!r}")
    if reference is not None:
        expected = np.asarray(reference(*args, **keywords), dtype=float)
        assert_close(unoptimised, expected, f"{backend} reference: {source!r}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that takes `backend` runs once per backend."""
    return request.param


@pytest.fixture
def ir_text() -> Callable[..., str]:
    return ir_after


@pytest.fixture
def same_answers() -> Callable[..., None]:
    return assert_same_answers


@pytest.fixture
def arguments_for() -> Callable[..., tuple[list[Any], dict[str, int]]]:
    return example_arguments


@pytest.fixture
def run_program() -> Callable[..., Any]:
    return run
