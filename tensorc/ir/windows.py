"""What the kernel passes ask of a read or write at positions: its windows (a position
`stride*h + dilation*k + offset` per spatial axis), its plain axes, and the value under any
permutation."""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.kernels import Window

BOUNDARIES = ("error", "pad")  # reads outside give zeros or cannot happen


def window_places(
    places: tuple[ir.Place, ...], extents: tuple[str, ...], outer: set[str], inner: set[str]
) -> tuple[Window, ...] | None:
    """A window per position, in order: each position must be `s*h + d*k + offset` with `h`
    from `outer` (s > 0) and `k` from `inner` (d != 0), each index in one position only and
    on no plain axis."""
    windows = []
    for place, extent in zip(places, extents, strict=True):
        if not isinstance(place, ir.Position):
            continue
        if place.lookup is not None or place.boundary not in BOUNDARIES or len(place.terms) != 2:
            return None
        (_, first), (_, second) = place.terms
        index, kernel = (first, second) if first in outer else (second, first)
        if index not in outer or kernel not in inner or place.coefficient(index) <= 0:
            return None
        windows.append(Window(place, extent, index, kernel))
    used = [w.index for w in windows] + [w.kernel for w in windows]
    plain = {place for place in places if not isinstance(place, ir.Position)}
    if not windows or len(set(used)) != len(used) or plain & set(used):
        return None  # an index on a plain axis too (`A[j, i - j]`) reads a diagonal
    return tuple(windows)


def plain_axes(places: tuple[ir.Place, ...]) -> list[str]:
    """The labels of the axes read or written whole (no position)."""
    return [place for place in places if not isinstance(place, ir.Position)]


def stored(node: ir.Node) -> ir.Node:
    """The value under any permutation: its own stored order serves the kernels."""
    while isinstance(node, ir.Permute):
        node = node.operand
    return node
