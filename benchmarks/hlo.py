"""The collectives of a compiled XLA program, read off its HLO text.

A sharded program's cost beyond one device is its communication: which collectives the SPMD
partitioner inserted, how many, and how many bytes they carry. These carry over from the
simulated CPU devices used here to real accelerators, where the times do not.

    >>> text = "%all-reduce = f32[4,16,32]{2,1,0} all-reduce(%x), replica_groups=[2,4]<=[8]"
    >>> collectives(text)
    {'all-reduce': 1, 'reduce-scatter': 0, 'all-gather': 0, 'all-to-all': 0, 'collective-permute': 0}
    >>> payload_bytes(text)
    8192
"""

from __future__ import annotations

import math
import re

KINDS = ("all-reduce", "reduce-scatter", "all-gather", "all-to-all", "collective-permute")

# `%name = <shape or tuple of shapes> <kind>(` or `<kind>-start(`; `-done` ends an async one
_INSTRUCTION = re.compile(
    r"=\s*(?P<shape>\([^=]*?\)|[\w\[\],{}:]+)\s+"
    r"(?P<kind>" + "|".join(KINDS) + r")(?P<start>-start)?\("
)
_ARRAY = re.compile(r"\b([a-z]+\d*)\[([\d,]*)\]")
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "f8e4m3fn": 1, "f8e5m2": 1}


def _instructions(hlo: str) -> list[tuple[str, str, bool]]:
    """(kind, shape text, async start) of each collective instruction."""
    return [
        (m.group("kind"), m.group("shape"), m.group("start") is not None)
        for m in _INSTRUCTION.finditer(hlo)
    ]


def collectives(hlo: str) -> dict[str, int]:
    """How many collectives of each kind the HLO text holds (an async pair counts once)."""
    counts = dict.fromkeys(KINDS, 0)
    for kind, _, _ in _instructions(hlo):
        counts[kind] += 1
    return counts


def _array_bytes(dtype: str, dims: str) -> int:
    width = _BYTES.get(dtype)
    if width is None:
        bits = re.search(r"\d+", dtype)
        width = int(bits.group()) // 8 if bits else 4
    return width * math.prod(int(d) for d in dims.split(",") if d)


def payload_bytes(hlo: str) -> int:
    """The bytes that the collectives produce on each device: the reduced buffer of an
    all-reduce, the gathered one of an all-gather, the part kept by a reduce-scatter, ...
    (the output of an async start is (input, output): its output is counted)."""
    total = 0
    for _, shape, start in _instructions(hlo):
        arrays = _ARRAY.findall(shape)
        if start and len(arrays) > 1:
            arrays = arrays[len(arrays) // 2 :]
        total += sum(_array_bytes(dtype, dims) for dtype, dims in arrays)
    return total


__all__ = ["KINDS", "collectives", "payload_bytes"]
