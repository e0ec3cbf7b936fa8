"""Every corpus case gives the hand-written NumPy reference on every backend.

For each case and backend this checks the compiled function (backend named and backend chosen
from the argument types), the generated module ``f.source`` executed on its own, the module
specialised to the argument shapes, and calls by keyword.
"""

from __future__ import annotations

import inspect
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from corpus import CASES, JAX_SUBSET_IDS, PROGRAM_CASES, Case
from support import (
    BACKENDS,
    assert_matches,
    check_standalone_text,
    convert_all,
    exec_program,
    to_backend,
)

import tensorc as tc

ALL_PARAMS = [
    pytest.param(case, backend, id=f"{case.id}-{backend}") for case in CASES for backend in BACKENDS
]


def _params(cases: list[Case]) -> list[Any]:
    """Every case on numpy and torch; on JAX (every function is a fresh XLA compile) the
    representative subset JAX_SUBSET_IDS."""
    return [
        pytest.param(case, backend, id=f"{case.id}-{backend}")
        for case in cases
        for backend in BACKENDS
        if backend != "jax" or case.id in JAX_SUBSET_IDS
    ]


REPEAT_PARAMS = _params(CASES)
PROGRAM_PARAMS = _params(PROGRAM_CASES)


def accepted_keywords(function: Any, sizes: dict[str, int]) -> dict[str, int]:
    """The size keywords that ``function`` declares (a specialised module bakes sizes in)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(sizes)
    return {name: size for name, size in sizes.items() if name in parameters}


def run_case(case: Case, args: list[Any], backend: str | None) -> Any:
    if case.einsum:
        return tc.einsum(case.src, *args, backend=backend)
    program = tc.compile(case.src, backend=backend)
    return program(*args, **case.sizes)


@pytest.mark.parametrize(("case", "backend"), ALL_PARAMS)
def test_named_backend_matches_reference(case: Case, backend: str) -> None:
    values = case.make_inputs()
    expected = case.expected(values)
    actual = run_case(case, convert_all(list(values.values()), backend), backend)
    assert_matches(
        actual, expected, backend=backend, rtol=case.rtol, atol=case.atol, context=case.id
    )


@pytest.mark.parametrize(("case", "backend"), REPEAT_PARAMS)
def test_backend_chosen_from_argument_types(case: Case, backend: str) -> None:
    values = case.make_inputs()
    expected = case.expected(values)
    actual = run_case(case, convert_all(list(values.values()), backend), None)
    assert_matches(
        actual,
        expected,
        backend=backend,
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (backend=None)",
    )


@pytest.mark.parametrize(("case", "backend"), PROGRAM_PARAMS)
def test_generated_source_runs_standalone(case: Case, backend: str) -> None:
    compiled = tc.compile(case.src, backend=backend)
    source = compiled.source
    assert isinstance(source, str)
    check_standalone_text(source, backend)
    for name in case.inputs:  # readable: the user's names appear in the code
        assert re.search(rf"\b{re.escape(name)}\b", source), f"input {name} not in source"
    values = case.make_inputs()
    expected = case.expected(values)
    program = exec_program(source)
    actual = program(*convert_all(list(values.values()), backend), **case.sizes)
    assert_matches(
        actual,
        expected,
        backend=backend,
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (f.source)",
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in PROGRAM_CASES])
def test_backend_none_source_is_the_numpy_module(case: Case) -> None:
    source = tc.compile(case.src).source
    check_standalone_text(source, "numpy")
    values = case.make_inputs()
    actual = exec_program(source)(*convert_all(list(values.values()), "numpy"), **case.sizes)
    assert_matches(
        actual,
        case.expected(values),
        backend="numpy",
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (backend=None f.source)",
    )


@pytest.mark.parametrize(("case", "backend"), PROGRAM_PARAMS)
def test_specialised_source_and_function(case: Case, backend: str) -> None:
    compiled = tc.compile(case.src, backend=backend)
    values = case.make_inputs()
    expected = case.expected(values)
    args = convert_all(list(values.values()), backend)

    source = compiled.source_for(*args, **case.sizes)
    check_standalone_text(source, backend)
    program = exec_program(source)
    actual = program(*args, **accepted_keywords(program, dict(case.sizes)))
    assert_matches(
        actual,
        expected,
        backend=backend,
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (f.source_for)",
    )

    function = compiled.function_for(*args, **case.sizes)
    actual = function(*args, **accepted_keywords(function, dict(case.sizes)))
    assert_matches(
        actual,
        expected,
        backend=backend,
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (f.function_for)",
    )


def strided_view(value: Any, backend: str) -> Any:
    """The same values as a non-contiguous view (every other element of a wider buffer)."""
    if not isinstance(value, np.ndarray) or value.size <= 1:
        return to_backend(value, backend)
    wide = np.stack([value, np.zeros_like(value)], axis=-1)
    if backend == "torch":
        view = torch.from_numpy(wide)[..., 0]
        assert not view.is_contiguous()
        return view
    view = wide[..., 0]
    assert not view.flags.c_contiguous
    return view


@pytest.mark.parametrize(
    ("case", "backend"),
    [
        pytest.param(case, backend, id=f"{case.id}-{backend}")
        for case in CASES
        for backend in ("numpy", "torch")
    ],
)
def test_non_contiguous_inputs(case: Case, backend: str) -> None:
    """Users pass transposes and slices: strided views must give the same results."""
    values = case.make_inputs()
    expected = case.expected(values)
    args = [strided_view(value, backend) for value in values.values()]
    actual = run_case(case, args, backend)
    assert_matches(
        actual,
        expected,
        backend=backend,
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (strided inputs)",
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in PROGRAM_CASES])
def test_inputs_by_keyword_and_positional_order(case: Case) -> None:
    compiled = tc.compile(case.src, backend="numpy")
    assert isinstance(compiled.ir, str) and compiled.ir.strip()
    # Inputs are in order of first appearance in the source; the corpus lists them that way.
    assert tuple(compiled.inputs) == tuple(case.inputs)
    values = case.make_inputs()
    expected = case.expected(values)
    n_outputs = len(expected) if isinstance(expected, tuple) else 1
    assert len(compiled.outputs) == n_outputs
    actual = compiled(**values, **case.sizes)
    assert_matches(
        actual,
        expected,
        backend="numpy",
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (keywords)",
    )
    # keywords in reverse order change nothing
    actual = compiled(**dict(reversed(list(values.items()))), **case.sizes)
    assert_matches(
        actual,
        expected,
        backend="numpy",
        rtol=case.rtol,
        atol=case.atol,
        context=f"{case.id} (keywords reversed)",
    )


def _groups_sharing_a_source() -> list[list[Case]]:
    groups: dict[tuple[bool, str], list[Case]] = {}
    for case in CASES:
        groups.setdefault((case.einsum, case.src.replace(" ", "")), []).append(case)
    return [group for group in groups.values() if len(group) > 1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "group", [pytest.param(g, id=g[0].src.replace(" ", "")) for g in _groups_sharing_a_source()]
)
def test_one_program_called_with_changing_shapes(group: list[Case], backend: str) -> None:
    """Cases that share a source (other shapes, dtypes or size keywords) run through one
    compiled program, in turn and then in reverse, so that a cached plan is never reused for
    arguments it does not fit."""
    for case in group + group[::-1]:
        values = case.make_inputs()
        actual = run_case(case, convert_all(list(values.values()), backend), backend)
        assert_matches(
            actual,
            case.expected(values),
            backend=backend,
            rtol=case.rtol,
            atol=case.atol,
            context=f"{case.id} (shared program)",
        )


def test_compile_cache_returns_equivalent_program() -> None:
    src = "C[i, k] = A[i, j] * B[j, k]"
    first = tc.compile(src, backend="numpy")
    second = tc.compile(src, backend="numpy")
    assert first.source == second.source
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(second(a, b), a @ b, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# The generated modules really are standalone: run them all in a fresh interpreter in which
# tensorc (and the other backends' libraries) cannot be imported.

_RUNNER = textwrap.dedent(
    """
    import pickle
    import sys

    backend, path_in, path_out = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.modules["tensorc"] = None  # import tensorc -> ImportError
    for other in {"numpy": ("jax", "torch"), "jax": ("torch",), "torch": ("jax",)}[backend]:
        sys.modules[other] = None
    sys.path = [p for p in sys.path if p not in ("", ".")]

    if backend == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        convert = jnp.asarray
    elif backend == "torch":
        import torch
        convert = lambda a: torch.from_numpy(a.copy())
    else:
        import numpy as np
        convert = np.asarray

    def to_numpy(x):
        if backend == "torch":
            return x.detach().numpy()
        import numpy as np
        return np.asarray(x)

    with open(path_in, "rb") as f:
        jobs = pickle.load(f)
    results = {}
    for case_id, source, args, sizes in jobs:
        try:
            namespace = {"__name__": "generated"}
            exec(compile(source, "<generated>", "exec"), namespace)
            args = [a if isinstance(a, float) else convert(a) for a in args]
            out = namespace["program"](*args, **sizes)
            if isinstance(out, tuple):
                results[case_id] = ("ok", tuple(to_numpy(o) for o in out))
            else:
                results[case_id] = ("ok", to_numpy(out))
        except BaseException as exc:
            results[case_id] = ("error", f"{type(exc).__name__}: {exc}")
    with open(path_out, "wb") as f:
        pickle.dump(results, f)
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_sources_run_without_tensorc(backend: str, tmp_path: Path) -> None:
    jobs = []
    expected: dict[str, Any] = {}
    cases = [c for c in PROGRAM_CASES if backend != "jax" or c.id in JAX_SUBSET_IDS]
    for case in cases:
        try:
            source = tc.compile(case.src, backend=backend).source
        except Exception:
            continue  # reported by the other tests
        values = case.make_inputs()
        expected[case.id] = case.expected(values)
        jobs.append((case.id, source, list(values.values()), dict(case.sizes)))
    assert jobs, "no program compiled"
    (tmp_path / "jobs.pkl").write_bytes(pickle.dumps(jobs))
    (tmp_path / "runner.py").write_text(_RUNNER)
    proc = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "runner.py"),
            backend,
            str(tmp_path / "jobs.pkl"),
            str(tmp_path / "out.pkl"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = pickle.loads((tmp_path / "out.pkl").read_bytes())
    failures = []
    for case in cases:
        if case.id not in expected:
            continue
        status, value = results[case.id]
        if status != "ok":
            failures.append(f"{case.id}: {value}")
            continue
        try:
            assert_matches(
                value,
                expected[case.id],
                backend="numpy",
                rtol=case.rtol,
                atol=case.atol,
                check_type=False,
                context=case.id,
            )
        except AssertionError as exc:
            failures.append(f"{case.id}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures)
