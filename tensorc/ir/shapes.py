"""Shape inference: the size of every index from the arguments' shapes, checked at every use.

Indices are global to a program, and so is the ellipsis: `...` stands for the broadcast
(numpy rules) of the batch dimensions of every access that writes it.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from math import prod

from tensorc.errors import ShapeError, Span, TensorcError
from tensorc.ir import nodes as ir
from tensorc.ir import ranges
from tensorc.ir.kernels import Windowed
from tensorc.ir.labels import ELLIPSIS, Composed, Extent, axis_number, expanded, parts
from tensorc.ir.nodes import display_name
from tensorc.suggest import closest
from tensorc.tracing import symbolic

# The most elements an array may have: at 16 bytes each (complex128) its size in bytes then
# just fits a signed 64-bit integer. Larger sizes wrap around in NumPy (a keyword size of 2**63
# made a (2, 0) array) and abort the whole process in XLA, so they are refused up front.
LARGEST_ARRAY = 2**59


@dataclass(frozen=True)
class Sizes:
    """Index sizes, and the ellipsis's batch shape (empty when the program has none)."""

    of: Mapping[str, int]
    ellipsis: tuple[int, ...] = ()

    def axis(self, label: str) -> int:
        """The size of one stored axis: an index, or the product of a composed axis."""
        return prod(self.of[part] for part in parts(label))

    def shape(self, labels: tuple[str, ...]) -> tuple[int, ...]:
        out: list[int] = []
        for label in labels:
            if label == ELLIPSIS:
                out.extend(self.ellipsis)
            else:
                out.append(self.axis(label))
        return tuple(out)


def reads(program: ir.Program) -> list[tuple[int, ir.Var]]:
    """Every tensor read, with the number of the statement that makes it, in program order."""
    found: list[tuple[int, ir.Var]] = []
    for number, let in enumerate(program.lets):
        found.extend((number, node) for node in ir.walk(let.value) if isinstance(node, ir.Var))
    return found


def infer_sizes(
    program: ir.Program,
    shapes: Mapping[str, tuple[int, ...]],
    keywords: Mapping[str, int],
    complete: bool = True,
) -> Sizes:
    """Solves every index size from input shapes and keyword sizes; ShapeError on disagreement,
    on sizes too large for any array and, if `complete`, for an index whose size nothing gives
    (otherwise the sizes that are known, for inputs whose shapes were left out)."""
    try:
        return _Inference(program, shapes, keywords).run(complete)
    except TensorcError as error:
        raise error.with_source(program.source) from None


@dataclass
class _Inference:
    program: ir.Program
    shapes: Mapping[str, tuple[int, ...]]
    keywords: Mapping[str, int]
    sizes: dict[str, int] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    ellipsis: tuple[int, ...] | None = None
    ellipsis_origin: str = ""
    composed: list[tuple[Composed, int, str, Span | None]] = field(default_factory=list)

    def run(self, complete: bool = True) -> Sizes:
        indices = all_indices(self.program)
        for name, size in self.keywords.items():
            if name not in indices:
                known = [spec.name for spec in self.program.inputs]
                raise unknown_keyword(name, [*known, *indices])
            self.sizes[name] = size
            self.origin[name] = f"the keyword {name}={size}"
        shapes = dict(self.shapes)
        pending = reads(self.program)
        sizing = ranges.rules(self.program)
        while True:
            progress = False
            remaining = []
            for number, var in pending:
                shape = shapes.get(var.name)
                if shape is None:
                    remaining.append((number, var))
                    continue
                self._unify_read(var, shape)
                progress = True
            pending = remaining
            progress |= self._solve_composed()
            for let in self.program.lets:
                if let.name not in shapes and self._known(let.value.indices):
                    shapes[let.name] = self._sizes().shape(let.value.indices)
                    progress = True
            if not progress:
                progress = self._solve_ranges(sizing)
            if not progress:
                break
        if complete:
            self._check_all_known(indices)
            ranges.check_bounds(self.program, self.sizes.__getitem__)
        self._check_allocatable()
        return self._sizes()

    def _solve_ranges(self, sizing: list[ranges.Rule]) -> bool:
        """Sizes each unsized label that a position's rule can size now: the least of its
        rules' sizes (each keeps its own reads in bounds)."""
        found: dict[str, int] = {}
        for rule in sizing:
            if rule.label not in self.sizes and all(n in self.sizes for n in rule.formula.needs):
                size = rule.formula.evaluate(self.sizes.__getitem__)
                found[rule.label] = min(size, found.get(rule.label, size))
        for label, size in found.items():
            self.sizes[label] = size
            self.origin[label] = "the positions that use it"
        return bool(found)

    def _sizes(self) -> Sizes:
        return Sizes(dict(self.sizes), self.ellipsis or ())

    def _known(self, labels: tuple[str, ...]) -> bool:
        return all(index in self.sizes for index in expanded(labels) if index != ELLIPSIS)

    def _name(self, var: ir.Var) -> str:
        """How messages name a tensor: its own name, or an einsum's "operand 0"."""
        subscripts = self.program.subscripts
        if subscripts is not None and var.name.startswith("x"):
            return f"operand {var.name[1:]}"
        return display_name(var.name)

    def _unify_read(self, var: ir.Var, shape: tuple[int, ...]) -> None:
        name = self._name(var)
        labels = var.labels
        has_ellipsis = ELLIPSIS in labels
        named = len(labels) - has_ellipsis
        if len(shape) != len(labels) and not (has_ellipsis and len(shape) >= named):
            least = "at least " if has_ellipsis else ""
            if self.program.subscripts is not None:
                text = self.program.subscripts[int(var.name[1:])]
                raise ShapeError(
                    f"{name} has {len(shape)} dimensions but the subscripts '{text}' name "
                    f"{least}{named}",
                    var.span,
                )
            raise ShapeError(
                f"{name} is indexed with {least}{named} axes but the argument has "
                f"{len(shape)} dimensions",
                var.span,
            )
        split = labels.index(ELLIPSIS) if has_ellipsis else len(labels)
        after = len(labels) - split - 1
        for position, label in enumerate(labels):
            if label == ELLIPSIS:
                self._unify_ellipsis(shape[split : len(shape) - after], name, var.span)
                continue
            size = shape[axis_number(labels, position)]
            if isinstance(label, Composed):
                self.composed.append((label, size, name, var.span))
            else:
                self._unify(label, size, f"{name}", var.span)

    def _unify(self, index: str, size: int, where: str, span: Span | None) -> None:
        known = self.sizes.get(index)
        if known is None:
            self.sizes[index] = size
            self.origin[index] = where
        elif known != size:
            raise ShapeError(
                f"index '{index}' has size {known} {_in(self.origin[index])} but size {size} "
                f"{_in(where)}",
                span,
            )

    def _unify_ellipsis(self, batch: tuple[int, ...], name: str, span: Span | None) -> None:
        if self.ellipsis is None:
            self.ellipsis, self.ellipsis_origin = batch, name
            return
        merged = _broadcast(self.ellipsis, batch)
        if merged is None:
            raise ShapeError(
                f"the '...' dimensions {self.ellipsis} of {self.ellipsis_origin} and {batch} of "
                f"{name} do not broadcast",
                span,
            )
        self.ellipsis = merged

    def _solve_composed(self) -> bool:
        """Fills in one unknown factor of each composed axis whose other factors are known."""
        progress = False
        for label, size, name, span in self.composed:
            unknown = [part for part in label.parts if part not in self.sizes]
            known = prod(self.sizes[part] for part in label.parts if part in self.sizes)
            if len(unknown) == 1:
                if known == 0 or size % known:
                    given = "*".join(f"{p}={self.sizes[p]}" for p in label.parts if p in self.sizes)
                    raise ShapeError(
                        f"axis {label} of {name} has size {size}, which is not divisible by {given}",
                        span,
                    )
                self._unify(unknown[0], size // known, name, span)
                progress = True
            elif not unknown and known != size:
                given = " * ".join(f"{p}={self.sizes[p]}" for p in label.parts)
                raise ShapeError(
                    f"axis {label} of {name} has size {size} but {given} is {known}", span
                )
        return progress

    def _check_all_known(self, indices: dict[str, Span | None]) -> None:
        check_extents_known(self.program, self.sizes)
        for index, span in indices.items():
            if index not in self.sizes:
                raise _left_only(self.program, index, span) or ShapeError(
                    f"the size of index '{index}' cannot be inferred: pass it by keyword, "
                    f"e.g. {index}=...",
                    span,
                )

    def _check_allocatable(self) -> None:
        """ShapeError for an index size or an array that no backend can hold (see LARGEST_ARRAY).
        Symbolic sizes (a graph compiler's) are not bounded here: a bound would narrow them."""
        if any(map(symbolic, self.sizes.values())):
            return
        for index, size in self.sizes.items():
            if size > LARGEST_ARRAY:
                raise ShapeError(
                    f"index '{index}' has size {size} {_in(self.origin[index])}: no array can "
                    f"have an axis of more than 2**59 = {LARGEST_ARRAY} elements"
                )
        sizes = self._sizes()
        for let in self.program.lets:
            for node in ir.walk(let.value):
                labels = [
                    label for label in node.indices if label == ELLIPSIS or self._known((label,))
                ]
                shape = sizes.shape(tuple(labels))
                if prod(shape) > LARGEST_ARRAY:
                    raise ShapeError(
                        f"an array over [{', '.join(labels)}] in {display_name(let.name)} would "
                        f"have {' x '.join(map(str, shape))} = {prod(shape)} elements: no array "
                        f"can have more than 2**59 = {LARGEST_ARRAY}",
                        let.span,
                    )


def check_extents_known(program: ir.Program, known: Container[str]) -> None:
    """ShapeError for a target axis written at tensor-valued positions only, which nothing
    sizes (`S[seg[e], d] += ...` as the first statement of S)."""
    for let in program.lets:
        for label in let.value.indices:
            if isinstance(label, Extent) and label not in known:
                raise ShapeError(
                    f"the size of {display_name(label.tensor)}'s axis {label.axis} cannot be "
                    "inferred from a tensor-valued position: create the target first, "
                    "e.g. `S[s, d] = 0`, with its size by keyword",
                    let.span,
                ).with_source(program.source)


def _in(where: str) -> str:
    return f"from {where}" if where.startswith("the keyword") else f"in {where}"


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """numpy's broadcast of two shapes, or None where they do not broadcast."""
    width = max(len(a), len(b))
    a = (1,) * (width - len(a)) + a
    b = (1,) * (width - len(b)) + b
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def unknown_keyword(name: str, known: list[str]) -> ShapeError:
    """The error for a keyword that names neither an input nor an index, with the closest name."""
    suggestion = closest(name, known)
    if suggestion is None:
        return ShapeError(f"unknown keyword argument '{name}': it is not an index")
    return ShapeError(
        f"unknown keyword argument '{name}': it is neither an input nor an index of this "
        f"program; did you mean '{suggestion}'?"
    )


def _left_only(program: ir.Program, index: str, span: Span | None) -> ShapeError | None:
    """The error for an unsized index that only a target names, when a similar index is read
    on the right (`C[i, kk] = A[i, j] * B[j, k]`: a typo that sums `k`); None otherwise."""
    read: set[str] = set()
    for let in program.lets:
        for node in ir.walk(let.value):
            if isinstance(node, ir.Var):
                read.update(expanded(node.labels))
            elif isinstance(node, ir.IndexValue):
                read.add(node.index)
    if index in read:
        return None
    for let in program.lets:
        target = expanded(let.value.indices)
        if index not in target:
            continue
        used = [
            i
            for node in ir.walk(let.value)
            if isinstance(node, ir.Var)
            for i in expanded(node.labels)
        ]
        suggestion = closest(index, [i for i in used if i != ELLIPSIS])
        if suggestion is None:
            return None
        summed = (
            "" if suggestion in target else f" ('{suggestion}' is summed, as the left lacks it)"
        )
        return ShapeError(
            f"index '{index}' appears only on the left of {display_name(let.name)}, so nothing "
            f"gives its size: did you mean '{suggestion}'?{summed} To broadcast along a new "
            f"index, pass its size by keyword, e.g. {index}=...",
            let.span or span,
        )
    return None


def all_indices(program: ir.Program) -> dict[str, Span | None]:
    """Every index a program's nodes use, with a statement span to point at when one is unsized."""
    found: dict[str, Span | None] = {}
    for let in program.lets:
        for node in ir.walk(let.value):
            for index in expanded(node.indices):
                if index != ELLIPSIS and not isinstance(index, Extent):
                    found.setdefault(index, let.span)
            if isinstance(node, ir.Reduce):
                for index in expanded(node.reduced):
                    found.setdefault(index, let.span)
            for window in node.windows if isinstance(node, Windowed) else ():
                found.setdefault(window.kernel, let.span)  # a pool's window is no axis
    return found
