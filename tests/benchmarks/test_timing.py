"""The timing loop: variants take turns block by block, each round in its own order, so that
no variant always follows the same one (what a call leaves behind, such as freed buffers,
can speed up the next)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import pairwise

from benchmarks import timing


def test_every_variant_is_timed_after_every_other():
    order: list[str] = []
    items = [timing.Timed(order.append, (name,)) for name in "abc"]
    config = replace(timing.TimingConfig.quick(), min_blocks=20, max_blocks=20)
    stats = timing.measure_interleaved(items, [1e9] * 3, config)  # one call per block
    assert [(s.blocks, s.number) for s in stats] == [(20, 1)] * 3
    rounds = [order[k : k + 3] for k in range(0, 60, 3)]
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)
    assert set(Counter(r[0] for r in rounds)) == {"a", "b", "c"}  # no variant always first
    after = Counter(pairwise(order))
    assert {pair for pair in after if pair[0] != pair[1]} == {
        (x, y) for x in "abc" for y in "abc" if x != y
    }
