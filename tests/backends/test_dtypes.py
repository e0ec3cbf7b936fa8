"""Dtypes the generated code sets itself, on every backend (issue 8, item 10): tensors made from
the program's numbers take the dtype of what they meet, sums that widen integers still meet in
matrix products, float-only operations make integers floating, and a Python number that is
computed reaches a torch function as a tensor."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch._dynamo as dynamo

import tensorc as tc
from tensorc.backends import BACKENDS

FLOATS = ["float16", "bfloat16", "float32", "float64"]


def array(backend: str, values: Any, dtype: str) -> Any:
    """`values` as an array of `backend` in `dtype` (a name every framework knows)."""
    if backend == "numpy":
        if dtype == "bfloat16":
            pytest.skip("NumPy has no bfloat16")
        return np.asarray(values, dtype=dtype)
    if backend == "jax":
        if dtype == "float64":
            pytest.skip("JAX computes in 32 bits unless 64-bit types are turned on")
        return jnp.asarray(values, dtype=getattr(jnp, dtype))
    return torch.tensor(values, dtype=getattr(torch, dtype))


def dtype_name(value: Any) -> str:
    return str(value.dtype).removeprefix("torch.")


def as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


# --- a tensor made from constants takes the dtype of what it meets ------------------------------

IDENTITY = "S[i, j] = where(i == j, 1.0, 0.0)\nY[i] = S[i, j] * X[j]"


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_constant_tensor_takes_the_dtype_of_the_input_it_multiplies(backend, dtype):
    """torch made S float32, so that float64/float16/bfloat16 inputs crashed in addmv; NumPy
    made it float64, which turned a float32 result into float64."""
    x = array(backend, [1.0, 2.0, 3.0], dtype)
    result = tc.compile(IDENTITY, backend=backend)(x, i=3)
    assert dtype_name(result) == dtype
    np.testing.assert_array_equal(as_numpy(result), [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("program", "sizes"),
    [
        ("S[i, j] = where(i == j, 2.5, 0.5)\nY[i, j] = S[i, j] * X[j]", {"i": 2}),
        ("S[i, j] = where(i <= j, 1, 0)\nY[i] = S[i, j] * X[j]", {"i": 2}),
        ("Y[i] = (X[i] > 0) * X[i]", {}),
        ("T[i, j] = 3\nY[i] = T[i, j] * X[j]", {"i": 2}),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_constants_keep_float32_float32(backend, program, sizes):
    """NumPy's where(..., 1, 0), full(..., 3) and where(..., 2.5, 0.5) were int64 or float64
    arrays, which made float32 inputs' results float64."""
    x = array(backend, [1.0, -2.0, 3.0], "float32")
    f = tc.compile(program, backend=backend)
    result = f(x, **sizes)
    expected = tc.compile(program, backend="numpy")(np.array([1.0, -2.0, 3.0]), **sizes)
    assert dtype_name(result) == "float32", f.source
    np.testing.assert_allclose(as_numpy(result), expected, rtol=1e-6)


def test_an_integer_constant_tensor_keeps_an_integer_input_integer():
    x = np.array([1, 2, 3], dtype=np.int8)
    result = tc.compile("T[i, j] = 3\nY[i] = T[i, j] * X[j]", backend="numpy")(x, i=2)
    assert result.dtype == np.int8
    np.testing.assert_array_equal(result, [18, 18])


# --- integer contractions after a sum -------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8"])
def test_an_integer_einsum_after_a_sum_on_torch(dtype):
    """The sum widens to int64 and the product refused to mix it with the other input."""
    a = np.arange(6).reshape(2, 3) % 4
    b = np.array([1, 2, 3])
    result = tc.einsum(
        "ab,b->",
        torch.tensor(a, dtype=getattr(torch, dtype)),
        torch.tensor(b).to(getattr(torch, dtype)),
        backend="torch",
    )
    assert int(result) == int(np.einsum("ab,b->", a, b))


AFTER_A_SUM = {
    "s = A[a, b] * B[b]": {"A": (2, 3), "B": (3,)},
    "C[a, c] = A[a, b, d] * B[b, c]": {"A": (2, 3, 2), "B": (3, 4)},
    "y[c] = A[a, b] * B[b, c]": {"A": (2, 3), "B": (3, 4)},
    # index values are int64 too
    "F[a, b] = b + A[a, b]\nC[a, c] = F[a, b] * B[b, c]": {"A": (2, 3), "B": (3, 4)},
}


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool"])
@pytest.mark.parametrize("program", AFTER_A_SUM)
def test_integer_and_boolean_products_after_a_sum_on_torch(program, dtype):
    rng = np.random.default_rng(0)
    f = tc.compile(program, backend="numpy")
    high = 2 if dtype == "bool" else 4
    arrays = [rng.integers(0, high, AFTER_A_SUM[program][name]).astype(dtype) for name in f.inputs]
    got = tc.compile(program, backend="torch")(*(torch.from_numpy(a) for a in arrays))
    np.testing.assert_array_equal(got.numpy(), f(*arrays))


# --- float-only operations of integers --------------------------------------------------------

INDEX = np.arange(4.0)
FLOAT_ONLY = [
    ("y = logsumexp[i](i)", np.log(np.exp(INDEX).sum())),
    ("y[i] = softmax[i](i)", np.exp(INDEX) / np.exp(INDEX).sum()),
    ("y[i] = log_softmax[i](i)", INDEX - np.log(np.exp(INDEX).sum())),
    ("y = mean[i](i)", INDEX.mean()),
    ("y = var[i](i)", INDEX.var()),
    ("y[i] = sigmoid(i)", 1 / (1 + np.exp(-INDEX))),
    ("y[i] = silu(i)", INDEX / (1 + np.exp(-INDEX))),
    ("y[i] = exp(i)", np.exp(INDEX)),
    ("y[i] = sqrt(i * 2)", np.sqrt(INDEX * 2)),
]


@pytest.mark.parametrize(("program", "expected"), FLOAT_ONLY, ids=[p for p, _ in FLOAT_ONLY])
@pytest.mark.parametrize("backend", BACKENDS)
def test_float_only_operations_of_index_values(backend, program, expected):
    result = tc.compile(program, backend=backend)(i=4)
    assert "float" in dtype_name(result)
    np.testing.assert_allclose(as_numpy(result), expected, rtol=1e-6)


@pytest.mark.parametrize("program", ["y[i] = softmax[i](x[i])", "y = logsumexp[i](x[i])"])
@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_softmax_of_an_integer_input(backend, program):
    """NumPy's helpers started from -inf in the input's integer dtype and overflowed."""
    x = array(backend, [0, 1, 2, 3], "int64" if backend == "numpy" else "int32")
    expected = tc.compile(program, backend="numpy")(np.arange(4.0))
    result = tc.compile(program, backend=backend)(x)
    assert "float" in dtype_name(result)
    np.testing.assert_allclose(as_numpy(result), expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["uint8", "bool"])
@pytest.mark.parametrize("program", ["y[i] = sigmoid(x[i])", "y[i] = silu(x[i])"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigmoid_of_unsigned_or_boolean_input(backend, program, dtype):
    """NumPy's sigmoid negated the input in its own dtype: uint8 wrapped around (sigmoid(1)
    was 0) and bool raised. A framework whose kernel refuses integers says so."""
    values = [0, 1, 1, 0] if dtype == "bool" else [0, 1, 2, 3]
    expected = tc.compile(program, backend="numpy")(np.asarray(values, dtype=float))
    try:
        result = tc.compile(program, backend=backend)(array(backend, values, dtype))
    except tc.TensorcError:
        assert backend != "numpy"
        return
    np.testing.assert_allclose(as_numpy(result), expected, rtol=1e-6)


# --- a computed Python number in a product ----------------------------------------------------


@pytest.mark.parametrize("program", ["y[i] = exp(0.5 * 2) * x[i]", "y[i] = x[i] + sigmoid(2 * 3)"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_function_of_a_computed_number(backend, program):
    """torch.exp was handed the Python float 0.5 * 2."""
    x = array(backend, [1.0, 2.0], "float32")
    expected = tc.compile(program, backend="numpy")(np.array([1.0, 2.0]))
    result = tc.compile(program, backend=backend)(x)
    assert dtype_name(result) == "float32"
    np.testing.assert_allclose(as_numpy(result), expected, rtol=1e-6)


# --- what the fixes write, torch.compile traces -----------------------------------------------


@pytest.mark.parametrize(
    ("program", "arguments"),
    [
        (IDENTITY, {"X": torch.ones(3, dtype=torch.float16), "i": 3}),
        ("s = A[a, b] * B[b]", {"A": torch.ones(2, 3, dtype=torch.int8), "B": torch.ones(3)}),
        ("y[i] = softmax[i](i) * x[i]", {"x": torch.ones(3)}),
        ("y[i] = exp(0.5 * 2) * x[i]", {"x": torch.ones(3)}),
    ],
)
def test_torch_compile_traces_the_dtypes_set_in_generated_code(program, arguments):
    f = tc.compile(program, backend="torch")
    f(**arguments)  # the plan is made outside the trace
    dynamo.reset()
    explained = dynamo.explain(f)(**arguments)
    assert explained.graph_break_count == 0, explained.break_reasons
