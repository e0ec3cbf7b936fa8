"""AST to IR: builds each statement's value, applies the Einstein rule, and puts every value's
axes in one order. What names mean (indices, inputs, single assignment) comes from
`tensorc.frontend.resolve`.

Within a statement every node's labels follow the statement's order: the ellipsis first, then
the target's indices, then the other indices in order of first appearance. So elementwise
operands line up by inserting axes, and only reads and the final store need a permute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tensorc import ops
from tensorc.errors import ProgramError, ShapeError, Span, TensorcError, warn
from tensorc.frontend import ast
from tensorc.frontend.resolve import (
    Resolution,
    Statement,
    indices_in,
    indices_of,
    is_product,
    label_of,
    lonely_sums,
    resolve,
)
from tensorc.ir import nodes as ir
from tensorc.ir import places
from tensorc.ir.labels import ELLIPSIS, in_order, permutation
from tensorc.ir.operands import (
    as_operand,
    check_along,
    check_arity,
    numeric,
    operation,
)
from tensorc.ops import Kind


def lower_program(program: ast.Program, lint: bool = True) -> ir.Program:
    """The IR of a parsed program; errors carry the program's source. With `lint`, warns
    (TensorcWarning) where the Einstein rule sums an index that looks like a typo for another."""
    meaning = resolve(program)
    try:
        lowered = _Lowering(meaning).run()
    except TensorcError as error:
        raise error.with_source(program.source) from None
    for statement, index, similar in lonely_sums(meaning) if lint else ():
        span = _find_index_span(statement.assign.value, index) or statement.assign.span
        warn(
            f"index '{index}' appears only once in this statement, so it is summed on its own, "
            f"while the program also has the similar index '{similar}': a typo? (to sum it "
            f"on purpose, write sum[{index}](...))",
            span,
            program.source,
        )
    return lowered


@dataclass
class _Lowering:
    meaning: Resolution
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # stored axes, by IR name
    order: tuple[str, ...] = ()  # the indices of the statement being lowered

    def run(self) -> ir.Program:
        lets = [self._statement(statement) for statement in self.meaning.statements]
        outputs = self.meaning.returned()
        inputs = tuple(ir.Input(i.name, i.scalar, i.span) for i in self.meaning.inputs.values())
        return ir.Program(
            inputs=inputs,
            lets=tuple(lets),
            outputs=outputs,
            size_params=(),
            source=self.meaning.program.source,
            tuple_output=len(outputs) > 1,
        )

    def _rank(self, name: str, labels: tuple[str, ...], span: Span) -> None:
        check_rank(name, labels, span, self.targets.get(name), self.meaning.inputs.get(name))

    # --- statements -------------------------------------------------------------------------

    def _statement(self, resolved: Statement) -> ir.Let:
        statement = resolved.assign
        _check_target(resolved, self.meaning.indices)
        target_axes = resolved.axes or ()
        self.order = resolved.order
        wanted = in_order(indices_of(target_axes), self.order)
        value = self._einstein(resolved.value, wanted)
        if places.has_positions(target_axes):
            value = places.write(resolved, value, wanted, self._expr, self._rank)
        else:
            if statement.accumulate and resolved.previous is not None:
                earlier = self._access(ast.Access(statement.span, resolved.previous, target_axes))
                value = ir.Map("add", (earlier, value), _union((earlier, value), self.order))
            value = _store(value, target_axes, statement, self.order)
        self.targets[resolved.name] = value.indices
        return ir.Let(resolved.name, value, statement.text, statement.span)

    def _einstein(self, expr: ast.Expr, wanted: tuple[str, ...]) -> ir.Node:
        """Lowers a right-hand side, summing the indices the target lacks where it is a product."""
        if ELLIPSIS not in wanted and ELLIPSIS in indices_in(expr):
            raise ShapeError("the right-hand side uses '...' but the left does not", expr.span)
        product = self._product(expr, wanted)
        if product is not None:
            return product
        value = self._expr(expr)
        extra = [i for i in value.indices if i not in wanted]
        if extra:
            index = extra[0]
            raise ShapeError(
                f"index '{index}' is not on the left-hand side and must be reduced: "
                f"write sum[{index}](...)",
                _find_index_span(expr, index) or expr.span,
            )
        return value

    # --- expressions ------------------------------------------------------------------------

    def _expr(self, expr: ast.Expr) -> ir.Node:
        if isinstance(expr, ast.Number):
            return ir.Const(float(expr.value), repr(expr.value))
        if isinstance(expr, ast.Name):
            return self._name(expr)
        if isinstance(expr, ast.Access):
            return self._access(expr)
        if isinstance(expr, ast.Unary):
            return self._map(operation(expr.op, 1), (expr.operand,))
        if isinstance(expr, ast.Binary):
            if expr.op in ("*", "/"):
                product = self._product(expr, None)
                if product is not None:
                    return product
            return self._map(operation(expr.op, 2), (expr.left, expr.right))
        if isinstance(expr, ast.Call):
            return self._call(expr)
        return self._along(expr)

    def _name(self, expr: ast.Name) -> ir.Node:
        name = expr.name
        if name in self.meaning.indices:
            if name not in self.order:
                raise ShapeError(f"index '{name}' is not used by this statement", expr.span)
            return ir.IndexValue(name)
        if name in self.targets:
            if self.targets[name]:
                shown, rank = ir.display_name(name), len(self.targets[name])
                raise ShapeError(f"'{shown}' has {rank} axes: write {shown}[...]", expr.span)
            return ir.Var(name, (), expr.span)
        if name in ops.CONSTANTS:
            return ir.Const(ops.CONSTANTS[name], name)
        self.meaning.inputs[name].check_read(True, 0, False, expr.span)
        return ir.Var(name, (), expr.span)

    def _access(self, expr: ast.Access) -> ir.Node:
        name = expr.tensor
        if name in self.meaning.indices:
            raise both_ways(name, expr.span, self.meaning.indices[name])
        if name in ops.CONSTANTS:
            raise ProgramError(f"'{name}' is a constant, not a tensor", expr.span)
        labels = tuple(_axis_label(axis) for axis in expr.axes)
        if labels.count(ELLIPSIS) > 1:
            raise ShapeError("'...' may appear only once", expr.span)
        self._rank(name, labels, expr.span)
        if places.has_positions(expr.axes):
            stored = places.stored_labels(name, expr.axes)
            return places.gather(expr, ir.Var(name, stored, expr.span), self._expr, self.order)
        node: ir.Node = ir.Var(name, labels, expr.span)
        expanded = indices_of(expr.axes)
        if labels != expanded:
            node = ir.Reshape(node, expanded)
        node = _take_diagonals(node)
        return _permute_to(node, self.order)

    def _map(self, op: ops.Op, operands: tuple[ast.Expr, ...]) -> ir.Node:
        args = tuple(
            as_operand(value, self._expr(operand))
            for value, operand in zip(op.operands, operands, strict=True)
        )
        labels = _union(args, self.order)
        return ir.Map(op.name, args, labels)

    def _call(self, expr: ast.Call) -> ir.Node:
        func = expr.func
        op = ops.function(func)
        if op is not None:
            check_arity(expr, op.arity)
            return self._map(op, expr.args)
        if ops.along(func) is not None:
            raise ProgramError(
                f"{func} needs the index to work along: write {func}[i](...)", expr.span
            )
        raise ProgramError(f"unknown function '{func}'", expr.span)

    def _along(self, expr: ast.Along) -> ir.Node:
        func = expr.func
        names = tuple(axis.name for axis in expr.indices)
        op = ops.along(func)
        if op is None:
            raise ProgramError(f"unknown reduction '{func}'", expr.span)
        if len(set(names)) != len(names):
            raise ShapeError(f"{func}[...] names an index twice", expr.span)
        operand = as_operand(op.operands[0], self._expr(expr.operand))
        check_along(expr, operand, op.kind is Kind.NORMALISER or op.positional)
        if op.kind is Kind.NORMALISER:
            return ir.Along(op.name, operand, names[0])
        kept = tuple(i for i in operand.indices if i not in names)
        if func == "sum":
            product = self._product(expr.operand, kept, explicit=True)
            if product is not None:
                return product
        return ir.Reduce(op.name, operand, kept)

    def _product(
        self, expr: ast.Expr, wanted: tuple[str, ...] | None, explicit: bool = False
    ) -> ir.Node | None:
        """A product of factors as one Contract summing what `wanted` lacks; None if not a product.

        Scalar divisors join the product as reciprocals; an indexed divisor divides the result,
        so it may not use a summed index: an error under the Einstein rule, and under an
        explicit `sum[...]` a plain sum of the quotient instead.
        """
        if not is_product(expr):
            return None
        factors, divisors, negate = ast.flatten_product(expr)
        lowered = tuple(numeric(self._expr(factor)) for factor in factors)
        quotients = [(numeric(self._expr(divisor)), divisor) for divisor in divisors]
        every = _union(lowered + tuple(node for node, _ in quotients), self.order)
        keep = every if wanted is None else tuple(i for i in every if i in wanted)
        summed = set(every) - set(keep)
        for node, divisor in quotients:
            for index in node.indices:
                if index in summed:
                    if explicit:
                        return None
                    raise ShapeError(
                        f"index '{index}' is summed but also used in a divisor; "
                        f"write sum[{index}](...) around the whole quotient",
                        divisor.span,
                    )
        kept = tuple(i for i in _union(lowered, self.order) if i in keep)
        result: ir.Node = ir.Contract(lowered, kept)
        if len(lowered) == 1 and kept == lowered[0].indices:
            result = lowered[0]
        for node, _ in quotients:
            result = ir.Map("div", (result, node), _union((result, node), self.order))
        if negate:
            result = ir.Map("neg", (result,), result.indices)
        return result


# --- helpers --------------------------------------------------------------------------------


def _store(
    value: ir.Node, target_axes: tuple[ast.Axis, ...], stmt: ast.Assign, order: tuple[str, ...]
) -> ir.Node:
    """Broadcasts, merges composed axes and orders a statement's value as its target is
    written (`order`: the statement's indices)."""
    expanded = indices_of(target_axes)
    canonical = in_order(expanded, order)
    if value.indices != canonical:
        if ELLIPSIS in canonical and ELLIPSIS not in value.indices:
            raise ShapeError("the left-hand side has '...' but the right does not", stmt.span)
        value = ir.Expand(value, canonical)
    if expanded != canonical:
        value = ir.Permute(value, permutation(canonical, expanded))
    labels = tuple(_axis_label(axis) for axis in target_axes)
    if labels != expanded:
        value = ir.Reshape(value, labels)
    return value


def _check_target(resolved: Statement, index_names: Mapping[str, Span]) -> None:
    """ProgramError or ShapeError for a target that cannot be assigned as written."""
    statement, name = resolved.assign, resolved.target
    if name in index_names:
        raise both_ways(name, statement.span, index_names[name])
    if name in ops.CONSTANTS:
        raise ProgramError(f"'{name}' is a constant and cannot be assigned", statement.span)
    target_indices = indices_of(resolved.axes or ())
    positioned = places.has_positions(resolved.axes)
    if len(set(target_indices)) != len(target_indices) and not positioned:
        raise ShapeError(f"an index appears twice on the left of '{name}'", statement.span)
    if target_indices.count(ELLIPSIS) > 1 or (positioned and ELLIPSIS in target_indices):
        what = "may appear only once" if not positioned else "cannot stand beside positions"
        raise ShapeError(f"'...' {what}", statement.span)


def check_rank(
    name: str, labels: tuple[str, ...], span: Span, stored: tuple[str, ...] | None, given: Any
) -> None:
    """ShapeError where a tensor is read with a rank other than its earlier reads' (`given`,
    an input) or its assignment's (`stored`, its labels)."""
    if stored is None:
        given.check_read(False, len(labels), ELLIPSIS in labels, span)
    elif ELLIPSIS not in stored and ELLIPSIS not in labels and len(labels) != len(stored):
        raise ShapeError(
            f"{ir.display_name(name)} has {len(stored)} axes but is indexed with {len(labels)}",
            span,
        )


def both_ways(name: str, span: Span, index_span: Span) -> ProgramError:
    """The error for a name used as a tensor at `span` and as an index at `index_span`: it
    points at whichever use comes later in the program."""
    later = max(span, index_span, key=lambda s: (s.line, s.column))
    return ProgramError(f"'{name}' is used both as an index and as a tensor", later)


def _axis_label(axis: ast.Axis) -> str:
    """The label of an axis as written; a composed axis may not name an index twice."""
    if isinstance(axis, ast.ComposedAxis) and len(set(axis.names)) != len(axis.names):
        raise ShapeError("a composed axis names an index twice", axis.span)
    return label_of(axis)


def _union(nodes: tuple[ir.Node, ...], order: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of all `nodes`, in the statement's order."""
    return in_order((label for node in nodes for label in node.indices), order)


def _take_diagonals(node: ir.Node) -> ir.Node:
    """Takes one diagonal per repeated label until the labels are distinct."""
    while True:
        labels = node.indices
        repeated = next((i for i, label in enumerate(labels) if label in labels[:i]), None)
        if repeated is None:
            return node
        node = ir.Diagonal(node, labels.index(labels[repeated]), repeated)


def _permute_to(node: ir.Node, order: tuple[str, ...]) -> ir.Node:
    return ir.permuted(node, in_order(node.indices, order))


def _find_index_span(expr: ast.Expr, index: str) -> Span | None:
    for node in ast.walk(expr):
        if isinstance(node, ast.Access):
            for axis in node.axes:
                if isinstance(axis, ast.IndexAxis) and axis.name == index:
                    return axis.span
                if isinstance(axis, ast.ComposedAxis) and index in axis.names:
                    return axis.span
    return None
