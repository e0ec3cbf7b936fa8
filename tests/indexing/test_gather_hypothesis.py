"""Generated gathers and scatter-adds (CONTRACT §7) on every backend, against NumPy's fancy
indexing and `np.add.at`: random table shapes, index tensors of rank 1 or 2 (possibly empty,
with duplicates), int32 or int64, and the gathered axis first or last."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from indexing_support import BACKENDS, check, randn

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Case:
    source: str
    arrays: list[np.ndarray]
    sizes: dict[str, int]
    expected: np.ndarray


def index_tensor(draw: st.DrawFn, rows: int, shape: tuple[int, ...]) -> np.ndarray:
    dtype = draw(st.sampled_from([np.int32, np.int64]))
    values = draw(
        st.lists(
            st.integers(0, rows - 1), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
        )
    )
    return np.array(values, dtype=dtype).reshape(shape)


@st.composite
def gathers(draw: st.DrawFn) -> Case:
    rows, width = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=2)))
    ids = index_tensor(draw, rows, shape)
    idx = ", ".join(f"b{k}" for k in range(len(shape)))
    table = randn(rows, width, seed=draw(st.integers(0, 2**16)))
    if draw(st.booleans()):  # gathered axis first: E[b.., d] = W[ids[b..], d]
        source = f"E[{idx}, d] = W[ids[{idx}], d]"
        return Case(source, [table, ids], {}, table[ids])
    table = np.ascontiguousarray(table.T)  # gathered axis last: E[d, b..] = W[d, ids[b..]]
    return Case(f"E[d, {idx}] = W[d, ids[{idx}]]", [table, ids], {}, table[:, ids])


@st.composite
def scatters(draw: st.DrawFn) -> Case:
    segments, width = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    count = draw(st.integers(0, 12))
    seg = index_tensor(draw, segments, (count,))
    x = randn(count, width, seed=draw(st.integers(0, 2**16)))
    expected = np.zeros((segments, width))
    np.add.at(expected, seg, x)
    source = "S[s, d] = 0\nS[seg[e], d] += X[e, d]"
    return Case(source, [seg, x], {"s": segments}, expected)


@SETTINGS
@given(gathers())
def test_generated_gathers_are_fancy_indexing(case: Case) -> None:
    note(f"{case.source}  {[(a.shape, a.dtype) for a in case.arrays]}")
    for backend in BACKENDS:
        check(case.source, backend, case.arrays, case.expected, sizes=case.sizes)


@SETTINGS
@given(scatters())
def test_generated_scatter_adds_are_np_add_at(case: Case) -> None:
    note(f"{case.source}  {[(a.shape, a.dtype) for a in case.arrays]} {case.sizes}")
    for backend in BACKENDS:
        check(case.source, backend, case.arrays, case.expected, sizes=case.sizes)
