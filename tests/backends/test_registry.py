"""The backend registry is the only list of backends: a fourth one, registered here as a record,
works everywhere a backend is chosen, converted, checked, shown or differentiated; and nothing
in tensorc/ names a framework, nor does `import tensorc` import one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorc as tc
from tensorc.autodiff import unbroadcast
from tensorc.backends import BACKENDS, ORDER, Backend, backend, owner
from tensorc.backends.numpy import NumpyGenerator
from tensorc.cli import main

MATMUL = "C[i, k] = A[i, j] * B[j, k]"
MARK = "# written by the fake backend\n"


class FakeArray(np.ndarray):
    """The fake framework's arrays: NumPy's, under a type of their own."""


class FakeGenerator(NumpyGenerator):
    """NumPy code, with a mark that shows which generator wrote it."""

    def generate(self) -> str:
        return super().generate() + MARK


def _fake(array: Any) -> FakeArray:
    return np.asarray(array).view(FakeArray)


SUMS: list[tuple[int, ...]] = []  # the axes of each sum the fake backend was asked for


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    SUMS.append(axes)
    return np.asarray(value).sum(axis=axes, keepdims=keepdims).view(FakeArray)


FAKE = Backend(
    name="fake",
    module="numpy",
    generator=FakeGenerator,
    owns=lambda value: isinstance(value, FakeArray),
    from_numpy=_fake,
    to_numpy=np.asarray,
    placeholder=lambda shape: _fake(np.broadcast_to(np.float32(0), shape)),
    sum=_sum,
    einsum_operand=lambda value, like=None: _fake(np.asarray(value)),
    einsum_result=lambda value, operands: value,
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The fake backend, registered for one test."""
    monkeypatch.setitem(BACKENDS, "fake", FAKE)
    return FAKE


@pytest.fixture
def matrices() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3)), rng.standard_normal((3, 4))


def test_the_registry_lists_the_three_backends_in_order() -> None:
    assert ORDER == ("numpy", "jax", "torch")
    assert list(BACKENDS) == list(ORDER)
    assert all(backend(name) is BACKENDS[name] and BACKENDS[name].name == name for name in ORDER)
    assert owner(np.ones(2)) is BACKENDS["numpy"] and owner(1.5) is None
    with pytest.raises(tc.TensorcError, match="unknown backend 'fake': use one of numpy, jax"):
        backend("fake")


def test_a_registered_backend_compiles_by_name(fake: Backend, matrices: Any) -> None:
    a, b = matrices
    f = tc.compile(MATMUL, backend="fake")
    assert f.source.endswith(MARK)
    result = f(a, b)  # NumPy arrays are foreign to it: converted by its record
    assert isinstance(result, FakeArray)
    np.testing.assert_allclose(result, a @ b)


def test_its_arrays_choose_it(fake: Backend, matrices: Any) -> None:
    a, b = (_fake(m) for m in matrices)
    f = tc.compile(MATMUL)
    assert f.source_for(a, b).endswith(MARK)
    assert isinstance(f(a, b), FakeArray)
    assert isinstance(tc.einsum("ij,jk->ik", a, b), FakeArray)
    with pytest.raises(tc.TensorcError, match="the arguments mix fake and numpy arrays"):
        f(a, np.asarray(b))


def test_check_runs_it_and_names_the_backends_that_differentiate(fake: Backend) -> None:
    report = tc.check(MATMUL, backends=["numpy", "fake"])
    assert report.ok
    assert {d.backend for d in report.differences} == {"numpy", "fake"}
    assert "gradients not compared: they need jax or torch" in report.notes
    assert {d.backend for d in tc.check(MATMUL).differences} >= {"fake"}


def test_the_command_line_offers_it_and_shapes_with_its_placeholder(
    fake: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    shapes = ["--shape", "A=2x3", "--shape", "B=3x4"]
    assert main(["compile", "-e", MATMUL, "--backend", "fake", "--emit", "shapes", *shapes]) == 0
    assert "C[i, k]: 2x4" in capsys.readouterr().out
    assert main(["compile", "-e", MATMUL, "--backend", "fake"]) == 0
    assert capsys.readouterr().out.endswith(MARK)
    assert main(["check", "-e", MATMUL, "--backends", "numpy,fake"]) == 0


def test_gradients_are_unbroadcast_by_its_own_sum(fake: Backend) -> None:
    SUMS.clear()
    summed = unbroadcast(_fake(np.ones((5, 2, 3))), (1, 3), 0, 1)
    assert isinstance(summed, FakeArray) and summed.shape == (1, 3)
    assert SUMS == [(1,), (0,)]
    vjp = tc.vjp("C[..., i] = A[..., i] * B[..., i]", wrt="A", backend="fake")
    a, b = _fake(np.ones((1, 3))), _fake(np.arange(6.0).reshape(2, 3))
    SUMS.clear()
    grad = vjp(a, b, _fake(np.ones((2, 3))))
    assert isinstance(grad, FakeArray) and SUMS
    np.testing.assert_allclose(grad, [[3.0, 5.0, 7.0]])


def test_nothing_in_tensorc_names_a_framework() -> None:
    package = Path(tc.__file__).parent
    named = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if re.search(r"\b(torch|jax)\b", path.read_text(encoding="utf-8"))
    ]
    assert named == []


def test_importing_tensorc_imports_no_framework() -> None:
    script = (
        "import sys, tensorc, tensorc.cli\n"
        "from tensorc.backends import BACKENDS\n"
        "print(sorted({'jax', 'torch'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
