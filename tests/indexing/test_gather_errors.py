"""CONTRACT §7 bounds: a position out of range raises a `tc.TensorcError` on NumPy and
PyTorch naming the tensor and the bad value; negative positions are out of range (no Python
wrap-around); inside `jax.jit`, where nothing can raise, gathers clamp and scatters drop the
update, as JAX does (`.at[].get(mode="clip")`, `.at[].add(mode="drop")`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from indexing_support import randn, run
from support import to_backend, to_numpy

import tensorc as tc

RAISING = ["numpy", "torch"]

EMBEDDING = "E[b, d] = table[ids[b], d]"
TAKE_ALONG = "G[i, j] = X[i, idx[i, j]]"
SEGMENT_SUM = "S[s, d] = 0\nS[seg[e], d] += X[e, d]"


def position_error(source: str, backend: str, *arrays: np.ndarray, **sizes: int) -> str:
    with pytest.raises(tc.TensorcError) as info:
        run(source, backend, *arrays, **sizes)
    return str(info.value)


def names_one_of(message: str, *names: str) -> bool:
    return any(name in message for name in names)


@pytest.mark.parametrize("backend", RAISING)
@pytest.mark.parametrize("bad", [10, 57, -1, -3])
def test_a_gather_out_of_range_raises(backend: str, bad: int) -> None:
    ids = np.array([0, bad, 4], dtype=np.int64)
    message = position_error(EMBEDDING, backend, randn(10, 3), ids)
    assert names_one_of(message, "ids", "table"), message
    assert str(bad) in message, message


@pytest.mark.parametrize("backend", RAISING)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_take_along_axis_out_of_range_raises(backend: str, dtype: type) -> None:
    idx = np.array([[0, 1], [6, 2], [3, 3]], dtype=dtype)
    message = position_error(TAKE_ALONG, backend, randn(3, 6), idx)
    assert names_one_of(message, "idx", "X"), message
    assert "6" in message


@pytest.mark.parametrize("backend", RAISING)
@pytest.mark.parametrize("bad", [4, 11, -1])
def test_a_scatter_out_of_range_raises(backend: str, bad: int) -> None:
    seg = np.array([0, 3, bad, 1], dtype=np.int64)
    message = position_error(SEGMENT_SUM, backend, seg, randn(4, 2), s=4)
    assert names_one_of(message, "seg", "S"), message
    assert str(bad) in message, message


@pytest.mark.parametrize("backend", RAISING)
def test_a_position_plus_a_constant_out_of_range_raises(backend: str) -> None:
    ids = np.array([0, 9, 3], dtype=np.int64)  # 9 + 1 is past the 10 rows
    message = position_error("E[i, d] = W[ids[i] + 1, d]", backend, randn(10, 2), ids)
    assert names_one_of(message, "ids", "W"), message
    assert "10" in message or "9" in message


@pytest.mark.parametrize("backend", RAISING)
def test_the_check_runs_on_every_call_not_once_per_shape(backend: str) -> None:
    f = tc.compile(EMBEDDING, backend=backend)
    table = to_backend(randn(10, 3), backend)
    good = to_backend(np.array([1, 2, 3], dtype=np.int64), backend)
    bad = to_backend(np.array([1, 12, 3], dtype=np.int64), backend)
    np.testing.assert_array_equal(to_numpy(f(table, good)), randn(10, 3)[[1, 2, 3]])
    with pytest.raises(tc.TensorcError):
        f(table, bad)  # the same shapes: a cached plan, new values


def test_float_positions_are_an_error(backend: str) -> None:
    with pytest.raises(tc.TensorcError):
        run(EMBEDDING, backend, randn(10, 3), np.array([0.0, 1.0]))


# ----------------------------------------------------------------------------- inside jax.jit


def test_gathers_clamp_inside_jax_jit() -> None:
    table = randn(10, 3)
    ids = np.array([0, 10, 57, -1, -3, 9], dtype=np.int64)
    f = jax.jit(tc.compile(EMBEDDING, backend="jax"))
    got = np.asarray(f(jnp.asarray(table), jnp.asarray(ids)))
    np.testing.assert_array_equal(got, table[np.clip(ids, 0, 9)])  # -1 clamps to 0: no wrap
    past = ids[ids >= 0]
    jax_clip = jnp.asarray(table).at[jnp.asarray(past)].get(mode="clip")
    np.testing.assert_array_equal(got[ids >= 0], np.asarray(jax_clip))


def test_take_along_axis_clamps_inside_jax_jit() -> None:
    x = randn(3, 6)
    idx = np.array([[0, 7], [-2, 5], [6, 3]], dtype=np.int32)
    f = jax.jit(tc.compile(TAKE_ALONG, backend="jax"))
    got = np.asarray(f(jnp.asarray(x), jnp.asarray(idx)))
    np.testing.assert_array_equal(got, np.take_along_axis(x, np.clip(idx, 0, 5), 1))


def test_scatters_drop_inside_jax_jit() -> None:
    seg = np.array([0, 4, 3, -1, 7, 3, -4], dtype=np.int64)
    x = randn(7, 2)
    f = jax.jit(functools.partial(tc.compile(SEGMENT_SUM, backend="jax"), s=4))
    got = np.asarray(f(jnp.asarray(seg), jnp.asarray(x)))
    keep = (seg >= 0) & (seg < 4)  # negative positions are out of range too: dropped
    want = np.zeros((4, 2))
    np.add.at(want, seg[keep], x[keep])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    past = seg >= 0
    jax_drop = jnp.zeros((4, 2)).at[jnp.asarray(seg[past])].add(jnp.asarray(x[past]), mode="drop")
    np.testing.assert_allclose(got, np.asarray(jax_drop), rtol=1e-12, atol=1e-12)
