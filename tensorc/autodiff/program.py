"""The program being differentiated: statements in single-assignment form, inputs, outputs,
which values depend on the inputs differentiated, and a supply of fresh names.

What the program means (indices, inputs, single assignment, the Einstein rule) is read by
`tensorc.frontend.resolve`, as for IR lowering; here a name assigned again gets a fresh name
that the derivative program can spell (`X_2` for lowering's `X#2`).
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from tensorc import ops
from tensorc.autodiff import expr as ex
from tensorc.autodiff import positions
from tensorc.errors import TensorcError
from tensorc.frontend import ast
from tensorc.frontend.resolve import Statement as ResolvedStatement
from tensorc.frontend.resolve import rename_reads, rename_target, resolve
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS


@dataclass(frozen=True)
class Statement:
    """One statement, its target and reads renamed so that every name is assigned once."""

    target: str
    labels: tuple[str, ...] | None  # the target's axes as written; None for `s = ...`
    value: ast.Expr
    summed: frozenset[str]  # indices the Einstein rule sums over the whole right-hand side
    order: tuple[str, ...]  # the statement's indices: the target's, then the others
    # A target written at positions: its axes as written (then `labels` are plain labels of
    # its stored axes), whether it adds up (`+=`), and the array it adds into, if any.
    placed: tuple[ast.Axis, ...] | None = None
    accumulate: bool = False
    previous: str | None = None

    @property
    def axes(self) -> tuple[str, ...]:
        return self.labels or ()

    @property
    def indices(self) -> frozenset[str]:
        """The indices of the target: those its positions use, for a write at positions."""
        if self.placed is not None:
            return frozenset(positions.written_indices(self.placed))
        return frozenset(ex.expanded(self.axes))

    def read(self) -> ast.Expr:
        """The target as an expression (a bare name for a scalar target)."""
        if self.labels is None:
            return ex.name(self.target)
        return ex.access(self.target, self.labels)


class Names:
    """Fresh names for tensors and indices, never equal to a name the program uses."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(taken) | ops.WORDS
        self.taken |= set(keyword.kwlist) | {"program", "math", "functools"} | set(dir(builtins))

    def claim(self, wanted: str) -> str:
        candidate, counter = wanted, 1
        while candidate in self.taken:
            counter += 1
            candidate = f"{wanted}_{counter}"
        self.taken.add(candidate)
        return candidate


@dataclass
class Program:
    """A parsed program prepared for differentiation."""

    statements: list[Statement]
    inputs: tuple[str, ...]
    scalars: frozenset[str]
    outputs: tuple[str, ...]  # single-assignment names of the returned values
    output_names: tuple[str, ...]  # the user's names for them
    tuple_output: bool
    indices: ex.Indices
    names: Names
    input_reads: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # plain ones
    placed_reads: dict[str, list[tuple[ast.Axis, ...]]] = field(default_factory=dict)
    _by_target: dict[str, Statement] = field(default_factory=dict, repr=False)

    def defining(self, name: str) -> Statement | None:
        if len(self._by_target) != len(self.statements):
            self._by_target = {statement.target: statement for statement in self.statements}
        return self._by_target.get(name)

    def depends_on(self, sources: Iterable[str]) -> set[str]:
        """The names whose values depend on `sources` (those included)."""
        active = set(sources)
        for statement in self.statements:
            read = self.reads(statement.value)
            if statement.previous is not None:
                read.add(statement.previous)
            if read & active:
                active.add(statement.target)
        return active

    def reads(self, value: ast.Expr) -> set[str]:
        """The tensors and scalars an expression reads."""
        found: set[str] = set()
        for node in ast.walk(value):
            if isinstance(node, ast.Access):
                found.add(node.tensor)
            elif (
                isinstance(node, ast.Name)
                and node.name not in self.indices.names
                and node.name not in ops.CONSTANTS
            ):
                found.add(node.name)
        return found


def prepare(tree: ast.Program, lowered: ir.Program) -> Program:
    """Spells every single-assignment name (`X` assigned twice becomes `X` and `X_2`), splits
    large statements, and records what differentiation needs."""
    meaning = resolve(tree)
    inputs = tuple(meaning.inputs)
    scalars = frozenset(spec.name for spec in meaning.inputs.values() if spec.scalar)
    index_names = set(meaning.indices)
    names = Names(set(inputs) | {s.target for s in tree.statements} | index_names)
    indices = ex.Indices(index_names)
    spelled: dict[str, str] = {}  # lowering's `X#2` -> the derivative program's `X_2`
    statements: list[Statement] = []
    reads = Reads({name: [] for name in inputs}, {name: [] for name in inputs})
    for resolved in meaning.statements:
        rest = sorted(index_names - set(resolved.order))  # for what derivatives add
        order = (*(i for i in resolved.order if i != ELLIPSIS), *rest)
        statement = _statement(resolved, spelled, index_names, names, statements, order)
        reads.record(statement)
        parts: list[Statement] = []
        value = _split(statement.value, order, indices, names, f"{resolved.target}_part", parts)
        statements += parts
        statements.append(replace(statement, value=value))
    returned = meaning.returned()
    return Program(
        statements=statements,
        inputs=inputs,
        scalars=scalars,
        outputs=tuple(spelled.get(name, name) for name in returned),
        output_names=tuple(ir.display_name(name) for name in returned),
        tuple_output=lowered.tuple_output,
        indices=indices,
        names=names,
        input_reads=reads.plain,
        placed_reads=reads.placed,
    )


def _statement(
    resolved: ResolvedStatement,
    spelled: dict[str, str],
    index_names: set[str],
    names: Names,
    earlier: list[Statement],
    order: tuple[str, ...],
) -> Statement:
    """One resolved statement in the derivative program's names. A plain `+=` into an earlier
    value becomes `=` of the sum; a write at positions keeps its axes (and what `+=` adds
    into), and its stored axes get plain labels."""
    value = rename_reads(resolved.value, spelled, index_names)
    accumulate = resolved.assign.accumulate
    previous = resolved.previous if accumulate else None
    previous = spelled.get(previous, previous) if previous is not None else None
    if resolved.name != resolved.target:
        spelled[resolved.name] = names.claim(resolved.target)
    target = spelled.get(resolved.name, resolved.name)
    summed = frozenset(resolved.summed)
    axes = resolved.axes
    if axes is not None and positions.has_positions(axes):
        axes = rename_target(axes, spelled, index_names)
        like = next((s.labels for s in earlier if s.target == previous), None)
        stored = positions.stored_labels(axes, names.claim, like)
        return Statement(target, stored, value, summed, order, axes, accumulate, previous)
    labels = None if axes is None else ex.labels_of(axes)
    if previous is not None:  # `T[i] += v`: `T_2[i] = T[i] + v`, v summed by the Einstein rule
        if ELLIPSIS in summed:
            raise TensorcError("cannot differentiate a `+=` that sums over '...'")
        added = ex.along("sum", ex.ordered(summed, order), value)
        earlier_value = ex.name(previous) if labels is None else ex.access(previous, labels)
        value, summed = ex.add([earlier_value, added]), frozenset()
    return Statement(target, labels, value, summed, order)


@dataclass
class Reads:
    """How the program reads each input: plainly (the axes' labels), or at positions."""

    plain: dict[str, list[tuple[str, ...]]]
    placed: dict[str, list[tuple[ast.Axis, ...]]]

    def record(self, statement: Statement) -> None:
        found = [node for node in ast.walk(statement.value) if isinstance(node, ast.Access)]
        found += ast.lookups(statement.placed or ())
        if statement.previous is not None and statement.placed is not None:
            found.append(ex.access(statement.previous, statement.axes))
        for node in found:
            if node.tensor not in self.plain:
                continue
            if positions.has_positions(node.axes):
                self.placed[node.tensor].append(node.axes)
            else:
                self.plain[node.tensor].append(ex.labels_of(node.axes))


def check_wrt(program: Program, wrt: str | Sequence[str]) -> tuple[str, ...]:
    """The names to differentiate with respect to, checked to be inputs."""
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    if not names:
        raise TensorcError("wrt names no input: pass an input name or a tuple of them")
    for name in names:
        if not isinstance(name, str) or name not in program.inputs:
            listed = ", ".join(program.inputs) or "none"
            raise TensorcError(
                f"cannot differentiate with respect to {name!r}: it is not an input of the "
                f"program (inputs: {listed})"
            )
    if len(set(names)) != len(names):
        raise TensorcError("wrt names an input twice")
    return names


SPLIT_SIZE = 40  # subexpressions larger than this get a statement of their own


def _split(
    value: ast.Expr,
    order: tuple[str, ...],
    indices: ex.Indices,
    names: Names,
    base: str,
    parts: list[Statement],
) -> ast.Expr:
    """Gives large subexpressions of a statement statements of their own, so that a rule that
    reads the value of a subexpression reads a name, not a copy of it: without this, the
    derivative of `tanh(tanh(...tanh(x)))` would grow with the square of its depth. Products
    (contractions) and comparisons stay whole."""
    sizes: dict[int, int] = {}

    def rebuild(node: ast.Expr, root: bool) -> ast.Expr:
        if isinstance(node, ast.Unary):
            node = ast.Unary(node.span, node.op, rebuild(node.operand, False))
        elif isinstance(node, ast.Binary):
            left, right = rebuild(node.left, False), rebuild(node.right, False)
            node = ast.Binary(node.span, node.op, left, right)
        elif isinstance(node, ast.Call):
            node = ast.Call(node.span, node.func, tuple(rebuild(a, False) for a in node.args))
        elif isinstance(node, ast.Along):
            node = ast.Along(node.span, node.func, node.indices, rebuild(node.operand, False))
        else:
            sizes[id(node)] = 1
            return node
        children = ast.children(node)
        size = 1 + sum(sizes[id(child)] for child in children)
        whole = (isinstance(node, ast.Binary) and node.op in ("*", "/")) or ex.is_boolean(node)
        if root or whole or size <= SPLIT_SIZE:
            sizes[id(node)] = size
            return node
        labels = ex.ordered(indices.free(node), order)
        target = names.claim(base)
        parts.append(Statement(target, labels, node, frozenset(), order))
        read = ex.access(target, labels) if labels else ex.name(target)
        sizes[id(read)] = 1
        return read

    return rebuild(value, True)
