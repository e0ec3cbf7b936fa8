"""Hypothesis: gathers and scatters of any sizes (empty ones too), any in-range positions
(duplicates likely) of either integer dtype, on every backend, equal NumPy's fancy indexing,
take_along_axis and np.add.at."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gather_support import BACKENDS, assert_close, run
from hypothesis import given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=25, deadline=None)

sizes = st.integers(min_value=1, max_value=5)
counts = st.integers(min_value=0, max_value=6)
dtypes = st.sampled_from([np.int32, np.int64])

# Gathers along axis 0 or 1 of a table, by positions of rank 1 or 2.
TAKES = {
    ("first", 1): ("E[i, d] = W[ids[i], d]", lambda W, ids: W[ids]),
    ("first", 2): ("E[i, j, d] = W[ids[i, j], d]", lambda W, ids: W[ids]),
    ("last", 1): ("E[i, d] = W[d, ids[i]]", lambda W, ids: W[:, ids].T),
    ("last", 2): ("E[d, i, j] = W[d, ids[i, j]]", lambda W, ids: W[:, ids]),
}


def _positions(data: st.DataObject, high: int, shape: tuple[int, ...], dtype: Any) -> Any:
    elements = st.integers(min_value=0, max_value=high - 1)
    flat = data.draw(st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(flat, dtype=dtype).reshape(shape)


@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(data=st.data(), rows=sizes, width=sizes, count=counts, dtype=dtypes)
def test_takes_equal_fancy_indexing(backend, data, rows, width, count, dtype) -> None:
    axis = data.draw(st.sampled_from(["first", "last"]))
    rank = data.draw(st.sampled_from([1, 2]))
    source, reference = TAKES[axis, rank]
    table = np.random.default_rng(count).standard_normal(
        (rows, width) if axis == "first" else (width, rows)
    )
    ids = _positions(data, rows, (count,) if rank == 1 else (2, count), dtype)
    assert_close(run(source, backend, table, ids), reference(table, ids), source)


@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(data=st.data(), rows=sizes, classes=sizes, count=counts, dtype=dtypes)
def test_picks_equal_take_along_axis(backend, data, rows, classes, count, dtype) -> None:
    X = np.random.default_rng(count).standard_normal((rows, classes))
    idx = _positions(data, classes, (rows, count), dtype)
    found = run("G[i, j] = X[i, idx[i, j]]", backend, X, idx)
    assert_close(found, np.take_along_axis(X, idx, 1))
    y = idx[:, 0] if count else np.zeros(rows, dtype)
    found = run("P[n] = X[n, y[n]]", backend, X, y)
    assert_close(found, np.take_along_axis(X, y[:, None], 1)[:, 0])


@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(data=st.data(), rows=sizes, width=sizes, count=counts, dtype=dtypes)
def test_scatter_adds_equal_np_add_at(backend, data, rows, width, count, dtype) -> None:
    X = np.random.default_rng(count).standard_normal((count, width))
    seg = _positions(data, rows, (count,), dtype)
    expected = np.zeros((rows, width))
    np.add.at(expected, seg, X)
    found = run("S[s, d] = 0\nS[seg[e], d] += X[e, d]", backend, seg, X, s=rows)
    assert_close(found, expected)
    found = run("S[d, s] = 0\nS[d, seg[e]] += X[e, d]", backend, seg, X, s=rows)
    assert_close(found, expected.T)
