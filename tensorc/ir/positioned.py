"""IR nodes that read and write at computed positions: a `Position` along one stored axis
(affine in indices, or an integer array's value), `Gather` (a read) and `Scatter` (a write).
`tensorc.ir.nodes` re-exports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from tensorc.ir.nodes import Labelled, Node, _remember_hash

BOUNDARIES = ("error", "pad", "clamp", "wrap")  # what a read outside the tensor gives


@dataclass(frozen=True)
class Position:
    """Where along one stored axis an element is read or written: `sum(coefficient * index) +
    offset`, plus the value of `lookup` (an integer array over its own labels) for a
    tensor-valued index. Reads outside follow `boundary`: "error" (none may happen), "pad"
    (zeros), "clamp" (the edge) or "wrap" (around); `padding` is `pad(e, p)`'s p."""

    terms: tuple[tuple[int, str], ...]
    offset: int = 0
    lookup: Node | None = None
    boundary: str = "error"
    padding: int = 0

    @property
    def indices(self) -> tuple[str, ...]:
        """The indices the position depends on: its terms', then its lookup's."""
        looked_up = self.lookup.indices if self.lookup is not None else ()
        return tuple(dict.fromkeys((*(index for _, index in self.terms), *looked_up)))

    def coefficient(self, index: str) -> int:
        return sum(c for c, name in self.terms if name == index)

    def bounds(self, size: Callable[[str], int]) -> tuple[int, int]:
        """The least and greatest position over the indices' ranges (the lookup's aside)."""
        low = high = self.offset
        for coefficient, index in self.terms:
            reach = coefficient * (size(index) - 1)
            low, high = (low + reach, high) if reach < 0 else (low, high + reach)
        return low, high


Place = str | Position  # an axis of a gather or scatter: a label passed through, or a position


def read_var(node: Node) -> Node:
    """The tensor that a read's operand stands for: the `Var` under its reshapes (or, for a
    node with several children, under its first)."""
    while node.children:
        node = node.children[0]
    return node


def placed_indices(places: tuple[Place, ...]) -> tuple[str, ...]:
    """The labels a gather's result (or a scatter's operand) has: its plain labels and the
    indices of its positions, in order of appearance."""
    found: list[str] = []
    for place in places:
        found.extend(place.indices if isinstance(place, Position) else (place,))
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Gather(Labelled):
    """Reads `operand` at computed positions: along each of its axes, `places` gives either
    the operand's own label (the axis is kept) or a `Position`. The result's `labels` are the
    indices those use, in the statement's order."""

    operand: Node
    places: tuple[Place, ...]
    labels: tuple[str, ...]

    @property
    def lookups(self) -> tuple[Node, ...]:
        return tuple(p.lookup for p in self.places if isinstance(p, Position) and p.lookup)

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.operand, *self.lookups)

    def rebuilt(self, children: tuple[Node, ...]) -> Gather:
        """The same read of new children (`with_children`)."""
        return Gather(children[0], _with_lookups(self.places, children[1:]), self.labels)


@dataclass(frozen=True)
class Scatter(Labelled):
    """Writes `operand` (over the indices that `places` use) into an array with axes `labels`:
    along each axis, `places` gives the operand's label or a `Position`. The array starts as
    `into` or as zeros; with `accumulate` every element written is added (duplicates too),
    otherwise each position is written once."""

    operand: Node
    places: tuple[Place, ...]
    labels: tuple[str, ...]
    accumulate: bool
    into: Node | None = None

    @property
    def lookups(self) -> tuple[Node, ...]:
        return tuple(p.lookup for p in self.places if isinstance(p, Position) and p.lookup)

    @property
    def children(self) -> tuple[Node, ...]:
        into = (self.into,) if self.into is not None else ()
        return (self.operand, *into, *self.lookups)

    def rebuilt(self, children: tuple[Node, ...]) -> Scatter:
        """The same write of new children (`with_children`)."""
        into = children[1] if self.into is not None else None
        rest = children[2:] if self.into is not None else children[1:]
        places = _with_lookups(self.places, rest)
        return Scatter(children[0], places, self.labels, self.accumulate, into)


def _with_lookups(places: tuple[Place, ...], lookups: tuple[Node, ...]) -> tuple[Place, ...]:
    """`places` with their lookups replaced by `lookups`, in order."""
    remaining = list(lookups)
    return tuple(
        replace(p, lookup=remaining.pop(0)) if isinstance(p, Position) and p.lookup else p
        for p in places
    )


for _node_class in (Gather, Scatter):
    _remember_hash(_node_class)
