"""Sizes that follow from positions (CONTRACT §6), and the plan-time proof that every read and
write at a position stays inside its tensor.

- An index that no axis labels directly gets the largest size for which a read stays in bounds
  ("valid"); under `pad(e, p)` in bounds of the padded extent.
- Under `pad(e)`, `clamp(e)` and `wrap(e)`, a position's leading index covers the input:
  ceil(N / step) ("same").
- The positioned axis of a new target is the smallest that holds every write.

Each rule is a `Formula`, evaluated for planning and written as text for generic code, so the
two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tensorc.errors import ShapeError, Span
from tensorc.ir import nodes as ir
from tensorc.ir.kernels import ConvolutionTranspose, Windowed
from tensorc.ir.labels import Extent
from tensorc.ir.printer import place_text


@dataclass(frozen=True)
class Formula:
    """A size `max(0, (sum(coefficient * size(label)) + constant) // divisor + 1)`."""

    terms: tuple[tuple[int, str], ...]
    constant: int
    divisor: int = 1

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(label for _, label in self.terms)

    def evaluate(self, size: Callable[[str], int]) -> int:
        total = sum(c * size(label) for c, label in self.terms) + self.constant
        return max(0, total // self.divisor + 1)

    def text(self, size: Callable[[str], str]) -> str:
        """The formula as a Python expression over size texts."""
        pieces = []
        for c, label in self.terms:
            term = size(label) if abs(c) == 1 else f"{abs(c)} * {size(label)}"
            pieces.append(("- " if c < 0 else "+ ") + term)
        constant = self.constant + self.divisor  # (x + k) // d + 1 == (x + k + d) // d
        if constant:
            pieces.append(("- " if constant < 0 else "+ ") + str(abs(constant)))
        total = " ".join(pieces)
        total = total[2:] if total.startswith("+ ") else "-" + total[2:]
        if self.divisor == 1:
            return f"max(0, {total})"
        return f"max(0, ({total}) // {self.divisor})"


@dataclass(frozen=True)
class Rule:
    """One way of sizing `label`: by `formula`, from a position of some read or write."""

    label: str
    formula: Formula


def rules(program: ir.Program) -> list[Rule]:
    """Every sizing rule that the program's positions give, in program order."""
    found: list[Rule] = []
    for let in program.lets:
        for node in ir.walk(let.value):
            if isinstance(node, ir.Gather):
                for place, extent in zip(node.places, node.operand.indices, strict=True):
                    if isinstance(place, ir.Position) and place.lookup is None:
                        found.extend(_read_rules(place, extent))
            elif isinstance(node, ir.Scatter) and node.into is None:
                for place, extent in zip(node.places, node.labels, strict=True):
                    if isinstance(place, ir.Position) and place.lookup is None:
                        found.append(Rule(extent, _written(place)))
            elif isinstance(node, Windowed):  # a kernel keeps the positions it was found in
                for w in node.windows:
                    writes = isinstance(node, ConvolutionTranspose)
                    found.extend(
                        [Rule(w.extent, _written(w.place))]
                        if writes
                        else _read_rules(w.place, w.extent)
                    )
    return found


def _read_rules(place: ir.Position, extent: str) -> Iterator[Rule]:
    if place.boundary != "error" and not place.padding:  # "same": the leading index only
        if place.terms:
            step, index = place.terms[0]
            yield Rule(index, Formula(((1, extent),), -1, abs(step)))
        return
    for step, index in place.terms:
        others = [(c, i) for c, i in place.terms if i != index]
        if step > 0:  # the last position, at the others' greatest, is N + 2p - 1 at most
            terms = ((1, extent), *((-c, i) for c, i in others if c > 0))
            constant = place.padding - 1 - place.offset + sum(c for c, _ in others if c > 0)
            yield Rule(index, Formula(terms, constant, step))
        else:  # the first position, at the others' least, is -p at least
            terms = tuple((c, i) for c, i in others if c < 0)
            constant = place.offset + place.padding - sum(c for c, _ in others if c < 0)
            yield Rule(index, Formula(terms, constant, -step))


def _written(place: ir.Position) -> Formula:
    """The smallest extent that holds every write at `place`: its greatest position + 1."""
    rising = tuple((c, i) for c, i in place.terms if c > 0)
    return Formula(rising, place.offset - sum(c for c, _ in rising))


# --- sizes in generic code ---------------------------------------------------------------------


@dataclass(frozen=True)
class Derived:
    """A size that generic code computes from other sizes: the least of `formulas`."""

    formulas: tuple[Formula, ...]


@dataclass(frozen=True)
class Alias:
    """An extent that is the size of an axis of an earlier target, labelled `label` there."""

    label: str


def derived_sources(
    program: ir.Program, known: set[str], indices: Iterable[str]
) -> dict[str, Derived | Alias]:
    """The sizes generic code derives, given the labels whose sizes it reads off inputs
    (`known`). Where positions size each other in a circle (`2*h + kh`, with neither `h` nor
    `kh` given), the index written last is left out, for the caller to pass by keyword."""
    found: dict[str, Derived | Alias] = {}
    targets = {let.name: let.value.indices for let in program.lets}
    for let in program.lets:
        for node in ir.walk(let.value):
            if isinstance(node, ir.Var) and node.name in targets:
                for label, stored in zip(node.labels, targets[node.name], strict=False):
                    if isinstance(label, Extent) and label != stored:
                        found[label] = Alias(stored)
    sized = known | set(found)
    pending = [rule for rule in rules(program) if rule.label not in sized]
    wanted = set(indices) | {rule.label for rule in pending if isinstance(rule.label, Extent)}
    while pending:
        ready = [rule for rule in pending if all(n in sized for n in rule.formula.needs)]
        if not ready:
            stuck = next(rule for rule in pending if rule.label in wanted)
            missing = [label for label in stuck.formula.needs if label not in sized]
            sized.add(missing[-1] if missing else stuck.label)  # sized already: no progress
            pending = [rule for rule in pending if rule.label not in sized]
            continue
        for rule in ready:
            formulas = found.get(rule.label)
            before = formulas.formulas if isinstance(formulas, Derived) else ()
            found[rule.label] = Derived((*before, rule.formula))
        sized |= {rule.label for rule in ready}
        pending = [rule for rule in pending if rule.label not in sized]
    return found


# --- the proof that positions stay in bounds ---------------------------------------------------


def check_bounds(program: ir.Program, size: Callable[[str], int]) -> None:
    """ShapeError for a read or write at a position outside its tensor (or, under
    `pad(e, p)`, outside the padded extent), naming the access, the index values and the bound.
    A write under a boundary rule cannot leave its tensor: `pad` drops it, `clamp` and `wrap`
    move it in."""
    for let in program.lets:
        for node in ir.walk(let.value):
            if isinstance(node, ir.Gather):
                var = _var(node.operand)
                for axis, place in enumerate(node.places):
                    if isinstance(place, ir.Position) and (
                        place.boundary == "error" or place.padding
                    ):
                        extent = size(node.operand.indices[axis])
                        _check_place(place, extent, axis, var, size, "reads")
            elif isinstance(node, ir.Scatter):
                written = (ir.display_name(let.name), let.span)
                for axis, place in enumerate(node.places):
                    if isinstance(place, ir.Position) and place.boundary == "error":
                        extent = size(node.labels[axis])
                        _check_place(place, extent, axis, written, size, "writes")
                if not node.accumulate:
                    _check_written_once(node, let, size)


def _check_written_once(node: ir.Scatter, let: ir.Let, size: Callable[[str], int]) -> None:
    """ShapeError where an `=` target with positions would be written twice at one place
    (`c[i + j] = a[i] * b[j]`): the places must tell every index's value apart."""
    known = {index for index in node.operand.indices if size(index) <= 1}
    while True:
        before = len(known)
        for place in node.places:
            if not isinstance(place, ir.Position):
                known.add(place)
                continue
            open_terms = sorted(
                ((abs(c), index) for c, index in place.terms if index not in known),
                key=lambda term: term[0],
            )
            reach = 0  # how far the smaller terms move the position
            for step, index in open_terms:
                if step <= reach:
                    break
                reach += step * (size(index) - 1)
            else:
                known.update(index for _, index in open_terms)
        if len(known) == before:
            break
    twice = [index for index in node.operand.indices if index not in known]
    if twice:
        name = ir.display_name(let.name)
        raise ShapeError(
            f"{name} is written more than once at some positions (different values of "
            f"'{twice[0]}' reach the same place): write `+=` to add them up",
            let.span,
        )


def _var(node: ir.Node) -> tuple[str, Span | None]:
    """The user's name and the span of the tensor that a read at positions reads."""
    var = ir.read_var(node)
    assert isinstance(var, ir.Var)
    return ir.display_name(var.name), var.span


def _check_place(
    place: ir.Position,
    extent: int,
    axis: int,
    where: tuple[str, Span | None],
    size: Callable[[str], int],
    verb: str,
) -> None:
    if place.lookup is not None or any(size(index) == 0 for _, index in place.terms):
        return  # nothing is read or written, or the positions are data: checked when called
    low, high = place.bounds(size)
    first, last = -place.padding, extent - 1 + place.padding
    if first <= low and high <= last:
        return
    name, span = where
    bad = high if high > last else low
    rising = high > last
    text = place_text(place)
    padded = f" padded by {place.padding} on each side" if place.padding else ""
    bound = f"the axis has size {extent}{padded} (positions {first} to {last})"
    if not place.terms:
        raise ShapeError(f"{name}[... {text} ...] {verb} position {bad}, but {bound}", span)
    values = ", ".join(
        f"{index}={size(index) - 1 if (c > 0) == rising else 0}" for c, index in place.terms
    )
    hint = ""
    if verb == "reads" and place.padding:
        hint = '; pad more, or write pad(e) for the "same" size'
    elif verb == "reads":
        hint = f"; to read zeros outside it, write pad({text})"
    raise ShapeError(
        f"{name}[... {text} ...] {verb} outside {name}'s axis {axis}: at {values} the position "
        f"is {bad}, but {bound}{hint}",
        span,
    )
