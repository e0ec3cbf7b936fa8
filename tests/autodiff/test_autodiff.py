"""tc.grad, tc.vjp and tc.jvp: the derivative programs they write, JAX's conventions at
non-differentiable points, dtypes, '...' broadcasting, errors and the command line."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from references import BACKENDS, to_backend, to_numpy

import tensorc as tc
from tensorc.cli import main


def jax_grad(source: str, wrt: str, *args: np.ndarray) -> np.ndarray:
    f = tc.compile(source, backend="jax")
    position = f.inputs.index(wrt)
    return np.asarray(jax.grad(f, argnums=position)(*map(jnp.asarray, args)))


# --- the derivative is a readable program ------------------------------------------------


def test_vjp_of_a_matmul_is_two_matmuls() -> None:
    f = tc.vjp("C[i, k] = A[i, j] * B[j, k]", wrt=("A", "B"))
    lines = [line for line in f.text.splitlines() if not line.startswith("#")]
    assert lines == [
        "C[i, k] = A[i, j] * B[j, k]",
        "dA[i, j] = dC[i, k] * B[j, k]",
        "dB[j, k] = dC[i, k] * A[i, j]",
        "return dA, dB",
    ]
    assert f.inputs == ("A", "B", "dC")
    assert "def program(A, B, dC):" in f.source
    assert "@" in f.source  # the contractions became matmuls, as in any program
    assert "dA" in f.ir


def test_jvp_of_a_matmul_sums_two_products() -> None:
    f = tc.jvp("C[i, k] = A[i, j] * B[j, k]", wrt=("A", "B"))
    assert "dC[i, k] = sum[j](dA[i, j] * B[j, k]) + sum[j](A[i, j] * dB[j, k])" in f.text
    assert f.inputs == ("A", "B", "dA", "dB")
    a, b, da, db = (np.random.default_rng(k).standard_normal((3, 3)) for k in range(4))
    c, dc = f(a, b, da, db)
    np.testing.assert_allclose(c, a @ b)
    np.testing.assert_allclose(dc, da @ b + a @ db)


def test_grad_of_a_scalar_keeps_the_program_signature() -> None:
    f = tc.grad("s = x[i] * y[i]", wrt="x")
    assert "dx[i] = ds * y[i]" in f.text
    assert f.inputs == ("x", "y") == f.program.inputs
    x, y = np.arange(3.0), np.ones(3)
    np.testing.assert_allclose(f(x, y), y)
    np.testing.assert_allclose(f(x=x, y=y), y)
    dx, dy = tc.grad("s = x[i] * y[i]", wrt=("x", "y"))(x, y)
    np.testing.assert_allclose(dx, y)
    np.testing.assert_allclose(dy, x)


def test_softmax_and_composed_axes_adjoints() -> None:
    f = tc.vjp("P[i, j] = softmax[j](S[i, j])", wrt="S")
    assert "dS[i, j] = P[i, j] * (dP[i, j] - sum[j](dP[i, j] * P[i, j]))" in f.text
    g = tc.vjp("X[b, h, n, d] = Y[b, n, (h d)]", wrt="Y")
    assert "dY[b, n, (h d)] = dX[b, h, n, d]" in g.text
    y, dx = np.arange(24.0).reshape(1, 4, 6), np.ones((1, 2, 4, 3))
    assert g(y, dx, h=2).shape == (1, 4, 6)


def test_user_names_never_collide_with_adjoint_names() -> None:
    source = "dA[i] = A[i] * 2\nL = sum[i](dA[i] * A[i])"
    f = tc.grad(source, wrt="A")
    a = np.arange(3.0)
    np.testing.assert_allclose(f(a), 4 * a)
    assert "dA_2" in f.text


def test_reassigned_names() -> None:
    source = "X[i] = X[i] * 2\nX[i] = exp(X[i])\nL = sum[i](X[i] * w[i])"
    x, w = np.array([0.1, -0.3, 0.5]), np.array([1.0, 2.0, 3.0])
    for wrt in ("X", "w"):
        np.testing.assert_allclose(
            tc.grad(source, wrt=wrt)(x, w), jax_grad(source, wrt, x, w), rtol=1e-12
        )


def test_passes_apply_to_the_derivative() -> None:
    source = "H[i] = exp(x[i])\nL = sum[i](H[i] * exp(x[i]))"
    f = tc.grad(source, wrt="x")
    assert f.source == tc.compile(f.text).source  # compiled as any program is
    assert f.ir != tc.grad(source, wrt="x", passes=()).ir  # exp(x) computed once


def test_deep_expressions_give_derivatives_of_linear_size() -> None:
    depth = 100
    source = "L = sum[i](" + "tanh(" * depth + "x[i] * w[i]" + ")" * depth + ")"
    f = tc.grad(source, wrt=("x", "w"))
    assert len(f.text) < 200 * depth  # a copy of each inner subexpression would be quadratic
    x, w = np.array([0.5, 1.0]), np.array([2.0, 1.0])
    for got, want in zip(f(x, w), (jax_grad(source, n, x, w) for n in "xw"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10)


# --- JAX's conventions where there is no derivative ---------------------------------------

CONVENTIONS = [
    ("L = sum[i](abs(x[i]))", [0.0, 1.0, -1.0]),  # abs'(0) = 1
    ("L = sum[i](relu(x[i]))", [0.0, 1.0, -1.0]),  # relu'(0) = 0
    ("L = sum[i](max(x[i], 0))", [0.0, 1.0, -1.0]),  # a tie shares: 1/2 each
    ("L = sum[i](min(x[i], y[i]))", [0.0, 1.0, -1.0]),
    ("L = max[i](x[i])", [3.0, 1.0, 3.0]),  # tied maxima share equally
    ("L = sum[j](min[i](X[i, j]))", [[1.0, 2.0], [1.0, 0.0]]),
    ("L = sum[i](where(x[i] > 0, x[i], 0))", [0.0, 1.0, -1.0]),
    ("L = sum[i](sqrt(x[i]))", [0.0, 1.0, 4.0]),  # inf at 0
    ("L = prod[i](x[i])", [0.0, 2.0, 3.0]),  # one zero: the product of the others
    ("L = prod[i](x[i])", [0.0, 0.0, 3.0]),
    ("L = logsumexp[i](x[i])", [-np.inf, 1.0, 3.0]),
    ("L = sum[i](x[i] ** y[i])", [0.0, 1.0, 4.0]),
    ("L = sum[i](2 ** x[i] + x[i] ** 0.5)", [0.0, 1.0, 4.0]),
]


@pytest.mark.parametrize(("source", "value"), CONVENTIONS)
def test_non_differentiable_points_follow_jax(source: str, value: list[float]) -> None:
    x = np.array(value)
    y = np.array([0.0, 1.0, -1.0])
    f = tc.compile(source)
    args = [x, y][: len(f.inputs)]
    for wrt in f.inputs:
        expected = jax_grad(source, wrt, *args)
        for backend in BACKENDS:
            with np.errstate(all="ignore"):
                got = tc.grad(source, wrt=wrt, backend=backend)(
                    *(to_backend(a, backend) for a in args)
                )
            np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12, err_msg=backend)


# --- dtypes and arrays ----------------------------------------------------------------------

DTYPE_PROGRAMS = [
    "L = mean[i, j](A[i, j])",
    "L = max[i, j](A[i, j])",
    "L = sum[i, j](relu(A[i, j]) * abs(A[i, j]))",
    "L = sum[i, j](cumsum[i](A[i, j]) * A[i, j])",
    "L = sum[i, j](softmax[j](A[i, j]) * A[i, j])",
    "L = sum[i](prod[j](A[i, j]))",
    "L = A[i, i]",
    "L = sum[i, j](A[i, j])",
]


@pytest.mark.parametrize("source", DTYPE_PROGRAMS)
def test_float32_gradients_stay_float32(source: str) -> None:
    a = np.random.default_rng(0).uniform(0.5, 1.5, (3, 3)).astype(np.float32)
    expected = jax_grad(source, "A", a.astype(np.float64))
    for backend in BACKENDS:
        got = tc.grad(source, wrt="A", backend=backend)(to_backend(a, backend))
        assert to_numpy(got).dtype == np.float32, backend
        np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-5, atol=1e-6)


def test_broadcast_batch_axes_are_summed_out() -> None:
    source = "C[..., i, k] = A[..., i, j] * B[..., j, k]"
    rng = np.random.default_rng(1)
    a, b, dc = rng.standard_normal((2, 1, 3, 4)), rng.standard_normal((5, 4, 2)), None
    dc = rng.standard_normal((2, 5, 3, 2))
    f = tc.vjp(source, wrt=("A", "B"))
    expected = jax.vjp(lambda a, b: jnp.matmul(a, b), jnp.asarray(a), jnp.asarray(b))[1](
        jnp.asarray(dc)
    )
    for backend in BACKENDS:
        got = f(*(to_backend(v, backend) for v in (a, b, dc)))
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(to_numpy(g), np.asarray(e), rtol=1e-12)


def test_a_vector_broadcast_over_batch_axes() -> None:
    f = tc.vjp("C[..., i] = A[..., i] + b[i]", wrt="b")
    assert "db_batch[..., i] = dC[..., i]" in f.text  # per batch element; the call sums
    dc = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(f(np.zeros((2, 3, 4)), np.zeros(4), dc), dc.sum(axis=(0, 1)))


def test_generated_module_runs_alone() -> None:
    f = tc.grad("t = A[i, i]", wrt="A")
    namespace: dict[str, object] = {}
    exec(compile(f.source, "<grad>", "exec"), namespace)
    a = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(namespace["program"](a), np.eye(3))  # type: ignore[operator]
    assert "def program(A):" in f.source


def test_jax_jit_of_a_derivative() -> None:
    f = tc.grad("L = sum[i](tanh(x[i]) * w[i])", wrt=("x", "w"), backend="jax")
    x, w = jnp.asarray([0.1, 0.2]), jnp.asarray([1.0, -1.0])
    dx, dw = jax.jit(f)(x, w)
    np.testing.assert_allclose(dx, w * (1 - np.tanh(x) ** 2), rtol=1e-12)
    np.testing.assert_allclose(dw, np.tanh(x), rtol=1e-12)


def test_inputs_and_outputs_that_do_not_depend_on_each_other() -> None:
    source = "S[i] = sum[j](A[i, j])\nT[i] = x[i] * 2\nreturn S, T"
    a, x = np.ones((2, 3)), np.ones(2)
    f = tc.vjp(source, wrt=("A", "x"))
    assert f.inputs == ("A", "x", "dS", "dT")
    da, dx = f(a, x, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_allclose(da, [[1.0] * 3, [2.0] * 3])
    np.testing.assert_allclose(dx, [6.0, 8.0])
    zero = tc.vjp(source, wrt="x")(a, x, np.ones(2), np.zeros(2))
    np.testing.assert_allclose(zero, [0.0, 0.0])
    (s, t), (ds, dt) = tc.jvp(source, wrt="x")(a, x, np.ones(2))
    np.testing.assert_allclose(s, [3.0, 3.0])
    np.testing.assert_allclose(t, [2.0, 2.0])
    np.testing.assert_allclose(ds, [0.0, 0.0])
    np.testing.assert_allclose(dt, [2.0, 2.0])


def test_torch_results_stay_on_torch() -> None:
    f = tc.grad("L = sum[i](exp(x[i]))", wrt="x")
    x = torch.tensor([0.0, 1.0], dtype=torch.float64)
    got = f(x)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, torch.exp(x))


# --- errors -------------------------------------------------------------------------------


def test_grad_needs_a_scalar_result() -> None:
    with pytest.raises(tc.TensorcError, match=r"scalar result.*C\[i, k\].*tc\.vjp"):
        tc.grad("C[i, k] = A[i, j] * B[j, k]", wrt="A")
    with pytest.raises(tc.TensorcError, match="returns 2 values"):
        tc.grad("s = x[i]\nt = x[i] * 2\nreturn s, t", wrt="x")


def test_wrt_must_name_inputs() -> None:
    with pytest.raises(tc.TensorcError, match=r"'C'.*not an input.*inputs: A, B"):
        tc.vjp("C[i, k] = A[i, j] * B[j, k]", wrt="C")
    with pytest.raises(tc.TensorcError, match="wrt"):
        tc.vjp("C[i, k] = A[i, j] * B[j, k]", wrt=3)  # type: ignore[arg-type]
    with pytest.raises(tc.TensorcError, match="unknown backend"):
        tc.grad("s = x[i]", wrt="x", backend="tensorflow")


def test_program_errors_are_the_usual_ones() -> None:
    with pytest.raises(tc.ParseError):
        tc.grad("s = x[i", wrt="x")
    with pytest.raises(tc.ShapeError, match="must be reduced"):
        tc.grad("y[i] = A[i, j] + 1", wrt="A")
    f = tc.grad("s = x[i] * y[i]", wrt="x")
    with pytest.raises(tc.ShapeError, match="index 'i'"):
        f(np.ones(2), np.ones(3))
    with pytest.raises(tc.TensorcError, match="missing argument for input 'y'"):
        f(np.ones(2))


# --- command line ---------------------------------------------------------------------------


def test_cli_compiles_the_gradient(capsys: pytest.CaptureFixture[str]) -> None:
    source = "H[n, o] = X[n, i] * W[i, o]\nL = mean[n, o](relu(H[n, o] + b[o]))"
    assert main(["compile", "-e", source, "--grad", "W,b", "--backend", "torch"]) == 0
    out = capsys.readouterr().out
    assert "def program(X, W, b):" in out
    assert "import torch" in out
    assert "return dW, db" in out
    assert main(["compile", "-e", "C[i, k] = A[i, j] * B[j, k]", "--grad", "A"]) == 1
    assert "tc.vjp" in capsys.readouterr().err
