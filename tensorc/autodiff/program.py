"""The program being differentiated, read once: statements in single-assignment form, inputs,
outputs, which values depend on the inputs differentiated, and a supply of fresh names.

Everything here mirrors how `tensorc.ir.lower` reads a program (the Einstein rule, which bare
names are indices, inputs in order of first appearance), on the AST, so that the derivative
can be written back as program text.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tensorc import ops
from tensorc.autodiff import expr as ex
from tensorc.errors import TensorcError
from tensorc.frontend import ast
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import ELLIPSIS


@dataclass(frozen=True)
class Statement:
    """One statement, its target and reads renamed so that every name is assigned once."""

    target: str
    labels: tuple[str, ...] | None  # the target's axes as written; None for `s = ...`
    value: ast.Expr
    summed: frozenset[str]  # indices the Einstein rule sums over the whole right-hand side
    order: tuple[str, ...]  # the statement's indices: the target's, then the others

    @property
    def axes(self) -> tuple[str, ...]:
        return self.labels or ()

    @property
    def indices(self) -> frozenset[str]:
        return frozenset(ex.expanded(self.axes))

    def read(self) -> ast.Expr:
        """The target as an expression (a bare name for a scalar target)."""
        if self.labels is None:
            return ex.name(self.target)
        return ex.access(self.target, self.labels)


class Names:
    """Fresh names for tensors and indices, never equal to a name the program uses."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(taken) | ops.WORDS | ex.CONSTANTS
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
    input_reads: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    _by_target: dict[str, Statement] = field(default_factory=dict, repr=False)

    def defining(self, name: str) -> Statement | None:
        if len(self._by_target) != len(self.statements):
            self._by_target = {statement.target: statement for statement in self.statements}
        return self._by_target.get(name)

    def depends_on(self, sources: Iterable[str]) -> set[str]:
        """The names whose values depend on `sources` (those included)."""
        active = set(sources)
        for statement in self.statements:
            if self.reads(statement.value) & active:
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
                and node.name not in ex.CONSTANTS
            ):
                found.add(node.name)
        return found


def prepare(tree: ast.Program, lowered: ir.Program) -> Program:
    """Renames reassigned names (`X` assigned twice becomes `X` and `X_2`), so that every
    name has one value, and records what differentiation needs."""
    index_names = _collect_indices(tree)
    inputs = tuple(spec.name for spec in lowered.inputs)
    scalars = frozenset(spec.name for spec in lowered.inputs if spec.is_scalar)
    user_names = set(inputs) | {s.target for s in tree.statements} | index_names
    names = Names(user_names)
    indices = ex.Indices(index_names)
    current = {name: name for name in inputs}
    statements: list[Statement] = []
    input_reads: dict[str, list[tuple[str, ...]]] = {name: [] for name in inputs}
    for statement in tree.statements:
        value = _rename_reads(statement.value, current, index_names)
        for node in _accesses(value):
            if node.tensor in input_reads and current.get(node.tensor) == node.tensor:
                input_reads[node.tensor].append(ex.labels_of(node.axes))
        target = statement.target
        if target in current:
            target = names.claim(target)
        labels = None if statement.axes is None else ex.labels_of(statement.axes)
        order = _statement_order(tuple(ex.expanded(labels or ())), value, index_names)
        parts: list[Statement] = []
        value = _split(value, order, indices, names, f"{statement.target}_part", parts)
        statements += parts
        current[statement.target] = target
        written = set(ex.expanded(labels or ()))
        free = indices.free(value)
        extra = free - written
        summed = frozenset(extra) if extra and ex.is_product(value) else frozenset()
        statements.append(Statement(target, labels, value, summed, order))
    if tree.returns is None:
        output_names: tuple[str, ...] = (tree.statements[-1].target,)
    else:
        output_names = tuple(n.name for n in tree.returns.names)
    outputs = tuple(current[n] for n in output_names)
    return Program(
        statements=statements,
        inputs=inputs,
        scalars=scalars,
        outputs=outputs,
        output_names=output_names,
        tuple_output=lowered.tuple_output,
        indices=indices,
        names=names,
        input_reads=input_reads,
    )


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


def _collect_indices(program: ast.Program) -> set[str]:
    """Every name used as an index: between brackets, or as a reduction's index."""
    found: set[str] = set()
    for statement in program.statements:
        found.update(ex.expanded(ex.labels_of(statement.axes or ())))
        stack: list[ast.Expr] = [statement.value]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Access):
                found.update(ex.expanded(ex.labels_of(node.axes)))
            elif isinstance(node, ast.Along):
                found.update(axis.name for axis in node.indices)
                stack.append(node.operand)
            elif isinstance(node, ast.Unary):
                stack.append(node.operand)
            elif isinstance(node, ast.Binary):
                stack.extend((node.left, node.right))
            elif isinstance(node, ast.Call):
                stack.extend(node.args)
    found.discard(ELLIPSIS)
    return found


def _rename_reads(value: ast.Expr, current: dict[str, str], index_names: set[str]) -> ast.Expr:
    if isinstance(value, ast.Access):
        return ast.Access(value.span, current.get(value.tensor, value.tensor), value.axes)
    if isinstance(value, ast.Name):
        if value.name in index_names or value.name not in current:
            return value
        return ast.Name(value.span, current[value.name])
    if isinstance(value, ast.Number):
        return value
    if isinstance(value, ast.Unary):
        return ast.Unary(value.span, value.op, _rename_reads(value.operand, current, index_names))
    if isinstance(value, ast.Binary):
        left = _rename_reads(value.left, current, index_names)
        right = _rename_reads(value.right, current, index_names)
        return ast.Binary(value.span, value.op, left, right)
    if isinstance(value, ast.Call):
        args = tuple(_rename_reads(arg, current, index_names) for arg in value.args)
        return ast.Call(value.span, value.func, args)
    operand = _rename_reads(value.operand, current, index_names)
    return ast.Along(value.span, value.func, value.indices, operand)


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


def _accesses(value: ast.Expr) -> list[ast.Access]:
    """Tensor accesses in order of appearance."""
    found: list[ast.Access] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Access):
            found.append(node)
        elif isinstance(node, ast.Unary | ast.Along):
            stack.append(node.operand)
        elif isinstance(node, ast.Binary):
            stack.extend((node.right, node.left))
        elif isinstance(node, ast.Call):
            stack.extend(reversed(node.args))
    return found


def _statement_order(
    target: tuple[str, ...], value: ast.Expr, index_names: set[str]
) -> tuple[str, ...]:
    seen = dict.fromkeys(target)
    for node in _accesses(value):
        seen.update(dict.fromkeys(ex.expanded(ex.labels_of(node.axes))))
    seen.pop(ELLIPSIS, None)
    rest = sorted(index_names - set(seen))
    return (*seen, *rest)
