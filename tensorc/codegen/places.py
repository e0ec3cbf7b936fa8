"""Code for reads and writes at positions (`ir.Gather`, `ir.Scatter`), the general forms.

A gather pads the axes that have a boundary rule, then takes one of two forms:
- *views*, where every index moves along one axis only and forwards: a slice per single-index
  position (`x[1:9:2]`) and a window per position of several indices (`_window`, a strided view
  on NumPy and PyTorch, a take on JAX), so nothing is copied that the read does not need;
- *indexing*, for everything else (tensor-valued positions, an index shared by two axes,
  reversed positions): one integer array per axis, broadcast over the result's indices.
A scatter writes with one integer array per axis, adding duplicates up under `+=`.
Sizes may be numbers or names (generic code), so positions are written by `Sum`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tensorc.codegen.code import ATOM, PRODUCT, Code, align
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, Extent, axis_number

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator


@dataclass(frozen=True)
class Sum:
    """An integer `constant + sum(coefficient * text)`, the texts being sizes (names or
    numbers); numbers are folded, so code for known sizes shows plain numbers."""

    constant: int = 0
    terms: tuple[tuple[int, str], ...] = ()

    def plus(self, other: Sum | int) -> Sum:
        other = other if isinstance(other, Sum) else Sum(other)
        constant, terms = self.constant + other.constant, []
        for c, text in (*self.terms, *other.terms):
            if text.isdigit():
                constant += c * int(text)
            elif c:
                terms.append((c, text))
        return Sum(constant, tuple(terms))

    def times(self, factor: int) -> Sum:
        return Sum(self.constant * factor, tuple((c * factor, t) for c, t in self.terms))

    @property
    def number(self) -> int | None:
        return None if self.terms else self.constant

    def text(self) -> str:
        pieces = [
            f"{'- ' if c < 0 else '+ '}{t if abs(c) == 1 else f'{abs(c)} * {t}'}"
            for c, t in self.terms
        ]
        if self.constant or not pieces:
            pieces.append(f"{'- ' if self.constant < 0 else '+ '}{abs(self.constant)}")
        text = " ".join(pieces)
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    def at_least_zero(self) -> Sum | str:
        """max(0, self): a number where it is known."""
        return Sum(max(0, self.constant)) if self.number is not None else f"max(0, {self.text()})"


def _size(gen: Generator, label: str) -> Sum:
    return Sum().plus(Sum(0, ((1, gen.size(label)),)))


def _extreme(gen: Generator, place: ir.Position, rising: bool) -> Sum:
    """The greatest (or, not `rising`, least) position over the indices' ranges."""
    total = Sum(place.offset)
    for c, index in place.terms:
        if (c > 0) == rising:
            total = total.plus(_size(gen, index).plus(-1).times(c))
    return total


def _text(value: Sum | str) -> str:
    return value if isinstance(value, str) else value.text()


# --- gathers ---------------------------------------------------------------------------------


def gather(gen: Generator, node: ir.Gather, operand: Code, lookups: list[Code]) -> Code:
    """The read `node` of `operand`, given its lookups' codes."""
    x, places, shifts = _padded(gen, node, operand)
    if viewable(places) and not shifts:
        return _views(gen, node, x, places)
    return _indexing(gen, node, x, places, lookups, shifts)


def _padded(
    gen: Generator, node: ir.Gather, operand: Code
) -> tuple[Code, list[ir.Place], dict[int, str]]:
    """The operand padded where a position has a boundary rule, and the positions shifted
    to match (by a number, or where generic code pads by a size, by the text in `shifts`)."""
    x, places, shifts = operand, list(node.places), {}
    labels = node.operand.indices
    for k, place in enumerate(places):
        if not isinstance(place, ir.Position) or place.boundary == "error":
            continue
        if place.padding:
            before: Sum | str = Sum(place.padding)
            after: Sum | str = Sum(place.padding)
        else:
            before = _extreme(gen, place, False).times(-1).at_least_zero()
            last = _size(gen, labels[k]).plus(-1)
            after = _extreme(gen, place, True).plus(last.times(-1)).at_least_zero()
        mode = {"pad": "constant", "clamp": "edge", "wrap": "wrap"}[place.boundary]
        x = gen.pad_axis(x, axis_number(labels, k), _text(before), _text(after), mode)
        if isinstance(before, Sum) and before.number is not None:
            places[k] = replace(place, offset=place.offset + before.constant, boundary="error")
        else:  # a reversed position in generic code: padded by a size
            places[k] = replace(place, boundary="error")
            shifts[k] = gen.name_of(Code(_text(before)))
    return x, places, shifts


def viewable(places: list[ir.Place]) -> bool:
    """Whether views can read these places: no lookups, every index along one axis only."""
    seen: list[str] = []
    for place in places:
        if isinstance(place, ir.Position):
            if place.lookup is not None:
                return False
            seen.extend(index for _, index in place.terms)
        elif place != ELLIPSIS:
            seen.append(place)
    return len(seen) == len(set(seen))


def _views(gen: Generator, node: ir.Gather, x: Code, places: list[ir.Place]) -> Code:
    """Windows for positions of several indices, then one basic index for the rest; an index
    that moves backwards is read forwards from its far end, then its axis reversed."""
    produced: list[str] = []
    entries: list[str] = []
    extra_after = 0  # axes the windows added after the place being handled (from the back)
    labels = node.operand.indices
    for k in reversed(range(len(places))):
        place = places[k]
        if isinstance(place, ir.Position) and len(place.terms) > 1:
            counts = ", ".join(gen.size(index) for _, index in place.terms)
            steps = ", ".join(str(abs(c)) for c, _ in place.terms)
            axis = axis_number(labels, k)
            axis = axis - extra_after if axis < 0 else axis
            start = _extreme(gen, place, False).text()
            x = gen.window(x, axis, start, f"({counts},)", f"({steps},)")
            extra_after += len(place.terms) - 1
    for place in places:
        if not isinstance(place, ir.Position):
            entries.append("..." if place == ELLIPSIS else ":")
            produced.append(place)
        elif not place.terms:
            entries.append(str(place.offset))
        elif len(place.terms) == 1:
            (step, index), first = place.terms[0], _extreme(gen, place, False)
            stop = _size(gen, index).plus(-1).times(abs(step)).plus(first).plus(1)
            stride = f":{abs(step)}" if abs(step) != 1 else ""
            entries.append(f"{first.text()}:{stop.text()}{stride}")
            produced.append(index)
        else:
            entries.extend(":" for _ in place.terms)
            produced.extend(index for _, index in place.terms)
    while entries and entries[-1] == ":":
        entries.pop()
    if entries and entries != ["..."]:
        x = Code(f"{x.at(ATOM)}[{', '.join(entries)}]")
    backwards = [
        axis_number(produced, produced.index(index))
        for place in places
        if isinstance(place, ir.Position)
        for c, index in place.terms
        if c < 0
    ]
    if backwards:
        x = gen.reverse(x, backwards)
    return reordered(gen, x, tuple(produced), node.labels)


def reordered(gen: Generator, x: Code, produced: tuple[str, ...], wanted: tuple[str, ...]) -> Code:
    """`x`, whose axes are `produced`, with its axes in the order `wanted`."""
    if produced == wanted:
        return x
    if ELLIPSIS in produced:
        named = [label for label in produced if label != ELLIPSIS]
        source = [axis_number(produced, produced.index(label)) for label in named]
        target = [axis_number(wanted, wanted.index(label)) for label in named]
        return gen.moveaxis(x, source, target)
    return gen.transpose(x, tuple(produced.index(label) for label in wanted))


def _indexing(
    gen: Generator,
    node: ir.Gather,
    x: Code,
    places: list[ir.Place],
    lookups: list[Code],
    shifts: dict[int, str],
) -> Code:
    """One integer array per axis, broadcast over the result's indices."""
    labels = node.operand.indices
    wanted = tuple(label for label in node.labels if label != ELLIPSIS)
    remaining = list(zip(node.lookups, lookups, strict=True))
    entries = []
    for k, place in enumerate(places):
        if place == ELLIPSIS:
            entries.append("...")
            continue
        positions = _positions(gen, place, wanted, remaining)
        if k in shifts:
            positions = Code(f"{positions.at(8)} + {shifts[k]}", 8)
        if isinstance(place, ir.Position) and place.lookup is not None:
            size = gen.size(labels[k])
            positions = gen.checked_read(positions, size, tensor_name(node.operand))
        entries.append(positions.text)
    return Code(f"{x.at(ATOM)}[{', '.join(entries)}]")


def _positions(
    gen: Generator, place: ir.Place, wanted: tuple[str, ...], lookups: list[tuple[ir.Node, Code]]
) -> Code:
    """The integer array of positions along one axis, over the indices `wanted`."""
    if not isinstance(place, ir.Position):
        return align(gen.arange(gen.size(place)), (place,), wanted)
    pieces = []
    for c, index in place.terms:
        term = align(gen.arange(gen.size(index)), (index,), wanted)
        pieces.append({1: term.at(ATOM), -1: f"-{term.at(ATOM)}"}.get(c, f"{c} * {term.at(ATOM)}"))
    if place.lookup is not None:
        node, code = lookups.pop(0)
        pieces.append(align(code, node.indices, wanted).at(ATOM))
    if place.offset or not pieces:
        pieces.append(str(place.offset))
    if len(pieces) == 1 and not place.terms and place.lookup is None:
        return Code(pieces[0])
    return Code(" + ".join(pieces).replace("+ -", "- "), 8)


def tensor_name(node: ir.Node) -> str:
    """The user's name for the tensor under a read's operand."""
    var = ir.read_var(node)
    assert isinstance(var, ir.Var)
    return ir.display_name(var.name)


# --- scatters --------------------------------------------------------------------------------


def scatter(gen: Generator, node: ir.Scatter, operand: Code, rest: list[Code]) -> Code:
    """The write `node` of `operand` into zeros, or into its `into` array. A position under a
    boundary rule is moved into the axis (`clamp`, `wrap`); under `pad` a write outside is
    dropped: its value is replaced by zero and written at the edge."""
    into = rest[0] if node.into is not None else None
    lookups = list(zip(node.lookups, rest[1:] if into is not None else rest, strict=True))
    over = node.operand.indices
    entries: list[str] = []
    inside: list[str] = []  # under `pad`: the conditions that the positions are inside
    for k, place in enumerate(node.places):
        positions = _positions(gen, place, over, lookups)
        if isinstance(place, ir.Position) and place.lookup is not None:
            positions = gen.checked_write(positions, gen.size(node.labels[k]), target_name(node))
        if isinstance(place, ir.Position) and place.boundary != "error":
            positions = _bounded(gen, positions, gen.size(node.labels[k]), place.boundary, inside)
        entries.append(positions.text)
    if inside:
        kept = " & ".join(inside) if len(inside) == 1 else " & ".join(f"({c})" for c in inside)
        operand = Code(f"{gen.module}.where({kept}, {operand.text}, 0)")
    index = f"({', '.join(entries)},)"
    shape = gen.sizes.shape(node.labels)
    return gen.scatter(into, shape, index, operand, node.accumulate)


def _bounded(gen: Generator, positions: Code, size: str, boundary: str, inside: list[str]) -> Code:
    """Positions moved into 0..size-1 by a boundary rule; under `pad`, the condition that a
    position was inside is added to `inside`."""
    if boundary == "wrap":
        return Code(f"{positions.at(PRODUCT + 1)} % {size}", PRODUCT)
    if boundary == "pad":
        name = gen.name_of(positions)
        inside.append(f"({name} >= 0) & ({name} < {size})")
        positions = Code(name)
    return Code(f"{gen.module}.clip({positions.text}, 0, {size} - 1)")


def target_name(node: ir.Scatter) -> str:
    """The user's name for the target a scatter writes."""
    extent = next(label for label in node.labels if isinstance(label, Extent))
    return ir.display_name(extent.tensor)


class PlaceForms:
    """How a backend writes what reads and writes at positions need; `Generator` (which has
    `module` and `use_helper`) inherits these NumPy-style forms, and backends override them."""

    module: str

    def use_helper(self, name: str) -> str:
        raise NotImplementedError

    def pad_axis(self, operand: Code, axis: int, before: str, after: str, mode: str) -> Code:
        """`operand` padded along `axis`: zeros ("constant"), the edge ("edge") or wrapped
        around ("wrap")."""
        return Code(
            f"{self.use_helper('_pad_axis')}({operand.text}, {axis}, {before}, {after}, {mode!r})"
        )

    def window(self, operand: Code, axis: int, offset: str, counts: str, steps: str) -> Code:
        """`operand` with `axis` replaced by window axes: element [j1, j2, ...] of them is
        element offset + sum(steps * j) of the axis."""
        helper = self.use_helper("_window")
        return Code(f"{helper}({operand.text}, {axis}, {offset}, {counts}, {steps})")

    def reverse(self, operand: Code, axes: list[int]) -> Code:
        """`operand` with these axes in reverse order (a view on NumPy)."""
        return Code(f"{self.module}.flip({operand.text}, {tuple(axes)})")

    def checked_read(self, positions: Code, size: str, tensor: str) -> Code:
        """Positions read from data, refused where one is outside 0..size-1."""
        what = f"a position in {tensor}"
        return Code(f"{self.use_helper('_in_range')}({positions.text}, {size}, {what!r})")

    def checked_write(self, positions: Code, size: str, tensor: str) -> Code:
        """Positions written from data, refused where one is outside 0..size-1."""
        return self.checked_read(positions, size, tensor)

    def add_windows(
        self,
        into: Code | None,
        shape: str,
        values: Code,
        starts: tuple[int, ...],
        steps: tuple[tuple[int, ...], ...],
    ) -> Code:
        """`values` added at windows into `into` (or zeros of `shape`), out of place: see
        `_window_pieces` for where each element goes."""
        start = into.text if into is not None else "None"
        helper = self.use_helper("_add_windows")
        return Code(f"{helper}({start}, {shape}, {values.text}, {starts}, {steps})")

    def scatter(
        self, into: Code | None, shape: str, index: str, values: Code, accumulate: bool
    ) -> Code:
        """`values` written at `index` into `into` (or zeros of `shape`), added up if
        `accumulate`; `into` itself is left as it is."""
        start = into.text if into is not None else "None"
        helper = self.use_helper("_scatter")
        return Code(f"{helper}({start}, {shape}, {index}, {values.text}, {accumulate})")
