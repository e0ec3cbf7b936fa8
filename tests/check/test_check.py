"""`tc.check`: a program on every installed backend against the NumPy float64 reference.

Good programs are within the tolerance on every backend, outputs and gradients alike; a backend
that computes something else, or fails, is caught and reported; errors of the program itself
are `TensorcError`s.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import Any

import pytest

import tensorc as tc
from tensorc.backends import BACKENDS, with_gradients
from tensorc.check import Difference

check_module = importlib.import_module("tensorc.check")  # `tc.check` is the function
INSTALLED = [name for name, record in BACKENDS.items() if record.installed()]
AUTODIFF = [record.name for record in with_gradients() if record.installed()]
MATMUL = "C[i, k] = A[i, j] * B[j, k]"

# Every form of the language page, with the options a check of it needs.
GOOD_PROGRAMS: list[tuple[str, dict[str, Any]]] = [
    (MATMUL, {}),
    ("y[i] = A[i, j] * x[j]", {}),
    ("s = x[i] * y[i]", {}),
    ("D[b, i, j] = x[b, i] * y[b, j]", {}),
    ("T[j, i] = A[i, j]", {}),
    ("d[i] = A[i, i]", {}),
    ("t = A[i, i]", {}),
    ("C[..., i, k] = A[..., i, j] * B[..., j, k]", {}),
    ("P[i, j] = A[i, j] / sum[k](A[i, k])", {"positive": True}),
    ("m[j] = mean[i](A[i, j])", {}),
    ("n = sqrt(sum[i, j](A[i, j] ** 2))", {}),
    ("Z[i, j] = softmax[j](S[i, j])", {}),
    ("L[i] = logsumexp[j](S[i, j])", {}),
    ("c[i, j] = cumsum[j](S[i, j])", {}),
    ("R[i, j] = relu(X[i, j] + b[j])", {}),
    ("Y[i] = alpha * X[i]", {}),
    ("M[i, j] = where(j <= i, S[i, j], -inf)", {}),
    ("Y[b, n, (h d)] = X[b, h, n, d]", {}),
    ("X[b, h, n, d] = Y[b, n, (h d)]", {"sizes": {"h": 2}}),
    ("y[i] = log(x[i]) + sqrt(x[i]) * tanh(x[i]) - sigmoid(x[i]) / exp(x[i])", {"positive": True}),
    ("y[i] = max(x[i], z[i]) - min(x[i], z[i]) + abs(x[i]) * sin(z[i]) * cos(x[i])", {}),
    ("m[i] = max[j](A[i, j]) - min[j](A[i, j]) + prod[j](A[i, j])", {}),
    ("Z[i, j] = x[i]", {"sizes": {"j": 4}}),
    (
        "S[i, j] = Q[i, d] * K[j, d] / sqrt(dk)\nP[i, j] = softmax[j](S[i, j])\n"
        "O[i, d] = P[i, j] * V[j, d]",
        {"positive": True},
    ),
    (
        "mu[n] = mean[d](X[n, d])\nvar[n] = mean[d]((X[n, d] - mu[n]) ** 2)\n"
        "Y[n, d] = (X[n, d] - mu[n]) / sqrt(var[n] + 0.00001) * g[d] + beta[d]",
        {},
    ),
    ("T[i, j] = A[i, j] * 2\nU[i] = T[i, j] * x[j]\nreturn T, U", {}),
]


def rows(report: tc.CheckReport, **match: str) -> list[Difference]:
    return [
        d
        for d in report.differences
        if all(getattr(d, field) == value for field, value in match.items())
    ]


# ----------------------------------------------------------------------------- good programs


@pytest.mark.parametrize(
    ("src", "options"), GOOD_PROGRAMS, ids=[src.splitlines()[0] for src, _ in GOOD_PROGRAMS]
)
def test_good_programs_agree_on_every_backend(src: str, options: dict[str, Any]) -> None:
    report = tc.check(src, **options)
    assert report.ok, str(report)
    assert not report.skipped
    program = tc.compile(src)
    for backend in INSTALLED:
        for output in program.outputs:
            (row,) = rows(report, backend=backend, value=output, against="reference")
            assert row.error is None
            assert row.max_abs <= 1e-12 and row.max_rel <= 1e-12, row
    assert {d.backend for d in report.differences} == set(INSTALLED)


def test_gradients_of_every_tensor_input_against_finite_differences_and_each_other() -> None:
    report = tc.check(MATMUL)
    for backend in AUTODIFF:
        for name in ("A", "B"):
            (row,) = rows(report, backend=backend, value=f"grad {name}", against="finite diff")
            assert 0 <= row.max_abs < 1e-7 and row.error is None
    if len(AUTODIFF) == 2:
        for name in ("A", "B"):
            (row,) = rows(report, backend="torch", value=f"grad {name}", against="jax")
            assert row.max_abs < 1e-12
    assert not rows(report, backend="numpy", value="grad A")  # numpy has no autodiff


def test_default_sizes_are_three_and_an_ellipsis_is_one_axis_of_two() -> None:
    report = tc.check(MATMUL, backends=["numpy"])
    assert dict(report.sizes) == {"i": 3, "j": 3, "k": 3}
    assert dict(report.inputs) == {"A": (3, 3), "B": (3, 3)}
    report = tc.check("C[..., i, k] = A[..., i, j] * B[..., j, k]", backends=["numpy"])
    assert dict(report.inputs) == {"A": (2, 3, 3), "B": (2, 3, 3)}


def test_given_shapes_and_sizes_set_the_others() -> None:
    report = tc.check(MATMUL, shapes={"A": (2, 5)}, sizes={"k": 4}, backends=["numpy"])
    assert dict(report.sizes) == {"i": 2, "j": 5, "k": 4}
    assert dict(report.inputs) == {"A": (2, 5), "B": (5, 4)}
    assert report.ok


def test_batch_dimensions_follow_a_given_shape() -> None:
    src = "C[..., i, k] = A[..., i, j] * B[..., j, k]"
    report = tc.check(src, shapes={"A": (4, 1, 2, 3)}, backends=["numpy"])
    assert dict(report.inputs) == {"A": (4, 1, 2, 3), "B": (4, 1, 3, 3)}
    assert report.ok


def test_composed_axes_are_solved_from_a_given_shape() -> None:
    src = "X[b, h, n, d] = Y[b, n, (h d)]"
    report = tc.check(src, shapes={"Y": (2, 5, 12)}, sizes={"h": 4}, backends=["numpy"])
    assert dict(report.sizes) == {"b": 2, "n": 5, "h": 4, "d": 3}
    report = tc.check(src, shapes={"Y": (2, 5, 12)}, backends=["numpy"])
    assert report.sizes["h"] * report.sizes["d"] == 12
    assert report.ok
    report = tc.check("Y[b, n, (h d)] = X[b, h, n, d]", backends=["numpy"])
    assert dict(report.inputs) == {"X": (3, 3, 3, 3)}


def test_scalar_inputs_are_numbers_and_have_no_gradient() -> None:
    report = tc.check("Y[i] = alpha * X[i]")
    assert dict(report.inputs) == {"alpha": (), "X": (3,)}
    assert not rows(report, value="grad alpha")
    assert report.ok
    report = tc.check("y = 2 * alpha")
    assert not [d for d in report.differences if d.value.startswith("grad")]
    assert any("no tensor input" in note for note in report.notes)


def test_programs_with_no_float_output_have_no_gradients() -> None:
    report = tc.check("m[i] = sum[j](A[i, j] * B[j, i]) > 0")
    assert report.ok
    assert not [d for d in report.differences if d.value.startswith("grad")]
    assert any("no float output" in note for note in report.notes)


def test_every_output_of_a_tuple_is_compared() -> None:
    report = tc.check("T[i, j] = A[i, j] * 2\nU[i] = T[i, j] * x[j]\nreturn T, U")
    for backend in INSTALLED:
        assert {d.value for d in rows(report, backend=backend, against="reference")} == {"T", "U"}


def test_float32_differs_from_the_reference_but_within_the_default_tolerance() -> None:
    report = tc.check("y[i] = exp(A[i, j]) * x[j]", dtype="float32")
    assert report.dtype == "float32"
    assert report.ok, str(report)
    assert 0 < report.max_rel < 1e-5
    assert not tc.check("y[i] = exp(A[i, j]) * x[j]", dtype="float32", tolerance=0).ok


def test_the_seed_fixes_the_inputs() -> None:
    src = "y[i] = exp(A[i, j]) * x[j]"
    first = tc.check(src, dtype="float32", seed=3)
    assert tc.check(src, dtype="float32", seed=3) == first
    assert tc.check(src, dtype="float32", seed=4).differences != first.differences


def test_nan_outputs_agree_and_are_noted() -> None:
    report = tc.check("y[i] = log(x[i])", seed=0)
    assert report.ok
    assert any("NaN" in note and "positive" in note for note in report.notes)
    assert not rows(report, against="finite diff")
    positive = tc.check("y[i] = log(x[i])", positive=True)
    assert not positive.notes and positive.ok


def test_large_inputs_compare_gradients_across_backends_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(check_module, "FINITE_DIFFERENCE_LIMIT", 10)
    report = tc.check(MATMUL)
    assert report.ok
    assert not rows(report, against="finite diff")
    assert any("finite differences" in note for note in report.notes)


# ----------------------------------------------------------------------------- catching faults


def test_a_backend_that_computes_something_else_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    original = check_module.compile_program

    def miscompile(src: str, backend: str | None = None, passes: Any = None) -> Any:
        if backend == "numpy" and passes is None:  # the backend under test, not the reference
            return original(src.replace("* B[j, k]", "* B[j, k] * 1.001"), backend)
        return original(src, backend) if passes is None else original(src, backend, passes)

    monkeypatch.setattr(check_module, "compile_program", miscompile)
    report = tc.check(MATMUL)
    assert not report.ok
    failed = {(d.backend, d.value) for d in report.failures}
    assert ("numpy", "C") in failed
    assert all(d.backend == "numpy" for d in report.failures)
    (row,) = rows(report, backend="numpy", value="C")
    assert 0.0009 < row.max_rel < 0.0011
    text = str(report)
    assert text.splitlines()[-1].startswith("FAILED: 1 of ")
    assert " NO" in text


def test_a_backend_that_raises_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    original = check_module.compile_program

    class Broken:
        inputs = ("A", "B")

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise tc.TensorcError("the generated torch code failed on these arguments: boom")

    def compile_program(src: str, backend: str | None = None, passes: Any = None) -> Any:
        if backend == "torch":
            return Broken()
        return original(src, backend) if passes is None else original(src, backend, passes)

    monkeypatch.setattr(check_module, "compile_program", compile_program)
    report = tc.check(MATMUL, backends=["numpy", "torch"])
    assert not report.ok
    errors = [d for d in report.differences if d.error]
    assert errors and all(d.backend == "torch" for d in errors)
    assert any(d.value == "C" and "boom" in (d.error or "") for d in errors)
    assert "errors:\n  torch C: the generated torch code failed" in str(report)


def test_backends_not_installed_are_skipped_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec now says: not installed
    report = tc.check(MATMUL, backends=["numpy", "torch"])
    assert dict(report.skipped) == {"torch": "not installed"}
    assert {d.backend for d in report.differences} == {"numpy"}
    assert report.ok
    assert "skipped torch: not installed" in str(report)
    nothing = tc.check(MATMUL, backends=["torch"])
    assert nothing.differences == () and nothing.ok
    assert str(nothing).splitlines()[-1] == "nothing was compared: every backend named was skipped"


def test_only_the_named_backends_run() -> None:
    report = tc.check(MATMUL, backends=["numpy"])
    assert {d.backend for d in report.differences} == {"numpy"}
    assert any("need jax or torch" in note for note in report.notes)
    assert {d.backend for d in tc.check(MATMUL, backends="numpy").differences} == {"numpy"}


# ----------------------------------------------------------------------------- the report


def test_report_text() -> None:
    report = tc.check(MATMUL, shapes={"A": (2, 3)}, sizes={"k": 4})
    lines = str(report).splitlines()
    assert lines[0] == f"tensorc check: {MATMUL}"
    assert lines[1] == "inputs: A 2x3, B 3x4"
    assert lines[2] == "sizes: i=2 j=3 k=4; float64 inputs, seed 0"
    header = lines[5].split()
    assert header == ["backend", "value", "against", "max", "abs", "max", "rel", "within", "1e-05"]
    table = lines[6 : 6 + len(report.differences)]
    for line, difference in zip(table, report.differences, strict=True):
        cells = line.split()
        assert cells[:3] == [difference.backend, *difference.value.split(), difference.against][:3]
        assert cells[-1] == "yes"
    assert lines[-1].startswith("ok: every difference is within 1e-05 (largest difference ")


def test_report_is_a_frozen_dataclass() -> None:
    report = tc.check(MATMUL, backends=["numpy"])
    assert isinstance(report, tc.CheckReport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.tolerance = 1.0  # type: ignore[misc]
    difference = report.differences[0]
    assert difference.within(0.0)
    assert not dataclasses.replace(difference, max_abs=1.0, max_rel=1.0).within(0.5)
    assert not dataclasses.replace(difference, error="boom").within(1.0)


# ----------------------------------------------------------------------------- program errors


def test_a_size_mismatch_of_given_shapes_is_a_shape_error_with_a_caret() -> None:
    with pytest.raises(tc.ShapeError) as info:
        tc.check(MATMUL, shapes={"A": (2, 3), "B": (4, 5)})
    assert info.value.message == "index 'j' has size 3 in A but size 4 in B"
    assert "^" in str(info.value)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: tc.check("C[i] = A[i] $ B[i]"), "unexpected character '$'"),
        (lambda: tc.check(MATMUL, shapes={"Q": (2,)}), "'Q' is not an input"),
        (lambda: tc.check(MATMUL, shapes={"A": (2, 3, 4)}), "A is indexed with 2 axes"),
        (lambda: tc.check(MATMUL, sizes={"zz": 3}), "unknown keyword argument 'zz'"),
        (lambda: tc.check(MATMUL, backends=["tensorflow"]), "unknown backend 'tensorflow'"),
        (lambda: tc.check(MATMUL, dtype="float16"), "dtype must be"),
        (lambda: tc.check(MATMUL, tolerance=-1), "tolerance must be a non-negative number"),
        (lambda: tc.check(MATMUL, shapes={"A": (2, -3)}), "shape of A must be non-negative ints"),
        (lambda: tc.check(MATMUL, shapes={"A": "2x3"}), "shape of A must be non-negative ints"),  # type: ignore[dict-item]
        (lambda: tc.check(MATMUL, sizes={"k": -1}), "the size k=-1 must be a non-negative int"),
        (lambda: tc.check(MATMUL, sizes={"k": "4"}), "the size k='4' must be a non-negative int"),  # type: ignore[dict-item]
        (lambda: tc.check("Y[i] = alpha * X[i]", shapes={"alpha": (3,)}), "used as a scalar"),
        (
            lambda: tc.check(
                "X[b, h, n, d] = Y[b, n, (h d)]", shapes={"Y": (2, 5, 7)}, sizes={"h": 2}
            ),
            "axis (h d) of Y has size 7, which is not divisible by h=2",
        ),
    ],
)
def test_program_errors_are_tensorc_errors(call: Any, words: str) -> None:
    with pytest.raises(tc.TensorcError) as info:
        call()
    assert words in str(info.value)
