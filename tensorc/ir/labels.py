"""Axis labels: what names the axes of every value, from the AST's accesses to generated code.

A label is an index name (`"i"`), the ellipsis group `"..."` (which always leads inside a
statement), or a `Composed` axis: one stored axis that merges several indices row-major.
Labels are strings, so they hash, compare and print as the program spells them; a composed
one also carries its parts, so nothing needs to parse `"(h d)"` back.

    >>> label = composed(("h", "d"))
    >>> label, label.parts, label == "(h d)"
    ('(h d)', ('h', 'd'), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ELLIPSIS = "..."


class Composed(str):
    """One axis that merges `parts` row-major; its text is `"(h d)"` for the parts ("h", "d")."""

    parts: tuple[str, ...]

    def __new__(cls, parts: Iterable[str]) -> Composed:
        if isinstance(parts, str):
            raise TypeError("Composed takes the index names it merges, not a label")
        names = tuple(parts)
        label = super().__new__(cls, "(" + " ".join(names) + ")")
        label.parts = names
        return label

    def __getnewargs__(self) -> tuple[tuple[str, ...]]:  # type: ignore[override]
        return (self.parts,)  # copies and pickles are built from the parts


class Extent(str):
    """The label of a stored axis that no index labels, because it is read or written at
    computed positions: axis `axis` of tensor `tensor`, printed `I.2`. Shape inference sizes
    it like an index (from the tensor's shape, or from the positions written to it)."""

    tensor: str
    axis: int

    def __new__(cls, tensor: str, axis: int) -> Extent:
        label = super().__new__(cls, f"{tensor}.{axis}")
        label.tensor, label.axis = tensor, axis
        return label

    def __getnewargs__(self) -> tuple[str, int]:  # type: ignore[override]
        return (self.tensor, self.axis)


def composed(names: Iterable[str]) -> Composed:
    """The label of one axis that merges `names`: ("h", "d") -> "(h d)"."""
    return Composed(names)


def parts(label: str) -> tuple[str, ...]:
    """The indices that one axis label stands for: "(h d)" -> ("h", "d"), "i" -> ("i",).

    A label given as plain text `"(h d)"` (as callers outside the compiler may spell one) is
    read here, and only here."""
    if isinstance(label, Composed):
        return label.parts
    if label.startswith("("):
        return tuple(label[1:-1].split())
    return (label,)


def expanded(labels: Iterable[str]) -> tuple[str, ...]:
    """The index names of axis labels, composed axes spelled out (with repeats, in order)."""
    return tuple(part for label in labels for part in parts(label))


def axis_number(labels: Sequence[str], position: int) -> int:
    """The axis number of `labels[position]` that holds whatever rank the ellipsis has:
    counted from the front before the ellipsis, from the back (negative) after it."""
    if ELLIPSIS in labels and position > labels.index(ELLIPSIS):
        return position - len(labels)
    return position


def ellipsis_first(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct labels in order of first appearance, the ellipsis (if any) moved to the front.

    >>> ellipsis_first(["i", "...", "j", "i"])
    ('...', 'i', 'j')
    """
    seen = dict.fromkeys(labels)
    rest = tuple(label for label in seen if label != ELLIPSIS)
    return (ELLIPSIS, *rest) if ELLIPSIS in seen else rest


def in_order(labels: Iterable[str], order: Sequence[str]) -> tuple[str, ...]:
    """The labels that `order` lists, in its order; any it does not list are left out.

    >>> in_order({"k", "i"}, ("i", "j", "k"))
    ('i', 'k')
    """
    present = set(labels)
    return tuple(label for label in order if label in present)


def ordered(labels: Iterable[str], order: Sequence[str]) -> tuple[str, ...]:
    """The labels in `order`'s order, any it does not list after them (sorted); the ellipsis
    first.

    >>> ordered({"z", "k", "...", "i"}, ("i", "j", "k"))
    ('...', 'i', 'k', 'z')
    """
    present = set(labels)
    listed = [label for label in order if label in present and label != ELLIPSIS]
    rest = sorted(present - set(listed) - {ELLIPSIS})
    return (ELLIPSIS, *listed, *rest) if ELLIPSIS in present else (*listed, *rest)


def permutation(labels: Sequence[str], wanted: Sequence[str]) -> tuple[int, ...]:
    """The axis permutation that reorders `labels` as `wanted`: axis k of the result is axis
    `perm[k]` of the original.

    >>> permutation(("i", "j", "k"), ("k", "i", "j"))
    (2, 0, 1)
    """
    return tuple(labels.index(label) for label in wanted)
