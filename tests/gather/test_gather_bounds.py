"""Positions outside a tensor: a PositionError (a TensorcError naming the tensor and the bad
value) on NumPy and PyTorch; under jax.jit reads clamp and writes are dropped. Negative
positions are outside on every backend (no Python wrap-around), and positions that are not
integers are refused on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from gather_support import BACKENDS, RAISING, run

import tensorc as tc

W = np.arange(16.0).reshape(4, 4)

# One program per code path: take, pick, cross-entropy, the general indexing, the add-at and
# the general scatter; `bad` is where the positions go in the arguments.
READS = {
    "take": ("E[i, d] = W[ids[i], d]", lambda ids: (W, ids)),
    "pick": ("G[i] = W[i, ids[i]]", lambda ids: (W, ids)),
    "cross-entropy": ("nll[n] = logsumexp[c](W[n, c]) - W[n, ids[n]]", lambda ids: (W, ids)),
    "indexing": ("Y[i, j] = W[ids[i], ids[j]]", lambda ids: (W, ids)),
}
WRITES = {
    "add-at": ("S[s, d] = 0\nS[ids[e], d] += X[e, d]", lambda ids: (ids, np.ones((4, 3)))),
    "scatter": ("S[s, t] = 0\nS[ids[e], ids[e]] += X[e]", lambda ids: (ids, np.ones(4))),
}
KEYWORDS = {"add-at": {"s": 4}, "scatter": {"s": 4, "t": 4}}


@pytest.mark.parametrize("backend", RAISING)
@pytest.mark.parametrize("bad", [4, 9, -1], ids=["size", "beyond", "negative"])
@pytest.mark.parametrize("name", [*READS, *WRITES])
def test_a_position_outside_raises_naming_the_tensor_and_value(
    name: str, bad: int, backend: str
) -> None:
    source, arguments = {**READS, **WRITES}[name]
    ids = np.array([0, bad, 1, 2])
    keywords = KEYWORDS.get(name, {})
    with pytest.raises(tc.PositionError) as caught:
        run(source, backend, *arguments(ids), **keywords)
    message = str(caught.value)
    tensor = "S" if name in WRITES else "W"
    assert f"a position in {tensor} is {bad}, outside 0 to 3" in message
    assert isinstance(caught.value, tc.TensorcError) and isinstance(caught.value, IndexError)


def test_jax_reads_clamp_negative_positions_to_the_first_row() -> None:
    ids = np.array([-1, 4, 9, 1])
    clamped = np.clip(ids, 0, 3)
    assert np.array_equal(run(READS["take"][0], "jax", W, ids), W[clamped])
    assert np.array_equal(run(READS["pick"][0], "jax", W, ids), W[np.arange(4), clamped])
    found = run(READS["indexing"][0], "jax", W, ids)
    assert np.array_equal(found, W[np.ix_(clamped, clamped)])


def test_jax_writes_outside_are_dropped_negative_ones_too() -> None:
    ids = np.array([-1, 4, 9, 1])
    found = run(WRITES["add-at"][0], "jax", ids, np.ones((4, 3)), **KEYWORDS["add-at"])
    expected = np.zeros((4, 3))
    expected[1] = 1
    assert np.array_equal(found, expected)
    found = run(WRITES["scatter"][0], "jax", ids, np.ones(4), **KEYWORDS["scatter"])
    assert np.array_equal(found, np.diag([0.0, 1.0, 0.0, 0.0]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "ids", [np.array([0.0, 1.0]), np.array([True, False])], ids=["float", "bool"]
)
@pytest.mark.parametrize("name", [*READS, *WRITES])
def test_positions_that_are_not_integers_are_refused(
    name: str, ids: np.ndarray, backend: str
) -> None:
    source, arguments = {**READS, **WRITES}[name]
    keywords = KEYWORDS.get(name, {})
    given = arguments(ids)  # as many rows (or values) as positions:
    values = (ids, given[1][:2]) if name in WRITES else (given[0][:2], ids)
    with pytest.raises(tc.PositionError, match="must be an integer"):
        run(source, backend, *values, **keywords)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unsigned_and_small_integer_positions_are_positions(backend: str) -> None:
    """(PyTorch would take uint8 positions for a boolean mask.)"""
    for dtype in (np.uint8, np.int16):
        ids = np.array([3, 0, 3], dtype=dtype)
        found = run(READS["take"][0], backend, W, ids)
        assert np.array_equal(found, W[ids.astype(np.int64)])
