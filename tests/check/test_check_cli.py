"""`tensorc check`, run as a user runs it: the installed console script in a subprocess.

    tensorc check FILE.tc [-e PROGRAM] [--shape A=2x3 ...] [--size h=8 ...]
                  [--backends numpy,jax,torch] [--tolerance 1e-5] [--dtype ...] [--seed N]

Exit 0 when every difference is within the tolerance, 1 when one is not or the program has an
error (caret message on stderr, no traceback), 2 for bad usage.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tensorc.backends import BACKENDS

TENSORC = shutil.which("tensorc")
INSTALLED = [name for name, record in BACKENDS.items() if record.installed()]
ATTENTION = """\
# single-head attention
S[i, j] = Q[i, d] * K[j, d] / sqrt(dk)
P[i, j] = softmax[j](S[i, j])
O[i, d] = P[i, j] * V[j, d]
"""


def tensorc(*args: str) -> subprocess.CompletedProcess[str]:
    assert TENSORC, "the `tensorc` console script is not on PATH (pip install -e .)"
    return subprocess.run(
        [TENSORC, *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_a_good_program_file_passes_on_every_installed_backend(tmp_path: Path) -> None:
    path = tmp_path / "attention.tc"
    path.write_text(ATTENTION, encoding="utf-8")
    result = tensorc("check", str(path), "--shape", "Q=4x8", "--size", "j=5", "--positive")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "tensorc check: # single-head attention (+3 more lines)"
    assert lines[1] == "inputs: Q 4x8, K 5x8, dk scalar, V 5x8"
    assert lines[2].startswith("sizes: i=4 d=8 j=5;")
    for backend in INSTALLED:
        assert any(line.split()[:3] == [backend, "O", "reference"] for line in lines)
    if "jax" in INSTALLED:
        assert any(line.split()[:4] == ["jax", "grad", "Q", "finite"] for line in lines)
    assert lines[-1].startswith("ok: every difference is within 1e-05")


def test_an_expression_with_named_backends() -> None:
    result = tensorc("check", "-e", "C[i,k] = A[i,j]*B[j,k]", "--backends", "numpy", "--seed", "7")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["numpy", "C", "reference", "0", "0", "yes"] in rows
    assert not any(row and row[0] in ("jax", "torch") for row in rows)
    assert "seed 7" in result.stdout


def test_differences_beyond_the_tolerance_exit_1() -> None:
    result = tensorc(
        "check", "-e", "y[i] = exp(A[i, j]) * x[j]", "--dtype", "float32", "--tolerance", "0"
    )
    assert result.returncode == 1
    assert result.stderr == ""
    assert " NO" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("FAILED: ")


def test_a_program_error_exits_1_with_a_caret_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.tc"
    path.write_text("T[i] = A[i]\nU[i] = T[i] $ 2\n", encoding="utf-8")
    result = tensorc("check", str(path), "--backends", "numpy")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: unexpected character '$'\n  --> line 2, column 13\n")
    assert "^" in result.stderr and "Traceback" not in result.stderr


def test_shapes_that_disagree_exit_1_naming_the_index() -> None:
    result = tensorc(
        "check", "-e", "C[i,k] = A[i,j]*B[j,k]", "--shape", "A=2x3", "--shape", "B=4x5",
        "--backends", "numpy",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: index 'j' has size 3 in A but size 4 in B\n")
    assert "Traceback" not in result.stderr


def test_a_missing_file_exits_1(tmp_path: Path) -> None:
    result = tensorc("check", str(tmp_path / "nowhere.tc"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot read ")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-program"),
        pytest.param(["prog.tc", "-e", "y[i] = x[i]"], id="file-and-expression"),
        pytest.param(["-e", "y[i] = x[i]", "--backends", "numpy,tensorflow"], id="bad-backend"),
        pytest.param(["-e", "y[i] = x[i]", "--backends", ","], id="no-backend"),
        pytest.param(["-e", "y[i] = x[i]", "--tolerance", "-1"], id="negative-tolerance"),
        pytest.param(["-e", "y[i] = x[i]", "--tolerance", "small"], id="word-tolerance"),
        pytest.param(["-e", "y[i] = x[i]", "--shape", "x=3y4"], id="bad-shape"),
        pytest.param(["-e", "y[i] = x[i]", "--size", "i=three"], id="bad-size"),
        pytest.param(["-e", "y[i] = x[i]", "--dtype", "float16"], id="bad-dtype"),
        pytest.param(["-e", "y[i] = x[i]", "--frobnicate"], id="unknown-option"),
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = tensorc("check", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage: tensorc" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_options() -> None:
    result = tensorc("check", "--help")
    assert result.returncode == 0
    for option in ("--shape", "--size", "--backends", "--tolerance", "--dtype", "--seed", "-e"):
        assert option in result.stdout
    assert "check" in tensorc("--help").stdout
