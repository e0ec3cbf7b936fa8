"""Shared helpers for the cross-backend equivalence suite (a plain module, imported by name:
`from support import ...`, never from a conftest, whose module name every folder shares).

Every test here compares what tensorc computes on the NumPy, JAX and PyTorch backends with
a float64 NumPy reference that was written by hand, independently of tensorc.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import jax

# Float64 everywhere, so that the references can be compared tightly.  This must run before
# any JAX array is created.
jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from tensorc.backends import BACKENDS as REGISTRY  # noqa: E402
from tensorc.backends import owner  # noqa: E402

# Every registered backend whose framework is installed: a new backends/<name>.py is covered.
BACKENDS: tuple[str, ...] = tuple(name for name, record in REGISTRY.items() if record.installed())

# The third-party libraries a generated module may import: its own framework, and these. JAX
# itself depends on NumPy, so a JAX module that imports numpy is still standalone.
ALSO_IMPORTED: dict[str, frozenset[str]] = {"jax": frozenset({"numpy"})}
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    name: frozenset({record.module}) | ALSO_IMPORTED.get(name, frozenset())
    for name, record in REGISTRY.items()
}


def to_backend(value: Any, backend: str) -> Any:
    """Convert a NumPy array to the array type of ``backend``; Python scalars pass through.
    The backend gets a C-ordered copy, so that it shares no memory with the reference's."""
    if isinstance(value, (bool, int, float)):
        return value
    return REGISTRY[backend].from_numpy(np.array(np.asarray(value), copy=True, order="C"))


def to_numpy(value: Any) -> np.ndarray:
    """Convert a backend array (or NumPy scalar) back to a NumPy array."""
    found = owner(value)
    return np.asarray(value) if found is None else found.to_numpy(value)


def is_backend_array(value: Any, backend: str) -> bool:
    """Whether ``value`` is an array of the backend's own type (for NumPy, reductions to a
    scalar give a NumPy scalar, np.float64, ..., which is NumPy's own 0-d type)."""
    return REGISTRY[backend].owns(value)


def as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def assert_matches(
    actual: Any,
    expected: Any,
    *,
    backend: str,
    rtol: float,
    atol: float,
    check_type: bool = True,
    check_dtype: bool = True,
    context: str = "",
) -> None:
    """Check a tensorc result (array or tuple of arrays) against a NumPy reference."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple), f"{context}: expected a tuple, got {type(actual)}"
        assert len(actual) == len(expected), f"{context}: wrong number of outputs"
    actual_items = as_tuple(actual)
    expected_items = as_tuple(expected)
    for position, (got, want) in enumerate(zip(actual_items, expected_items, strict=True)):
        where = f"{context} output {position}"
        if check_type:
            assert is_backend_array(got, backend), (
                f"{where}: expected a {backend} array, got {type(got).__module__}."
                f"{type(got).__qualname__}"
            )
        got_np = to_numpy(got)
        want_np = np.asarray(want)
        assert got_np.shape == want_np.shape, (
            f"{where}: shape {got_np.shape} != reference {want_np.shape}"
        )
        if check_dtype:
            assert got_np.dtype == want_np.dtype, (
                f"{where}: dtype {got_np.dtype} != reference {want_np.dtype}"
            )
        if want_np.dtype.kind in "biu":
            np.testing.assert_array_equal(got_np, want_np, err_msg=where)
        else:
            np.testing.assert_allclose(got_np, want_np, rtol=rtol, atol=atol, err_msg=where)


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module that ``source`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "generated module uses a relative import"
            assert node.module is not None
            names.add(node.module.split(".")[0])
    return names


def code_without_docstrings(source: str) -> str:
    """The module's code with comments and docstrings dropped (``ast.unparse`` of the rest)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def check_standalone_text(source: str, backend: str) -> None:
    """The generated module imports only its library and the standard library.

    Its code (comments and docstrings aside: a "generated by tensorc" note is harmless) never
    names tensorc.
    """
    assert "tensorc" not in code_without_docstrings(source), "generated code names tensorc"
    third_party = imported_modules(source) - set(sys.stdlib_module_names)
    allowed = ALLOWED_IMPORTS[backend]
    assert third_party <= allowed, (
        f"generated {backend} module imports {sorted(third_party - allowed)}"
    )


def exec_program(source: str) -> Any:
    """Execute a generated module in a fresh namespace and return its ``program`` function."""
    namespace: dict[str, Any] = {"__name__": "tensorc_generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    assert callable(namespace.get("program")), "generated module defines no program()"
    return namespace["program"]


def convert_inputs(values: Mapping[str, Any], backend: str) -> dict[str, Any]:
    return {name: to_backend(value, backend) for name, value in values.items()}


def convert_all(values: Sequence[Any], backend: str) -> list[Any]:
    return [to_backend(value, backend) for value in values]
