"""CONTRACT §7, form by form, on every backend: tensor-valued indices.

Each program is written as the contract writes it and compared with NumPy's own meaning of
it (fancy indexing, `np.take_along_axis`, `np.add.at`, `np.bincount`, `np.argmax`), with
duplicate positions, empty index tensors, and int32 and int64 index tensors; the cross-entropy
also with `F.cross_entropy`, and at logits of 1000, where a naive log(sum(exp)) overflows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch.nn.functional as F
from indexing_support import ATOL32, RTOL32, check, randn, run, t

EMBEDDING = "E[b, t, d] = W[ids[b, t], d]"
CROSS_ENTROPY = "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]"
TAKE_ALONG = "G[i, j] = X[i, idx[i, j]]"
SEGMENT_SUM = "S[s, d] = 0\nS[seg[e], d] += X[e, d]"
ARGMAX = "a[i] = argmax[j](X[i, j])"
ARGMIN = "a[i] = argmin[j](X[i, j])"

INDEX_DTYPES = [np.int32, np.int64]


def positions(values: list[int] | list[list[int]], dtype: type) -> np.ndarray:
    return np.array(values, dtype=dtype)


def stable_cross_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    top = z.max(axis=1, keepdims=True)
    return np.log(np.exp(z - top).sum(axis=1)) + top[:, 0] - z[np.arange(len(y)), y]


# ----------------------------------------------------------------------------- gathers


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
def test_embedding_lookup(backend: str, dtype: type) -> None:
    w = randn(10, 4)
    ids = positions([[3, 0, 9], [3, 3, 7]], dtype)  # duplicates, first and last rows
    got = check(EMBEDDING, backend, [w, ids], w[ids])
    assert got.shape == (2, 3, 4)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 0)])
def test_embedding_lookup_of_no_positions(backend: str, shape: tuple[int, int]) -> None:
    w = randn(10, 4)
    ids = np.zeros(shape, dtype=np.int64)
    got = check(EMBEDDING, backend, [w, ids], w[ids])
    assert got.shape == (*shape, 4)


def test_gather_along_a_later_axis(backend: str) -> None:
    w = randn(4, 10)
    ids = positions([9, 0, 2, 2, 5], np.int64)
    check("E[d, b] = W[d, ids[b]]", backend, [w, ids], w[:, ids])


def test_gather_of_points_by_two_index_tensors(backend: str) -> None:
    m = randn(5, 6)
    r, c = positions([0, 4, 4, 2], np.int64), positions([5, 0, 0, 3], np.int32)
    check("P[i] = M[r[i], c[i]]", backend, [m, r, c], m[r, c])


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
def test_gather_at_a_position_plus_a_constant(backend: str, dtype: type) -> None:
    w = randn(10, 4)
    ids = positions([0, 8, 3, 3], dtype)
    check("E[i, d] = W[ids[i] + 1, d]", backend, [w, ids], w[ids + 1])


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
def test_take_along_axis(backend: str, dtype: type) -> None:
    x = randn(4, 6)
    idx = positions([[5, 0, 0], [1, 1, 1], [2, 4, 3], [5, 5, 0]], dtype)
    got = check(TAKE_ALONG, backend, [x, idx], np.take_along_axis(x, idx.astype(np.int64), 1))
    assert got.shape == (4, 3)


def test_take_along_axis_of_no_positions(backend: str) -> None:
    x = randn(4, 6)
    idx = np.zeros((4, 0), dtype=np.int64)
    got = check(TAKE_ALONG, backend, [x, idx], np.take_along_axis(x, idx, 1))
    assert got.shape == (4, 0)


# ----------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
def test_cross_entropy(backend: str, dtype: type) -> None:
    z = randn(5, 7)
    y = positions([0, 6, 3, 3, 1], dtype)
    want = F.cross_entropy(t(z), t(y.astype(np.int64)), reduction="none").numpy()
    np.testing.assert_allclose(stable_cross_entropy(z, y), want, rtol=1e-12)
    got = check(CROSS_ENTROPY, backend, [z, y], want)
    assert got.shape == (5,)


@pytest.mark.parametrize("offset", [1000.0, -1000.0])
def test_cross_entropy_is_stable_at_large_logits(backend: str, offset: float) -> None:
    z = randn(5, 7) + offset
    z[2] = 0.0
    z[2, 4] = offset  # one logit far above (or below) the rest
    y = positions([0, 6, 4, 3, 1], np.int64)
    got = check(CROSS_ENTROPY, backend, [z, y], stable_cross_entropy(z, y))
    assert np.isfinite(got).all()


def test_mean_cross_entropy_is_f_cross_entropy(backend: str) -> None:
    source = CROSS_ENTROPY + "\nL = mean[n](nll[n])"
    z, y = randn(6, 5) + 1000.0, positions([4, 0, 1, 1, 3, 2], np.int64)
    want = F.cross_entropy(t(z), t(y)).numpy()
    got = check(source, backend, [z, y], want)
    assert got.shape == ()


# ----------------------------------------------------------------------------- scatter-add


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
def test_segment_sum(backend: str, dtype: type) -> None:
    seg = positions([3, 0, 3, 9, 3, 0, 5], dtype)  # duplicates; segments 1, 2, 4, 6-8 empty
    x = randn(7, 4)
    want = np.zeros((10, 4))
    np.add.at(want, seg, x)
    got = check(SEGMENT_SUM, backend, [seg, x], want, sizes={"s": 10})
    assert got.shape == (10, 4)


def test_segment_sum_of_every_row_into_one_segment(backend: str) -> None:
    seg = np.full(50, 2, dtype=np.int64)
    x = randn(50, 3)
    want = np.zeros((4, 3))
    want[2] = x.sum(axis=0)
    check(SEGMENT_SUM, backend, [seg, x], want, sizes={"s": 4})


def test_segment_sum_of_no_rows(backend: str) -> None:
    seg, x = np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    got = check(SEGMENT_SUM, backend, [seg, x], np.zeros((5, 3)), sizes={"s": 5})
    assert got.shape == (5, 3)


def test_scatter_add_into_an_earlier_target(backend: str) -> None:
    source = "S[s, d] = B[s, d]\nS[seg[e], d] += X[e, d]"
    b, x = randn(6, 2), randn(5, 2, seed=1)
    seg = positions([5, 5, 0, 2, 5], np.int64)
    want = b.copy()
    np.add.at(want, seg, x)
    check(source, backend, [b, seg, x], want)


def test_scatter_add_of_a_product(backend: str) -> None:
    source = "S[s, d] = 0\nS[seg[e], d] += X[e, d] * w[e]"
    seg, x, w = positions([1, 0, 1, 1], np.int32), randn(4, 3), randn(4, seed=1)
    want = np.zeros((3, 3))
    np.add.at(want, seg, x * w[:, None])
    check(source, backend, [seg, x, w], want, sizes={"s": 3})


@pytest.mark.parametrize("dtype", INDEX_DTYPES)
def test_weighted_bincount(backend: str, dtype: type) -> None:
    source = "h[v] = 0\nh[x[e]] += w[e]"
    x, w = positions([0, 4, 4, 1, 4, 0], dtype), randn(6)
    want = np.bincount(x, weights=w, minlength=7)
    check(source, backend, [x, w], want, sizes={"v": 7})


# ----------------------------------------------------------------------------- argmax / argmin


@pytest.mark.parametrize(
    ("source", "reference"), [(ARGMAX, np.argmax), (ARGMIN, np.argmin)], ids=["argmax", "argmin"]
)
def test_argmax_and_argmin_first_on_ties(backend: str, source: str, reference: Any) -> None:
    x = np.array(
        [[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 5.0, -1.0, 5.0], [0.0, -4.0, 7.0, -4.0]]
    )
    got = run(source, backend, x)
    assert got.dtype.kind == "i", f"positions have an integer dtype, not {got.dtype}"
    np.testing.assert_array_equal(got, reference(x, axis=1))
    assert got.shape == (4,)


def test_argmax_of_random_values(backend: str) -> None:
    x = randn(6, 9)
    got = run(ARGMAX, backend, x)
    np.testing.assert_array_equal(got, np.argmax(x, axis=1))


def test_argmax_then_pick_is_the_maximum(backend: str) -> None:
    source = "a[i] = argmax[j](X[i, j])\nm[i] = X[i, a[i]]\nreturn a, m"
    x = randn(5, 7)
    a, m = run(source, backend, x)
    np.testing.assert_array_equal(a, np.argmax(x, axis=1))
    np.testing.assert_array_equal(m, x.max(axis=1))


# ----------------------------------------------------------------------------- float32


def test_float32_embedding_segment_sum_and_cross_entropy(backend: str) -> None:
    w = randn(10, 4, dtype=np.float32)
    ids = positions([[3, 0, 9], [3, 3, 7]], np.int32)
    check(EMBEDDING, backend, [w, ids], w[ids], dtype=np.float32)
    seg, x = positions([3, 0, 3, 1], np.int64), randn(4, 2, dtype=np.float32)
    want = np.zeros((5, 2))
    np.add.at(want, seg, x.astype(np.float64))
    check(
        SEGMENT_SUM,
        backend,
        [seg, x],
        want,
        sizes={"s": 5},
        rtol=RTOL32,
        atol=ATOL32,
        dtype=np.float32,
    )
    z, y = (randn(5, 7) + 1000.0).astype(np.float32), positions([0, 6, 3, 3, 1], np.int64)
    want = stable_cross_entropy(z.astype(np.float64), y)
    check(CROSS_ENTROPY, backend, [z, y], want, rtol=1e-3, atol=1e-3, dtype=np.float32)
