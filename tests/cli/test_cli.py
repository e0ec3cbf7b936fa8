"""The `tensorc` console script, run as a user runs it: every form of CONTRACT.md §3 and the notes.

    tensorc compile FILE.tc [--backend numpy|jax|torch] [--emit code|ir|shapes]
                            [--shape NAME=2x3 ...] [--size NAME=8 ...] [--passes none|all]
    tensorc compile -e "C[i,k] = A[i,j]*B[j,k]" ...

Program errors exit 1 with the caret message on stderr and no traceback; usage errors exit 2.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorc as tc

MATMUL = "C[i, k] = A[i, j] * B[j, k]"
TENSORC = shutil.which("tensorc")

# Runs a generated module with tensorc unimportable, calls `program(A, B)` on fixed arrays of
# the given backend and prints the result as JSON. (Other third-party imports are ruled out by
# `module_imports`: jax itself needs opt_einsum, so it cannot be blocked here.)
RUNNER = r"""
import importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"tensorc", "einops", "einx"}:
            raise ImportError("blocked: " + name)
        return None

sys.meta_path.insert(0, Block())
import numpy as np

backend = sys.argv[2]
a = np.arange(6.0).reshape(2, 3)
b = np.arange(12.0).reshape(3, 4) - 5
if backend == "torch":
    import torch
    a, b = torch.from_numpy(a), torch.from_numpy(b)
elif backend == "jax":
    import jax.numpy as jnp
    a, b = jnp.asarray(a), jnp.asarray(b)
namespace = {"__name__": "generated"}
with open(sys.argv[1], encoding="utf-8") as file:
    exec(compile(file.read(), sys.argv[1], "exec"), namespace)
out = namespace["program"](a, b)
print(type(out).__module__.split(".")[0])
print(json.dumps(np.asarray(out).tolist()))
"""
A = np.arange(6.0).reshape(2, 3)
B = np.arange(12.0).reshape(3, 4) - 5


def tensorc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert TENSORC, "the `tensorc` console script is not on PATH (pip install -e .)"
    return subprocess.run(
        [TENSORC, *args], capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )


def write(tmp_path: Path, text: str, name: str = "prog.tc") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def module_imports(source: str) -> set[str]:
    """The top-level packages that a module's import statements name."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def run_module(tmp_path: Path, source: str, backend: str) -> tuple[str, np.ndarray]:
    """Run a generated module standalone; return the result's library and its values."""
    outside = module_imports(source) - set(sys.stdlib_module_names) - {backend}
    assert not outside, f"the module imports {outside}, beyond {backend} and the standard library"
    module = tmp_path / "generated_module.py"
    module.write_text(source, encoding="utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(runner), str(module), backend],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    library, values = done.stdout.strip().splitlines()[-2:]
    return library, np.array(json.loads(values))


def assert_program_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stdout
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    assert "^" in done.stderr


def assert_usage_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip(), "argparse explains the usage on stderr"


def shape_lines(stdout: str) -> set[str]:
    return {line.strip() for line in stdout.splitlines() if line.strip()}


# ----------------------------------------------------------------------------- the script


def test_console_script_is_installed():
    assert TENSORC is not None, "the `tensorc` console script is not on PATH"


@pytest.mark.parametrize("args", [["--help"], ["compile", "--help"]])
def test_help(args):
    done = tensorc(*args)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()
    if "compile" in args:
        for flag in ("--backend", "--emit", "--shape", "--size", "-e"):
            assert flag in done.stdout


# ----------------------------------------------------------------------------- code


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_compile_file_prints_a_standalone_module(tmp_path, backend):
    done = tensorc("compile", write(tmp_path, MATMUL + "\n"), "--backend", backend)
    assert done.returncode == 0, done.stderr
    assert "def program(" in done.stdout
    library, out = run_module(tmp_path, done.stdout, backend)
    assert library in {"numpy": {"numpy"}, "torch": {"torch"}, "jax": {"jax", "jaxlib"}}[backend]
    np.testing.assert_allclose(out, A @ B, rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_printed_module_is_the_compiled_source(tmp_path, backend):
    done = tensorc("compile", write(tmp_path, MATMUL), "--backend", backend)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == tc.compile(MATMUL, backend=backend).source.strip()


def test_default_backend_is_numpy(tmp_path):
    done = tensorc("compile", write(tmp_path, MATMUL))
    assert done.returncode == 0, done.stderr
    library, out = run_module(tmp_path, done.stdout, "numpy")
    assert library == "numpy"
    np.testing.assert_allclose(out, A @ B)


def test_emit_code_is_the_default(tmp_path):
    path = write(tmp_path, MATMUL)
    plain = tensorc("compile", path, "--backend", "torch")
    explicit = tensorc("compile", path, "--backend", "torch", "--emit", "code")
    assert plain.returncode == explicit.returncode == 0, explicit.stderr
    assert plain.stdout == explicit.stdout


def test_inline_program(tmp_path):
    done = tensorc("compile", "-e", "C[i,k] = A[i,j]*B[j,k]", "--backend", "jax")
    assert done.returncode == 0, done.stderr
    _, out = run_module(tmp_path, done.stdout, "jax")
    np.testing.assert_allclose(out, A @ B, rtol=1e-5)


def test_inline_program_with_statements_and_comments(tmp_path):
    src = "T[i, j] = 2 * A[i, j]  # double\nC[i, k] = T[i, j] * B[j, k]"
    done = tensorc("compile", "-e", src, "--backend", "numpy")
    assert done.returncode == 0, done.stderr
    _, out = run_module(tmp_path, done.stdout, "numpy")
    np.testing.assert_allclose(out, 2 * A @ B)


@pytest.mark.parametrize("passes", ["none", "all"])
def test_passes_switch(tmp_path, passes):
    done = tensorc("compile", write(tmp_path, MATMUL), "--backend", "numpy", "--passes", passes)
    assert done.returncode == 0, done.stderr
    _, out = run_module(tmp_path, done.stdout, "numpy")
    np.testing.assert_allclose(out, A @ B)


def test_file_with_crlf_and_comments(tmp_path):
    path = tmp_path / "crlf.tc"
    path.write_bytes(b"# matmul\r\nT[i, j] = A[i, j]\r\n\r\nC[i, k] = T[i, j] * B[j, k]\r\n")
    done = tensorc("compile", str(path), "--backend", "numpy")
    assert done.returncode == 0, done.stderr
    _, out = run_module(tmp_path, done.stdout, "numpy")
    np.testing.assert_allclose(out, A @ B)


# ----------------------------------------------------------------------------- ir and shapes


def test_emit_ir(tmp_path):
    done = tensorc("compile", write(tmp_path, MATMUL), "--emit", "ir")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    for name in ("A", "B", "C"):
        assert name in done.stdout
    assert "def program" not in done.stdout


def test_emit_shapes(tmp_path):
    done = tensorc(
        "compile",
        write(tmp_path, MATMUL),
        "--emit",
        "shapes",
        "--shape",
        "A=2x3",
        "--shape",
        "B=3x4",
    )
    assert done.returncode == 0, done.stderr
    lines = shape_lines(done.stdout)
    expected = {"A[i, j]: 2x3", "B[j, k]: 3x4", "C[i, k]: 2x4", "i = 2", "j = 3", "k = 4"}
    assert expected <= lines, done.stdout


def test_emit_shapes_of_a_multi_statement_program(tmp_path):
    src = "y[i] = A[i, j] * x[j]\nz[i] = relu(y[i])\n"
    done = tensorc(
        "compile", write(tmp_path, src), "--emit", "shapes", "--shape", "A=5x7", "--shape", "x=7"
    )
    assert done.returncode == 0, done.stderr
    expected = {"A[i, j]: 5x7", "x[j]: 7", "y[i]: 5", "z[i]: 5", "i = 5", "j = 7"}
    assert expected <= shape_lines(done.stdout), done.stdout


def test_emit_shapes_with_a_size_keyword(tmp_path):
    done = tensorc(
        "compile",
        "-e",
        "X[b, h, n, d] = Y[b, n, (h d)]",
        "--emit",
        "shapes",
        "--shape",
        "Y=2x5x12",
        "--size",
        "h=3",
    )
    assert done.returncode == 0, done.stderr
    lines = shape_lines(done.stdout)
    expected = {"X[b, h, n, d]: 2x3x5x4", "h = 3", "d = 4", "b = 2", "n = 5"}
    assert expected <= lines, done.stdout


# ----------------------------------------------------------------------------- program errors


def test_size_mismatch_exits_1_with_a_caret(tmp_path):
    done = tensorc(
        "compile",
        write(tmp_path, MATMUL),
        "--emit",
        "shapes",
        "--shape",
        "A=2x3",
        "--shape",
        "B=4x5",
    )
    assert_program_error(done, "index 'j' has size 3 in A but size 4 in B", "line 1, column 21")
    lines = done.stderr.splitlines()
    source = next(n for n, line in enumerate(lines) if line.endswith("| " + MATMUL))
    offset = lines[source].index("| ") + 2
    carets = [k - offset for k, ch in enumerate(lines[source + 1]) if ch == "^"]
    assert carets == list(range(MATMUL.index("B[j, k]"), MATMUL.index("B[j, k]") + 7))


def test_rank_mismatch_exits_1(tmp_path):
    done = tensorc(
        "compile", "-e", MATMUL, "--emit", "shapes", "--shape", "A=2x3x4", "--shape", "B=4x5"
    )
    assert_program_error(done, "A is indexed with 2 axes but the argument has 3 dimensions")


def test_parse_error_exits_1_with_line_and_column(tmp_path):
    src = "T[i, j] = A[i, j]\n\nC[i, k] = T[i, j] * B[j k]\n"
    done = tensorc("compile", write(tmp_path, src), "--backend", "numpy")
    assert_program_error(done, "line 3, column 25", "C[i, k] = T[i, j] * B[j k]")
    assert not done.stdout.strip()


def test_parse_error_in_inline_program():
    done = tensorc("compile", "-e", "C[i] = A[i] $ B[i]")
    assert_program_error(done, "line 1, column 13")


def test_unreduced_index_exits_1():
    done = tensorc("compile", "-e", "y[i] = exp(A[i, j])", "--backend", "torch")
    assert_program_error(
        done, "index 'j' is not on the left-hand side and must be reduced: write sum[j](...)"
    )


def test_unknown_function_exits_1(tmp_path):
    done = tensorc("compile", write(tmp_path, "y[i] = foo(x[i])"), "--emit", "ir")
    assert_program_error(done, "unknown function 'foo'", "line 1, column 8")


def test_size_that_cannot_be_inferred_exits_1():
    done = tensorc(
        "compile", "-e", "X[b, h, n, d] = Y[b, n, (h d)]", "--emit", "shapes", "--shape", "Y=2x5x12"
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot be inferred: pass it by keyword" in done.stderr


def test_composed_axis_not_divisible_exits_1():
    done = tensorc(
        "compile",
        "-e",
        "X[b, h, n, d] = Y[b, n, (h d)]",
        "--emit",
        "shapes",
        "--shape",
        "Y=2x5x10",
        "--size",
        "h=3",
    )
    assert_program_error(done, "axis (h d) of Y has size 10, which is not divisible by h=3")


def test_shape_for_an_unknown_tensor_is_an_error():
    done = tensorc("compile", "-e", MATMUL, "--emit", "shapes", "--shape", "Q=2x3")
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip()


def test_nonexistent_file(tmp_path):
    missing = str(tmp_path / "no_such_program.tc")
    done = tensorc("compile", missing)
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert "no_such_program.tc" in done.stderr


def test_directory_instead_of_file(tmp_path):
    done = tensorc("compile", str(tmp_path))
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip()


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.tc"
    path.write_bytes(b"C[i] = A[i] # caf\xe9\n")
    done = tensorc("compile", str(path))
    assert done.returncode in (0, 1, 2)
    assert "Traceback" not in done.stderr


# ----------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["compile", "-e", MATMUL, "--frobnicate"], id="unknown-flag"),
        pytest.param(["compile"], id="no-file"),
        pytest.param(["compile", "--backend", "numpy"], id="no-file-with-flags"),
        pytest.param(["compile", "-e", MATMUL, "--backend", "tensorflow"], id="unknown-backend"),
        pytest.param(["compile", "-e", MATMUL, "--emit", "assembly"], id="unknown-emit"),
        pytest.param(["compile", "-e", MATMUL, "--passes", "some"], id="unknown-passes"),
        pytest.param(
            ["compile", "-e", MATMUL, "--emit", "shapes", "--shape", "A=2xq"], id="shape-2xq"
        ),
        pytest.param(
            ["compile", "-e", MATMUL, "--emit", "shapes", "--shape", "A"], id="shape-no-="
        ),
        pytest.param(
            ["compile", "-e", MATMUL, "--emit", "shapes", "--shape", "=2x3"], id="shape-no-name"
        ),
        pytest.param(
            ["compile", "-e", MATMUL, "--emit", "shapes", "--shape", "A=2x-3"], id="shape-negative"
        ),
        pytest.param(["compile", "-e", MATMUL, "--size", "h=abc"], id="size-not-a-number"),
        pytest.param(["compile", "-e", MATMUL, "--size", "h"], id="size-no-="),
        pytest.param(["compile", "-e"], id="e-without-text"),
        pytest.param(["compile", "-e", MATMUL, "--backend"], id="backend-without-value"),
        pytest.param(["frobnicate", "prog.tc"], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2(args):
    assert_usage_error(tensorc(*args))


# ----------------------------------------------------------------------------- issue 8


def test_a_huge_integer_literal_is_a_program_error():
    """Item 11: it raised OverflowError, printed as a traceback."""
    done = tensorc("compile", "-e", "y[i] = A[i] * 1" + "0" * 400)
    assert_program_error(done, "too large", "line 1, column 15")


def test_a_shape_too_large_for_any_array_is_a_usage_error():
    """Item 11: `--shape A=99999999999999999999x3` printed a traceback."""
    done = tensorc(
        "compile", "-e", MATMUL, "--emit", "shapes", "--shape", "A=99999999999999999999x3"
    )
    assert_usage_error(done)
    assert "2**59" in done.stderr


def test_a_file_that_starts_with_a_byte_order_mark(tmp_path):
    """Item 11: a UTF-8 BOM (as some editors write) was an unexpected character."""
    path = tmp_path / "bom.tc"
    path.write_bytes(b"\xef\xbb\xbf" + MATMUL.encode())
    done = tensorc("compile", str(path), "--backend", "numpy")
    assert done.returncode == 0, done.stderr
    _, out = run_module(tmp_path, done.stdout, "numpy")
    np.testing.assert_allclose(out, A @ B)


def test_emit_shapes_infers_the_inputs_it_can():
    """Item 13: B's shape follows from A's and k's; it was '0 dimensions'."""
    done = tensorc(
        "compile",
        "-e",
        "C[i,k]=A[i,j]*B[j,k]",
        "--emit",
        "shapes",
        "--shape",
        "A=2x3",
        "--size",
        "k=4",
    )
    assert done.returncode == 0, done.stderr
    expected = {"A[i, j]: 2x3", "B[j, k]: 3x4", "C[i, k]: 2x4", "i = 2", "j = 3", "k = 4"}
    assert expected <= shape_lines(done.stdout), done.stdout


def test_emit_shapes_names_what_is_missing():
    done = tensorc("compile", "-e", "C[i,k]=A[i,j]*B[j,k]", "--emit", "shapes", "--shape", "A=2x3")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the shape of B[j, k] is not given" in done.stderr
    assert "--shape B=... or --size k=..." in done.stderr


def test_grad_of_a_non_scalar_program_points_at_the_options_that_exist():
    """Item 13: the message suggested tc.vjp, which the command line did not offer."""
    done = tensorc("compile", "-e", MATMUL, "--grad", "A")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "--vjp A" in done.stderr and "--jvp A" in done.stderr


@pytest.mark.parametrize(
    ("mode", "tangent", "shape_line"),
    [("vjp", np.ones((2, 4)), "dC[i, k]: 2x4"), ("jvp", np.ones((2, 3)), "dA[i, j]: 2x3")],
)
def test_vjp_and_jvp_compile_the_derivative_programs(mode, tangent, shape_line):
    done = tensorc("compile", "-e", MATMUL, f"--{mode}", "A", "--backend", "numpy")
    assert done.returncode == 0, done.stderr
    namespace: dict[str, Any] = {}
    exec(compile(done.stdout, "generated", "exec"), namespace)
    derivative = tc.vjp(MATMUL, "A") if mode == "vjp" else tc.jvp(MATMUL, "A")
    got, expected = namespace["program"](A, B, tangent), derivative(A, B, tangent)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected))  # (C, dC) for jvp
    shapes = tensorc(
        "compile", "-e", MATMUL, f"--{mode}", "A", "--emit", "shapes", "--shape", "A=2x3",
        "--shape", "B=3x4",
    )  # fmt: skip
    assert shapes.returncode == 0, shapes.stderr
    assert shape_line in shape_lines(shapes.stdout)


def test_derivative_options_exclude_each_other():
    assert_usage_error(tensorc("compile", "-e", MATMUL, "--grad", "A", "--vjp", "B"))
