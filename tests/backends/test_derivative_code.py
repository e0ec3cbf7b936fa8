"""What code generation does for derivative programs (issue 13), on every backend: batched dot
products without a 1 x n by n x 1 matmul, dead arrays deleted on eager backends, torch's own
kernels for relu's mask and softmax's vjp, and counts written as sizes."""

from __future__ import annotations

import doctest

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.backends import BACKENDS
from tensorc.codegen import lifetimes

ROW_DOT = "s[b] = sum[o](Y[b, o] * Z[b, o])"
DOTS = {"numpy": "np.einsum('...i,...i->...', Y, Z)", "jax": "_sum_of_products(Y, Z, (1,))"}
DOTS["torch"] = "(Y * Z).sum(-1, dtype=Y.dtype)"
COLUMN_DOT = "s[o] = sum[b](Y[b, o] * Z[b, o])"


def body(source: str) -> str:
    """The generated function's code, without the comments that quote the program."""
    lines = source[source.index("def program") :].splitlines()
    return "\n".join(line for line in lines if not line.strip().startswith("#"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_row_wise_dot_is_no_batched_matmul(backend: str) -> None:
    text = body(tc.compile(ROW_DOT, backend=backend).source)
    assert DOTS[backend] in text
    assert "[..., None, :]" not in text


def test_a_dot_over_a_leading_axis_reads_its_operands_in_place_on_jax() -> None:
    """XLA fuses the product into the sum; a dot of the transposed operands needs both in
    memory (16 MiB more in the layer norm's derivative, tests/autodiff/test_standardised.py)."""
    text = body(tc.compile(COLUMN_DOT, backend="jax").source)
    assert "_sum_of_products(Y, Z, (0,))" in text and ".T" not in text


@pytest.mark.parametrize("dtypes", [("int8", "int8"), ("int32", "float32"), ("bool", "bool")])
@pytest.mark.parametrize("source", [ROW_DOT, COLUMN_DOT])
def test_jax_sum_of_products_gives_what_einsum_gives(source: str, dtypes: tuple[str, str]) -> None:
    """The dtype of the product, as einsum's: int8 stays int8 (and wraps as it does)."""
    y = (np.arange(6).reshape(2, 3) * 40).astype(dtypes[0])
    z = (np.arange(6).reshape(2, 3) % 4 + 1).astype(dtypes[1])
    got = tc.compile(source, backend="jax")(jnp.asarray(y), jnp.asarray(z))
    spec = "bo,bo->b" if source == ROW_DOT else "bo,bo->o"
    want = jnp.einsum(spec, jnp.asarray(y), jnp.asarray(z))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_jax_sum_of_products_lines_up_ellipsis_axes_by_label() -> None:
    """Operands whose `...` differ in rank keep JAX's einsum, which lines them up."""
    source = "s[..., o] = sum[b](Y[b, ..., o] * Z[b, ..., o])"
    y, z = np.arange(30.0).reshape(2, 5, 3), np.arange(6.0).reshape(2, 3)
    got = tc.compile(source, backend="jax")(jnp.asarray(y), jnp.asarray(z))
    np.testing.assert_allclose(np.asarray(got), np.einsum("b...o,bo->...o", y, z), rtol=1e-6)


def test_jax_sum_of_products_sums_16_bit_floats_as_a_dot_does() -> None:
    """In float32, then rounded once, as einsum's dot: 4448 here, where summing the products
    rounded to bfloat16 gives 4416."""
    a = jnp.arange(1.0, 16.0, dtype=jnp.bfloat16)[None] ** 0.5
    got = tc.compile(COLUMN_DOT, backend="jax")((a * 37).T, a.T)
    assert got.dtype == jnp.bfloat16
    assert got[0] == jnp.einsum("bo,bo->o", (a * 37).T, a.T)[0]


WEIGHT_GRADIENT = "dW[h, o] = H[b, h] * dZ[b, o]"


def test_jax_multiplies_a_transposed_left_side_in_the_faster_orientation() -> None:
    """`H.T @ dZ` through `_transposed_times`, which computes `(dZ.T @ H).T` on CPU where
    H's free axis is the longer (1.6x faster at 512 x 512 by 512 x 64)."""
    f = tc.compile(WEIGHT_GRADIENT, backend="jax")
    assert "_transposed_times(H, dZ)" in body(f.source)
    rng = np.random.default_rng(0)
    for h, o in ((48, 5), (5, 48), (7, 7)):
        x, y = rng.standard_normal((11, h)), rng.standard_normal((11, o))
        got = f(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))
        assert got.shape == (h, o) and got.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(got), x.T @ y, rtol=1e-5, atol=1e-5)
    ints = np.arange(24, dtype=np.int8).reshape(3, 8), np.ones((3, 2), np.int8)
    got = f(*(jnp.asarray(a) for a in ints))
    assert got.dtype == jnp.int8
    np.testing.assert_array_equal(np.asarray(got), ints[0].T @ ints[1])


@pytest.mark.parametrize("dtype", ["int32", "float32", "float64"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_row_wise_dot_keeps_the_dtype_of_the_matmul(backend: str, dtype: str) -> None:
    """`(a * b).sum(-1)` on torch widens int32 to int64; the matmul it replaces did not."""
    y = np.arange(6).reshape(2, 3).astype(dtype)
    z = (np.arange(6).reshape(2, 3) % 4).astype(dtype)
    f = tc.compile(ROW_DOT, backend=backend)
    got = f(y, z) if backend == "numpy" else f(torch.from_numpy(y), torch.from_numpy(z))
    assert str(got.dtype).removeprefix("torch.") == dtype
    np.testing.assert_array_equal(np.asarray(got), (y * z).sum(-1))


CHAIN = "A[i, j] = exp(X[i, j])\nB[i, j] = A[i, j] * 2\nC[i, j] = B[i, j] + 1"


@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_arrays_are_deleted_on_eager_backends(backend: str) -> None:
    text = body(tc.compile(CHAIN, backend=backend).source)
    assert ("del A" in text) == (backend != "jax")  # XLA assigns JAX's buffers itself
    assert "del B" not in text  # nothing is computed after its last read


def test_lifetimes_doctest() -> None:
    assert doctest.testmod(lifetimes).failed == 0


RELU = "H[b, h] = relu(sum[i](X[b, i] * W[i, h]))\nL = sum[b, h](H[b, h] * G[b, h])"
SOFTMAX = "P[i, j] = softmax[j](S[i, j])\nL = sum[i, j](P[i, j] * G[i, j])"


@pytest.mark.parametrize(
    ("source", "wrt", "kernel"),
    [(RELU, "W", "threshold_backward("), (SOFTMAX, "S", "_softmax_backward_data(")],
)
def test_torch_runs_relu_and_softmax_derivatives_as_its_kernels(
    source: str, wrt: str, kernel: str
) -> None:
    rng = np.random.default_rng(0)
    program = tc.compile(source, backend="numpy")
    shapes = {"X": (4, 3), "W": (3, 5), "G": (4, 5), "S": (4, 5)}
    arrays = [rng.standard_normal(shapes[name]) for name in program.inputs]
    f = tc.grad(source, wrt=wrt, backend="torch")
    assert kernel in f.source
    expected = tc.grad(source, wrt=wrt, backend="numpy")(*arrays)
    got = f(*(torch.from_numpy(a) for a in arrays))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_mean_divides_by_the_size(backend: str) -> None:
    """The gradient of a mean: the seed is the number 1, the count is the batch size (a
    number once the shapes are known, `n_b` in generic code), nothing is raised to 0."""
    f = tc.grad("L = mean[b](x[b] * w[b] ** 2)", wrt="w", backend=backend)
    assert "dL = 1" in f.text
    assert "** 0" not in body(f.source)
    x = np.arange(4.0)
    arguments = [BACKENDS[backend].from_numpy(a) for a in (x, x)]
    assert "/ 4" in body(f.source_for(*arguments))
    np.testing.assert_allclose(BACKENDS[backend].to_numpy(f(*arguments)), 2 * x * x / 4)


POOL_LOSS = "P[n, y] = max[p](X[n, 2*y + p])\nL = sum[n, y](P[n, y] * G[n, y])"
ROW_MAX_LOSS = "M[n, y] = max[p](X[n, y, p])\nL = sum[n, y](M[n, y] * G[n, y])"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_max_derivative_counts_its_ties_in_integers(backend: str) -> None:
    """The ties of each row are counted (a float sum over window axes is several times
    slower under XLA), and no `** 0` is left."""
    x = np.array([[[3.0, 3.0], [2.0, 5.0], [4.0, 4.0]]], np.float32)  # two rows tie
    g = np.array([[1.0, 2.0, 4.0]], np.float32)
    record = BACKENDS[backend]
    f = tc.grad(ROW_MAX_LOSS, wrt=("X",), backend=backend)
    (dx,) = f(X=record.from_numpy(x), G=record.from_numpy(g))
    text = body(f.source)
    assert "_count(" in text and "** 0" not in text
    np.testing.assert_array_equal(np.asarray(record.to_numpy(dx)), [[[0.5, 0.5], [0, 2], [2, 2]]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pool_derivative_is_one_kernel(backend: str) -> None:
    """A max pool's derivative is the backend's `_pool_derivative` (one strided slice per
    window offset), written from zeros at once: no `** 0` and no add into zeros is left."""
    x = np.array([[3.0, 3.0, 2.0, 5.0, 4.0, 4.0]], np.float32)  # two windows tie
    g = np.array([[1.0, 2.0, 4.0]], np.float32)
    record = BACKENDS[backend]
    f = tc.grad(POOL_LOSS, wrt=("X",), backend=backend)
    (dx,) = f(X=record.from_numpy(x), G=record.from_numpy(g))
    text = body(f.source)
    assert "_pool_derivative(" in text and "** 0" not in text and "_zeros_like(" not in text
    np.testing.assert_array_equal(np.asarray(record.to_numpy(dx)), [[0.5, 0.5, 0, 2, 2, 2]])


IDIOMS = {  # program: the same formula, written by hand for the framework's arrays
    "Y[i, j] = 0 * X[i, j] ** 0": lambda c, x: 0 * x**0,
    "Y[i, j] = X[i, j] ** 0": lambda c, x: x**0,
    "Y[i] = sum[j](where(C[i, j], X[i, j] ** 0, 0))": None,  # the framework's where and sum
}


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("source", IDIOMS)
def test_idioms_keep_the_formulas_dtype_and_value(source: str, backend: str, dtype: str) -> None:
    """zeros_like, ones_like and the count give what the formula gives: for a bool or an
    integer X that is the formula's own dtype (`True ** 0` is an integer, a sum of int8
    widens), and 200 ones counted in int8 must not wrap around."""
    record = BACKENDS[backend]
    rng = np.random.default_rng(0)
    c = record.from_numpy(rng.random((2, 200)) < 0.9)
    x = record.from_numpy(np.ones((2, 200), dtype))
    got = tc.compile(source, backend=backend)(C=c, X=x) if "C[" in source else None
    if got is None:
        got = tc.compile(source, backend=backend)(X=x)
    formula = IDIOMS[source]
    if formula is not None:
        want = formula(c, x)
    elif backend == "torch":
        want = torch.where(c, x**0, 0).sum(1)
    else:
        xp = np if backend == "numpy" else jnp
        want = xp.sum(xp.where(c, x**0, 0), axis=1)
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_array_equal(np.asarray(record.to_numpy(got)), record.to_numpy(want))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_count_beside_an_ellipsis_sums_its_own_axis(backend: str) -> None:
    record = BACKENDS[backend]
    rng = np.random.default_rng(1)
    c, x = rng.random((2, 3, 4)) > 0.5, rng.random((2, 3, 4)).astype(np.float32)
    f = tc.compile("Y[...] = sum[j](where(C[..., j], X[..., j] ** 0, 0))", backend=backend)
    got = np.asarray(record.to_numpy(f(record.from_numpy(c), record.from_numpy(x))))
    np.testing.assert_array_equal(got, c.sum(-1))
