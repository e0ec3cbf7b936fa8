"""Arguments as users pass them (issue 8, items 8, 11 and 14): array subclasses, sizes no array
can have, names that clash with `self`, NumPy integers, odd `.shape`s, reversed views, masked
arrays, and keywords that name nothing. Each case failed before its fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorc as tc
from tensorc import passes as tensorc_passes

MATMUL = "C[i, k] = A[i, j] * B[j, k]"
BROADCAST = "Y[i, n] = A[i] + 0 * n"  # n's size comes by keyword


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --- item 8: np.matrix, and sizes that cannot be allocated or indexed -----------------------


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix's own
def test_np_matrix_inputs_are_plain_arrays():
    a = np.arange(6.0).reshape(2, 3)
    product = tc.compile("C[i, j] = A[i, j] * B[i, j]", backend="numpy")
    result = product(np.matrix(a), np.matrix(a))  # `*` of matrices is a matrix product
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, a * a)
    column_sums = tc.compile("s[j] = sum[i](A[i, j])", backend="numpy")(np.matrix(a))
    assert type(column_sums) is np.ndarray and column_sums.shape == (3,)


@pytest.mark.parametrize("size", [2**63, 2**62, 2**60])
def test_sizes_no_array_can_have_are_shape_errors(size):
    f = tc.compile(BROADCAST, backend="numpy")
    with pytest.raises(tc.ShapeError, match=f"index 'n' has size {size} from the keyword"):
        f(np.ones(2), n=size)


def test_arrays_no_backend_can_hold_are_shape_errors():
    # each axis fits, their product does not: 2**40 * 2**40 elements
    f = tc.compile("Y[m, n] = A[m] * B[n]", backend="numpy")
    huge = np.broadcast_to(np.zeros(()), (2**40,))  # one element, seen 2**40 times
    with pytest.raises(tc.ShapeError, match=r"2\*\*59") as caught:
        f(huge, huge)
    assert "[m, n]" in caught.value.message and caught.value.line == 1


def test_a_huge_size_on_jax_is_an_error_not_an_abort():
    """XLA aborts the whole process on a (2, 2**62) array (exit 134); the size never gets there."""
    pytest.importorskip("jax")
    script = textwrap.dedent(
        """
        import numpy as np, tensorc as tc
        f = tc.compile("Y[i, n] = A[i] + 0 * n", backend="jax")
        try:
            f(np.ones(2, dtype=np.float32), n=2**62)
        except tc.ShapeError as error:
            print("ShapeError", error.message)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ShapeError index 'n' has size 4611686018427387904")


# --- item 11: arguments that escaped as other exceptions -------------------------------------


def test_a_tensor_named_self_can_be_passed_by_name(rng):
    f = tc.compile("y[i] = self[i] * 2", backend="numpy")
    x = rng.standard_normal(3)
    np.testing.assert_array_equal(f(self=x), 2 * x)
    assert f.sizes_for(self=x) == {"i": 3}
    assert f.shapes_for(self=x)["self"] == (3,)
    assert "program(self)" in f.source_for(self=x)
    assert "y" in f.ir_for(self=x)
    f.function_for(self=x)
    derivative = tc.grad("L = sum[i](self[i] ** 2)", wrt="self", backend="numpy")
    np.testing.assert_allclose(derivative(self=x), 2 * x)


def test_a_size_named_self_can_be_passed_by_keyword():
    f = tc.compile("Y[i, self] = A[i] + 0 * self", backend="numpy")
    assert f(np.ones(2), self=3).shape == (2, 3)


def test_passes_none_is_the_default_pipeline(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    f = tc.compile(MATMUL, backend="numpy", passes=None)
    assert f.ir == tc.compile(MATMUL, backend="numpy").ir
    np.testing.assert_allclose(f(a, b), a @ b)
    np.testing.assert_allclose(tc.grad("L = x[i] * x[i]", "x", passes=None)(a[0]), 2 * a[0])


@pytest.mark.parametrize("passes", ["all", 3, [tensorc_passes.fold_constants, "fold"]])
def test_passes_that_are_not_passes_are_refused(passes):
    with pytest.raises(tc.TensorcError, match="pass"):
        tc.compile("y[i] = x[i] * 2", passes=passes)


class ListShape:
    shape = [2]  # noqa: RUF012 - a list on purpose


class StringShape:
    shape = "ab"


@pytest.mark.parametrize("argument", [ListShape(), StringShape()])
@pytest.mark.parametrize("by_keyword", [False, True])
def test_a_shape_that_is_not_a_tuple_of_ints_is_a_tensorc_error(argument, by_keyword):
    f = tc.compile("y[i] = x[i] * 2", backend="numpy")
    with pytest.raises(tc.TensorcError, match="is not a tuple of non-negative ints"):
        f(x=argument) if by_keyword else f(argument)


@pytest.mark.parametrize("size", [np.int64(3), np.int32(3), np.uint8(3)])
def test_numpy_integer_sizes_are_sizes(size):
    f = tc.compile(BROADCAST, backend="numpy")
    assert f(np.ones(2), n=size).shape == (2, 3)
    assert f(np.ones(2), n=type(size)(4)).shape == (2, 4)  # its own plan, not the last one's


def test_negative_stride_numpy_arrays_go_to_torch():
    torch = pytest.importorskip("torch")
    reversed_view = np.arange(4.0)[::-1]
    result = tc.compile("y[i] = x[i] * 2", backend="torch")(reversed_view)
    torch.testing.assert_close(result, torch.tensor([6.0, 4.0, 2.0, 0.0], dtype=torch.float64))


def test_masked_arrays_are_refused_with_a_tensorc_error():
    masked = np.ma.masked_array(np.ones((2, 3)), mask=np.eye(2, 3))
    f = tc.compile(MATMUL, backend="numpy")
    with pytest.raises(tc.TensorcError, match="input 'A': it is a masked array") as caught:
        f(masked, np.ones((3, 4)))
    assert "ValueError" not in str(caught.value)


# --- item 14: keywords that name nothing -----------------------------------------------------


def test_a_keyword_that_is_neither_input_nor_index_names_the_closest(rng):
    a = rng.standard_normal((2, 3))
    f = tc.compile(MATMUL, backend="numpy")
    with pytest.raises(tc.ShapeError) as caught:
        f(a, b=a.T)
    assert caught.value.message == (
        "unknown keyword argument 'b': it is neither an input nor an index of this program; "
        "did you mean 'B'?"
    )
    with pytest.raises(tc.ShapeError, match="did you mean 'k'"):
        f(a, a.T, kk=3)


def test_a_size_that_is_an_array_is_not_printed_whole():
    f = tc.compile(BROADCAST, backend="numpy")
    with pytest.raises(tc.TensorcError) as caught:
        f(np.ones(2), n=np.zeros((100, 100)))
    assert caught.value.message == (
        "the size n=<ndarray of shape (100, 100)> must be a non-negative int"
    )
