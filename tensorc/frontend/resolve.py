"""What a program means, read once from its AST; IR lowering and autodiff both start here.

- A name is an *index* if it labels an axis (of a target or an access) or is the index of a
  reduction or normaliser anywhere in the program.
- The *inputs* are the names read before they are assigned, in order of first appearance: a
  tensor where it is accessed with brackets, a scalar where it is read bare (unless it is an
  index or a constant).
- *Single assignment*: a name assigned again (or an input assigned) gets a new name, `C#2` from
  its second assignment on (`ir.display_name` gives the user's name back), and every read
  refers to the latest assignment before it.
- The *Einstein rule*: where a right-hand side is a product of indexed terms (scalar factors and
  divisors allowed), the indices it uses that the target lacks are summed.

Checks that need the IR (sizes, ranks of targets, which index is unreduced) stay in lowering,
which raises them in program order; resolving raises nothing for a parsed program.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from tensorc import ops
from tensorc.errors import ProgramError, ShapeError, Span
from tensorc.frontend import ast
from tensorc.ir.labels import ELLIPSIS, Composed, composed, ellipsis_first, expanded
from tensorc.suggest import closest

# What reading a program needs to know of the vocabulary (the operation table has the rest).

NOWHERE = Span(1, 1)  # the span of AST nodes that are built, not parsed

# --- axes and their labels ------------------------------------------------------------------


def label_of(axis: ast.Axis) -> str:
    """The IR label of an axis as written: `i`, `...` or a `Composed` `(h d)`; a position
    (which no label names) as its text, `2*h + kh`."""
    if isinstance(axis, ast.IndexAxis):
        return axis.name
    if isinstance(axis, ast.EllipsisAxis):
        return ELLIPSIS
    if isinstance(axis, ast.PositionAxis):
        return position_text(axis)
    return composed(axis.names)


def position_text(axis: ast.PositionAxis) -> str:
    """A position as the language writes it: `2*h + kh - 1`, `pad(t - k)`, `ids[b, t] + 1`."""
    pieces: list[str] = []
    for coefficient, index in axis.terms:
        size = abs(coefficient)
        term = index if size == 1 else f"{size}*{index}"
        pieces.append(("- " if coefficient < 0 else "+ ") + term)
    if axis.lookup is not None:
        lookup = axis.lookup
        pieces.append(f"+ {lookup.tensor}[{', '.join(labels_of(lookup.axes))}]")
    if axis.offset or not pieces:
        pieces.append(("- " if axis.offset < 0 else "+ ") + str(abs(axis.offset)))
    text = " ".join(pieces)
    text = text[2:] if text.startswith("+ ") else "-" + text[2:]
    if axis.boundary == "error":
        return text
    return f"{axis.boundary}({text}{f', {axis.padding}' if axis.padding else ''})"


def labels_of(axes: Iterable[ast.Axis]) -> tuple[str, ...]:
    return tuple(label_of(axis) for axis in axes)


def indices_of(axes: Iterable[ast.Axis]) -> tuple[str, ...]:
    """The index names of an axis list, composed axes and positions spelled out (with repeats)."""
    found: list[str] = []
    for axis in axes:
        if isinstance(axis, ast.PositionAxis):
            found.extend(axis.indices)
        else:
            found.extend(expanded((label_of(axis),)))
    return tuple(found)


def axis_of(label: str, span: Span = NOWHERE) -> ast.Axis:
    """The axis that a label is written as: the inverse of `label_of`."""
    if label == ELLIPSIS:
        return ast.EllipsisAxis(span)
    if isinstance(label, Composed):
        return ast.ComposedAxis(span, label.parts)
    return ast.IndexAxis(span, label)


# --- expressions ----------------------------------------------------------------------------


def indices_in(expr: ast.Expr) -> Iterator[str]:
    """The index names an expression uses between brackets, in order of appearance (with
    repeats, and `...`)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Access):
            yield from indices_of(node.axes)
        elif isinstance(node, ast.Along):
            yield from (axis.name for axis in node.indices)


def values_of(expr: ast.Expr, indices: Container[str]) -> list[str]:
    """The indices that an expression reads bare, as values (`j` in `j + A[i, j]`), in order of
    appearance: an index of the program that a statement uses only so is still its index."""
    names = [node for node in ast.walk(expr) if isinstance(node, ast.Name)]
    names.sort(key=lambda node: (node.span.line, node.span.column))
    return [node.name for node in names if node.name in indices]


def is_product(expr: ast.Expr) -> bool:
    """Whether `expr` is a product that the Einstein rule sums over: two or more factors and
    divisors, or a single tensor read (`s = A[i, i]` is a trace)."""
    factors, divisors, _ = ast.flatten_product(expr)
    return len(factors) + len(divisors) >= 2 or (
        len(factors) == 1 and isinstance(factors[0], ast.Access)
    )


class FreeIndices:
    """The free indices of expressions, given which bare names are indices; the ellipsis counts
    as one index. Remembered per node, and found without recursion (programs nest deep)."""

    def __init__(self, index_names: Iterable[str]):
        self.names = frozenset(index_names)
        self._cache: dict[int, tuple[ast.Expr, frozenset[str]]] = {}

    def free(self, expr: ast.Expr) -> frozenset[str]:
        pending: list[ast.Expr] = []
        stack = [expr]
        while stack:
            node = stack.pop()
            if self._known(node) is None:
                pending.append(node)
                stack.extend(ast.children(node))
        for node in reversed(pending):  # children before their parents
            self._cache[id(node)] = (node, self._own(node))
        found = self._known(expr)
        assert found is not None
        return found

    def _known(self, node: ast.Expr) -> frozenset[str] | None:
        cached = self._cache.get(id(node))
        return cached[1] if cached is not None and cached[0] is node else None

    def _own(self, node: ast.Expr) -> frozenset[str]:
        """A node's free indices, its children's being known."""
        if isinstance(node, ast.Access):
            return frozenset(indices_of(node.axes))
        if isinstance(node, ast.Name):
            return frozenset({node.name}) if node.name in self.names else frozenset()
        inner: frozenset[str] = frozenset()
        for child in ast.children(node):
            inner |= self._cache[id(child)][1]
        if isinstance(node, ast.Along) and not ops.keeps_index(node.func):
            return inner - {axis.name for axis in node.indices}
        return inner


def rename_reads(expr: ast.Expr, names: Mapping[str, str], indices: Iterable[str]) -> ast.Expr:
    """`expr` with the tensors and scalars it reads renamed by `names` (index names are left
    alone); subexpressions that read nothing renamed are kept as they are."""
    skip = frozenset(indices)
    done: dict[int, ast.Expr] = {}
    for node in reversed(list(ast.walk(expr))):  # children before their parents
        done[id(node)] = _renamed(node, names, skip, done)
    return done[id(expr)]


def _renamed(
    node: ast.Expr, names: Mapping[str, str], skip: frozenset[str], done: dict[int, ast.Expr]
) -> ast.Expr:
    if isinstance(node, ast.Access):
        tensor = names.get(node.tensor, node.tensor)
        axes = tuple(_renamed_axis(axis, done) for axis in node.axes)
        if tensor == node.tensor and all(a is b for a, b in zip(axes, node.axes, strict=True)):
            return node
        return ast.Access(node.span, tensor, axes)
    if isinstance(node, ast.Name):
        name = node.name if node.name in skip else names.get(node.name, node.name)
        return node if name == node.name else ast.Name(node.span, name)
    children = ast.children(node)
    new = tuple(done[id(child)] for child in children)
    if all(a is b for a, b in zip(new, children, strict=True)):
        return node
    if isinstance(node, ast.Unary):
        return ast.Unary(node.span, node.op, new[0])
    if isinstance(node, ast.Binary):
        return ast.Binary(node.span, node.op, new[0], new[1])
    if isinstance(node, ast.Call):
        return ast.Call(node.span, node.func, new)
    assert isinstance(node, ast.Along)
    return ast.Along(node.span, node.func, node.indices, new[0])


def _renamed_axis(axis: ast.Axis, done: dict[int, ast.Expr]) -> ast.Axis:
    """An axis whose lookup (already renamed, in `done`) reads the renamed tensor."""
    if not isinstance(axis, ast.PositionAxis) or axis.lookup is None:
        return axis
    lookup = done[id(axis.lookup)]
    if lookup is axis.lookup:
        return axis
    assert isinstance(lookup, ast.Access)
    return replace(axis, lookup=lookup)


def rename_target(axes: tuple[ast.Axis, ...], names: Mapping[str, str], indices: Iterable[str]):
    """A target's axes with the tensors their lookups read renamed by `names`."""
    skip = frozenset(indices)
    renamed = []
    for axis in axes:
        if isinstance(axis, ast.PositionAxis) and axis.lookup is not None:
            lookup = rename_reads(axis.lookup, names, skip)
            assert isinstance(lookup, ast.Access)
            axis = replace(axis, lookup=lookup)
        renamed.append(axis)
    return tuple(renamed)


# --- the program ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """A program input, as its first read shows it: a scalar, or a tensor of some rank."""

    name: str
    scalar: bool
    rank: int
    ellipsis: bool  # read with `...`: its rank is at least `rank - 1`
    span: Span

    def check_read(self, scalar: bool, rank: int, ellipsis: bool, span: Span) -> None:
        """Raises a ShapeError where a later read disagrees with the first."""
        if self.scalar != scalar:
            raise ShapeError(f"'{self.name}' is used both as a scalar and as a tensor", span)
        if not ellipsis and not self.ellipsis and rank != self.rank:
            raise ShapeError(
                f"{self.name} is indexed with {rank} axes here but with {self.rank} before", span
            )


@dataclass(frozen=True)
class Statement:
    """One assignment, resolved."""

    assign: ast.Assign  # as parsed
    name: str  # its single-assignment name: the target's own, or `C#2` when assigned again
    value: ast.Expr  # the right-hand side, reading single-assignment names
    order: tuple[str, ...]  # its indices: `...`, the target's, the others by first appearance
    summed: tuple[str, ...]  # the indices the Einstein rule sums, in `order`
    target_axes: tuple[ast.Axis, ...] | None = None  # the target's, reading single-assignment names
    previous: str | None = None  # the single-assignment name that the target had before, if any

    @property
    def target(self) -> str:
        """The user's name for the target."""
        return self.assign.target

    @property
    def axes(self) -> tuple[ast.Axis, ...] | None:
        return self.target_axes if self.target_axes is not None else self.assign.axes


@dataclass(frozen=True)
class Resolution:
    """A program's names, inputs and statements, resolved."""

    program: ast.Program
    indices: Mapping[str, Span]  # every index, with the span of the statement that first uses it
    inputs: Mapping[str, Input]  # in order of first appearance
    statements: tuple[Statement, ...]
    latest: Mapping[str, str]  # each target's single-assignment name after the last statement

    def returned(self) -> tuple[str, ...]:
        """The single-assignment names of the results: the last statement's target, or those
        that `return` names; a ProgramError for a name that is never assigned."""
        returns = self.program.returns
        if returns is None:
            return (self.statements[-1].name,)
        found = []
        for name in returns.names:
            if name.name in self.latest:
                found.append(self.latest[name.name])
            elif name.name in self.inputs:
                found.append(name.name)
            else:
                raise ProgramError(f"cannot return '{name.name}': it is never assigned", name.span)
        return tuple(found)


def resolve(program: ast.Program) -> Resolution:
    """Reads a parsed program's meaning (see the module's docstring)."""
    indices = _collect_indices(program)
    free = FreeIndices(indices)
    inputs: dict[str, Input] = {}
    latest: dict[str, str] = {}
    assignments: dict[str, int] = {}
    statements = []
    for assign in program.statements:
        for lookup in ast.lookups(assign.axes or ()):  # the target is first in the text
            _declare_inputs(lookup, inputs, latest, indices)
        _declare_inputs(assign.value, inputs, latest, indices)
        value = rename_reads(assign.value, latest, indices)
        axes = rename_target(assign.axes, latest, indices) if assign.axes else assign.axes
        into = latest.get(assign.target, assign.target if assign.target in inputs else None)
        name = assign.target
        if name in latest or name in inputs:
            assignments[name] = assignments.get(name, 1) + 1
            name = f"{name}#{assignments[name]}"
        latest[assign.target] = name
        target = indices_of(assign.axes or ())
        order = ellipsis_first((*target, *indices_in(assign.value), *values_of(value, indices)))
        summed: tuple[str, ...] = ()
        if is_product(value):
            used = free.free(value)
            summed = tuple(i for i in order if i in used and i not in target)
        statements.append(Statement(assign, name, value, order, summed, axes, into))
    return Resolution(program, indices, inputs, tuple(statements), latest)


def lonely_sums(meaning: Resolution) -> Iterator[tuple[Statement, str, str]]:
    """Indices that the Einstein rule sums though they appear only once in their statement,
    beside a similar index of the program: `B[jj, k]` next to `A[i, j]`, a likely typo. Each
    (statement, index, similar index) once per pair of names."""
    for statement in meaning.statements:
        value = statement.assign.value
        uses = [
            *indices_of(statement.axes or ()),
            *indices_in(value),
            *values_of(value, meaning.indices),
        ]
        reported: set[frozenset[str]] = set()
        for index in reversed(statement.summed):  # the later of two similar names first
            similar = closest(index, meaning.indices) if uses.count(index) == 1 else None
            pair = frozenset((index, similar or index))
            if similar is not None and index != ELLIPSIS and pair not in reported:
                reported.add(pair)
                yield statement, index, similar


def _collect_indices(program: ast.Program) -> dict[str, Span]:
    """Every name used as an index anywhere, with the statement of its first use."""
    names: dict[str, Span] = {}
    for statement in program.statements:
        for index in (*indices_of(statement.axes or ()), *indices_in(statement.value)):
            if index != ELLIPSIS:
                names.setdefault(index, statement.span)
    return names


def _declare_inputs(
    value: ast.Expr, inputs: dict[str, Input], assigned: Container[str], indices: Container[str]
) -> None:
    """Adds the names that `value` reads and nothing has assigned yet, by their position."""
    reads = [node for node in ast.walk(value) if isinstance(node, ast.Access | ast.Name)]
    for node in sorted(reads, key=lambda n: (n.span.line, n.span.column)):
        if isinstance(node, ast.Access):
            name, labels = node.tensor, labels_of(node.axes)
            found = Input(name, False, len(labels), ELLIPSIS in labels, node.span)
        else:
            name, found = node.name, Input(node.name, True, 0, False, node.span)
            if name in ops.CONSTANTS:
                continue
        if name not in assigned and name not in indices and name not in inputs:
            inputs[name] = found
