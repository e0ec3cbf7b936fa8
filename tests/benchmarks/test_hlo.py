"""Reading collectives off compiled HLO text (benchmarks/hlo.py), on lines as XLA prints them."""

from __future__ import annotations

import doctest

from benchmarks import hlo

ALL_REDUCE = (
    "ROOT %all-reduce = f32[4,16,32]{2,1,0} all-reduce(%bitcast.1), channel_id=1, "
    "replica_groups=[2,4]<=[8], use_global_device_ids=true, to_apply=%add.clone"
)
ALL_TO_ALL = (
    "%all-to-all.1 = (f32[1,2,16,16]{3,2,1,0}, f32[1,2,16,16]{3,2,1,0}) all-to-all(%a, %b), "
    "channel_id=1, replica_groups=mesh['axis_0'=4,'axis_1'=1,'axis_2'=2]"
)
PERMUTE = (
    "ROOT %collective-permute = f32[2,16,32]{2,1,0} collective-permute(%copy), "
    "channel_id=2, source_target_pairs={{0,0},{2,4}}"
)
ASYNC = (
    "%all-gather-start = (bf16[8,64]{1,0}, bf16[32,64]{1,0}) all-gather-start(%p), dimensions={0}\n"
    "%all-gather-done = bf16[32,64]{1,0} all-gather-done(%all-gather-start)"
)
NOT_COLLECTIVE = "%fusion = f32[4,16,32]{2,1,0} fusion(%all-reduce), kind=kLoop, calls=%f"


def test_each_kind_is_counted_once() -> None:
    text = "\n".join([ALL_REDUCE, ALL_TO_ALL, PERMUTE, ASYNC, NOT_COLLECTIVE])
    assert hlo.collectives(text) == {
        "all-reduce": 1,
        "reduce-scatter": 0,
        "all-gather": 1,
        "all-to-all": 1,
        "collective-permute": 1,
    }


def test_payloads_are_the_bytes_produced() -> None:
    assert hlo.payload_bytes(ALL_REDUCE) == 4 * 16 * 32 * 4
    assert hlo.payload_bytes(ALL_TO_ALL) == 2 * (2 * 16 * 16 * 4)
    assert hlo.payload_bytes(ASYNC) == 32 * 64 * 2  # the output of the async pair
    assert hlo.payload_bytes(NOT_COLLECTIVE) == 0


def test_the_docstring_example() -> None:
    assert doctest.testmod(hlo).failed == 0
