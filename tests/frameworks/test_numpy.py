"""tensorc's numpy backend: dtype promotion as NumPy's own ops give it, integer means,
non-contiguous (transposed, strided, reversed) and zero-size inputs.

Every program is checked against the same maths written by hand in numpy (cases.py)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import tensorc as tc

from .cases import CASES, CASES_BY_NAME, NUMPY_OPS, ZERO_IDS, ZERO_SIZE, inputs

CASE_IDS = [case.name for case in CASES]


def bound(case):
    return functools.partial(tc.compile(case.source, backend="numpy"), **case.sizes)


def reference(case, *args):
    return case.reference(NUMPY_OPS, *args, **case.sizes)


def close(got, expected, rtol=1e-10, atol=1e-12):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_allclose(
        got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol
    )


# NumPy has no bfloat16.
DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64]
TOLERANCE = {np.dtype(np.float16): 2e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_result_dtype_follows_numpy(case, dtype):
    integers = not np.issubdtype(dtype, np.floating)
    if integers and not case.ints and case.name != "mean":
        pytest.skip("integer inputs make no sense for this program")
    args = [x.astype(dtype) for x in inputs(case, integers=integers)]
    expected = reference(case, *args)
    got = bound(case)(*args)
    assert isinstance(got, np.ndarray | np.generic)
    tol = TOLERANCE.get(np.asarray(expected).dtype, 0)
    close(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    ("name", "dtypes"),
    [
        ("matmul", (np.float32, np.float64)),
        ("matmul", (np.int32, np.float32)),
        ("chain_of_three", (np.float16, np.float32, np.float64)),
        ("relu_bias", (np.int64, np.float32)),
        ("layer_norm", (np.float32, np.float16, np.float64)),
    ],
    ids=str,
)
def test_mixed_dtypes_promote_as_numpy_does(name, dtypes):
    case = CASES_BY_NAME[name]
    integers = not all(np.issubdtype(d, np.floating) for d in dtypes)
    args = [x.astype(d) for x, d in zip(inputs(case, integers=integers), dtypes, strict=True)]
    expected = reference(case, *args)
    assert expected.dtype == np.result_type(*dtypes)
    tol = max(TOLERANCE.get(np.dtype(d), 0) for d in dtypes)
    close(bound(case)(*args), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8], ids=["int32", "int64", "uint8"])
def test_integer_mean_follows_np_mean(dtype):
    a = np.arange(12, dtype=dtype).reshape(4, 3)
    close(tc.compile("m[j] = mean[i](A[i, j])", backend="numpy")(a), np.mean(a, axis=0))


@pytest.mark.parametrize(
    "make_view",
    [
        lambda x: x if x.ndim < 2 else np.ascontiguousarray(x.T).T,
        lambda x: np.repeat(x, 2, axis=0)[::2],
        lambda x: np.ascontiguousarray(x[::-1])[::-1],
    ],
    ids=["transposed", "strided", "reversed"],
)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_non_contiguous_inputs(case, make_view):
    args = inputs(case)
    views = [make_view(x) for x in args]
    assert any(not v.flags.c_contiguous for v in views)
    close(bound(case)(*views), reference(case, *args))


# The NumPy references reduce with np.max, which has no identity for an empty axis; tensorc's
# own softmax and logsumexp over an empty axis are tested on their own below.
NUMPY_ZERO_SIZE = [
    (name, shapes, label)
    for (name, shapes), label in zip(ZERO_SIZE, ZERO_IDS, strict=True)
    if not (name in ("softmax", "logsumexp") and next(iter(shapes.values()))[-1] == 0)
]


@pytest.mark.parametrize(
    ("name", "shapes"),
    [(name, shapes) for name, shapes, _ in NUMPY_ZERO_SIZE],
    ids=[label for _, _, label in NUMPY_ZERO_SIZE],
)
def test_zero_size_inputs(name, shapes):
    case = CASES_BY_NAME[name]
    args = [np.ones(shape) for shape in shapes.values()]
    if name == "split_axes_keyword":
        expected = args[0].reshape(0, 4, 2, 3).transpose(0, 2, 1, 3)
    elif name == "merge_axes":
        expected = args[0].transpose(0, 2, 1, 3).reshape(2, 4, 0)
    else:
        expected = reference(case, *args)
    close(bound(case)(*args), expected)


def test_logsumexp_over_an_empty_axis_is_minus_infinity():
    """NumPy's max has no identity, but sum(exp(empty)) = 0 and log(0) = -inf: torch and jax
    (and scipy.special.logsumexp) give -inf."""
    got = tc.compile("L[i] = logsumexp[j](S[i, j])", backend="numpy")(np.ones((3, 0)))
    close(got, np.full(3, -np.inf))


def test_softmax_over_an_empty_axis_is_empty():
    got = tc.compile("Z[i, j] = softmax[j](S[i, j])", backend="numpy")(np.ones((3, 0)))
    close(got, np.ones((3, 0)))
