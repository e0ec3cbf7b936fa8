"""Shared helpers for the per-backend tests of generated source.

`generated` is the helper object the tests receive as a fixture: it compiles programs, loads
generated source on its own (as a user would, without tensorc), runs it in a fresh
interpreter where tensorc cannot be imported, and converts arrays between backends.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorc as tc
from tensorc.backends import BACKENDS, owner

# The third-party packages a module of each backend may import: its own framework, and these
# (JAX depends on NumPy).
ALSO_IMPORTED = {"jax": {"numpy"}}
ALLOWED_IMPORTS = {
    name: {record.module, *ALSO_IMPORTED.get(name, ())} for name, record in BACKENDS.items()
}


def _imported_names() -> list[str]:
    """The names that every backend's module binds by its imports: np, jax, jnp, torch, ..."""
    names: list[str] = []
    for record in BACKENDS.values():
        for line in record.generator.imports:
            statement = ast.parse(line).body[0]
            assert isinstance(statement, ast.Import), line
            for alias in statement.names:
                name = alias.asname or alias.name.split(".")[0]
                if name not in names:
                    names.append(name)
    return names


# Names that generated code must not let a user's tensor shadow: the backend modules, the
# function's own name, helpers' modules, a keyword and builtins.
RESERVED_NAMES = [
    *_imported_names(),
    "math",
    "functools",
    "program",
    "lambda",
    "sum",
    "print",
]

# Programs that use the reserved names as tensors, targets, scalars and indices, with NumPy
# references. `sum` is a reduction, so it may be a scalar or the last target, but not be read
# with an index.
ALL_RESERVED = (
    "np[i, k] = torch[i, j] * jnp[j, k]\n"
    "math[i] = np[i, k] * program[k]\n"
    "lambda[i] = math[i] + sum * print"
)


def reserved_name_programs(name: str) -> list[tuple[str, dict[str, Any], Any]]:
    """(program, arguments, reference) triples that give `name` every role it can take."""
    rng = np.random.default_rng(len(name))
    a, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    cases: list[tuple[str, dict[str, Any], Any]] = [
        (f"y[i] = x[i] * 2\n{name}[i] = y[i] + x[i]", {"x": x}, 3 * x),
        (f"y[i] = {name} * x[i] + {name}", {name: 1.5, "x": x}, 1.5 * x + 1.5),
    ]
    if name != "sum":
        cases += [
            (f"{name}[i] = x[i] * 2\nz[i] = {name}[i] + x[i]", {"x": x}, 3 * x),
            (f"c[i] = {name}[i, j] * x[j]", {name: a, "x": x}, a @ x),
            (
                f"y[{name}, j] = where(j <= {name}, A[{name}, j], 0)",
                {"A": a},
                np.where(np.arange(4) <= np.arange(3)[:, None], a, 0),
            ),
        ]
    return cases


# Programs on float32 inputs whose results every backend keeps in float32.
FLOAT32_PROGRAMS = [
    "C[i, k] = A[i, j] * B[j, k]",
    "Y[i, k] = alpha * A[i, k]",
    "Z[i, j] = softmax[j](A[i, j])",
    "y[i] = log(sum[j](exp(A[i, j])))",
    "m[j] = mean[i](A[i, j])",
    "n = sqrt(sum[i, j](A[i, j] ** 2))",
    "M[i, j] = where(j <= i, A[i, j], -inf)",
    "R[i, j] = sigmoid(A[i, j]) + relu(B[i, j]) * pi",
    "c[i, j] = cumsum[j](A[i, j])",
    "P[i, j] = A[i, j] / sum[k](A[i, k])",
    "Y[(i j)] = A[i, j] * 2",
    "t = A[i, i]",
    "p[i] = prod[j](A[i, j]) + max[j](B[i, j]) - min[j](A[i, j])",
]

# Ellipsis operands that an elementwise operation or product broadcasts with new axes. (Once a
# bug: trailing ':' after a leading '...' were dropped, so b[..., j] became b[..., None].)
ELLIPSIS_BROADCASTS = [
    (
        "C[..., i, j] = A[..., i, j] + b[..., j]",
        {"A": (2, 3, 4), "b": (2, 4)},
        lambda A, b: A + b[..., None, :],
    ),
    (
        "C[..., i, j] = A[..., i] * B[..., j]",
        {"A": (2, 3), "B": (2, 4)},
        lambda A, B: A[..., :, None] * B[..., None, :],
    ),
    (
        # Square, so that the wrong alignment broadcasts silently instead of failing.
        "C[..., i, j] = A[..., i, j] + b[..., j]",
        {"A": (2, 3, 3), "b": (2, 3)},
        lambda A, b: A + b[..., None, :],
    ),
]

_FRESH_INTERPRETER = """
import json, sys
sys.modules["tensorc"] = None  # `import tensorc` now fails
import numpy as np
{backend_import}
namespace = {{}}
exec(open(sys.argv[1]).read(), namespace)
arrays = np.load(sys.argv[2])
args = [{convert}(arrays[name]) for name in json.loads(sys.argv[3])]
result = namespace["program"](*args)
print(json.dumps(np.asarray(result).tolist()))
assert not any(name == "tensorc" or name.startswith("tensorc.") for name in sys.modules
               if sys.modules[name] is not None)
"""
_BACKEND_IMPORT = {
    "numpy": ("", "np.asarray"),
    "jax": ("import jax.numpy as jnp", "jnp.asarray"),
    "torch": ("import torch", "torch.from_numpy"),
}


class Generated:
    """Compile, load and run generated modules; convert arrays between backends."""

    def source(self, program: str, backend: str) -> str:
        return tc.compile(program, backend=backend).source

    def body(self, program: str, backend: str) -> str:
        """The generated function's body lines, stripped, without comments."""
        text = self.source(program, backend)
        lines = text.split("def program", 1)[1].splitlines()[1:]
        return "\n".join(
            line.strip() for line in lines if line.strip() and not line.strip().startswith("#")
        )

    def imported_packages(self, text: str) -> set[str]:
        """Top-level packages that a module imports, standard library left out."""
        roots = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                roots.add((node.module or "").split(".")[0])
        return roots - set(sys.stdlib_module_names)

    def load(self, text: str, backend: str) -> Any:
        """The `program` function a generated module defines, loaded without tensorc."""
        assert self.imported_packages(text) <= ALLOWED_IMPORTS[backend], text
        namespace: dict[str, Any] = {}
        exec(compile(text, f"<generated {backend}>", "exec"), namespace)
        return namespace["program"]

    def run_fresh(self, text: str, backend: str, tmp: Path, **arrays: np.ndarray) -> np.ndarray:
        """Runs a generated module in a new interpreter where tensorc cannot be imported."""
        module = tmp / "generated.py"
        module.write_text(text)
        data = tmp / "arrays.npz"
        np.savez(data, **arrays)
        backend_import, convert = _BACKEND_IMPORT[backend]
        script = _FRESH_INTERPRETER.format(backend_import=backend_import, convert=convert)
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(script),
                str(module),
                str(data),
                json.dumps(list(arrays)),
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return np.array(json.loads(completed.stdout))

    def to_backend(self, value: Any, backend: str) -> Any:
        """A NumPy array as a (C-ordered, unshared) copy in `backend`'s arrays; else as is."""
        if not isinstance(value, np.ndarray):
            return value
        return BACKENDS[backend].from_numpy(value.copy())

    def to_numpy(self, value: Any) -> np.ndarray:
        found = owner(value)
        return np.asarray(value) if found is None else found.to_numpy(value)

    def is_native(self, value: Any, backend: str) -> bool:
        return BACKENDS[backend].owns(value)

    # --- checks every backend's test file runs ----------------------------------------------

    def check(
        self,
        program: str,
        backend: str,
        arguments: dict[str, Any],
        expected: Any,
        **keywords: int,
    ) -> Any:
        """Compiles and calls `program` on `backend` by name; the result is native and close."""
        f = tc.compile(program, backend=backend)
        native = {name: self.to_backend(value, backend) for name, value in arguments.items()}
        result = f(**native, **keywords)
        assert self.is_native(result, backend), type(result)
        np.testing.assert_allclose(
            self.to_numpy(result), expected, rtol=1e-5, atol=1e-6, err_msg=program
        )
        return result

    def check_reserved_names(self, backend: str) -> None:
        for name in RESERVED_NAMES:
            for program, arguments, expected in reserved_name_programs(name):
                self.check(program, backend, arguments, expected)
                self.load(self.source(program, backend), backend)  # valid standalone Python
        rng = np.random.default_rng(0)
        arguments = {
            "torch": rng.standard_normal((2, 3)),
            "jnp": rng.standard_normal((3, 4)),
            "program": rng.standard_normal(4),
            "sum": 0.5,
            "print": 3.0,
        }
        expected = arguments["torch"] @ arguments["jnp"] @ arguments["program"] + 1.5
        self.check(ALL_RESERVED, backend, arguments, expected)

    def float32_results(self, backend: str) -> dict[str, Any]:
        """The result dtype of each FLOAT32_PROGRAMS program, called with float32 arrays (the
        result's type where it has no dtype)."""
        rng = np.random.default_rng(0)
        arrays = {
            "A": rng.uniform(0.5, 1.5, (3, 3)).astype(np.float32),
            "B": rng.uniform(0.5, 1.5, (3, 3)).astype(np.float32),
        }
        dtypes = {}
        for program in FLOAT32_PROGRAMS:
            f = tc.compile(program, backend=backend)
            args = [arrays.get(name, 0.5) for name in f.inputs]
            result = f(*(self.to_backend(a, backend) for a in args))
            dtypes[program] = getattr(result, "dtype", type(result))
        return dtypes

    def check_ellipsis_broadcast(self, case: tuple[str, dict, Any], backend: str) -> None:
        program, shapes, reference = case
        rng = np.random.default_rng(0)
        arrays = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
        self.check(program, backend, arrays, reference(**arrays))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `ellipsis_case` runs once per ELLIPSIS_BROADCASTS case."""
    if "ellipsis_case" in metafunc.fixturenames:
        metafunc.parametrize(
            "ellipsis_case",
            [
                pytest.param(case, id=f"{case[0]} {tuple(case[1].values())}")
                for case in ELLIPSIS_BROADCASTS
            ],
        )


@pytest.fixture(scope="session")
def generated() -> Generated:
    return Generated()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
