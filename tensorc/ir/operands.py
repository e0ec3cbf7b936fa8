"""The operands of operations as lowering checks and converts them: arities, what a
reduction is along, and numbers and booleans where an operation needs one or the other."""

from __future__ import annotations

from tensorc import ops
from tensorc.errors import ProgramError, ShapeError
from tensorc.frontend import ast
from tensorc.ir import nodes as ir
from tensorc.ops import OPS, Value


def check_along(expr: ast.Along, operand: ir.Node, normaliser: bool) -> None:
    """ShapeError for a reduction or normaliser along an index its argument lacks, or a
    normaliser (or `argmax`, a position along one index) along more than one."""
    for axis in expr.indices:
        if axis.name not in operand.indices:
            raise ShapeError(
                f"{expr.func} is along '{axis.name}', which its argument does not use", axis.span
            )
    if normaliser and len(expr.indices) != 1:
        raise ShapeError(f"{expr.func} works along exactly one index", expr.span)


def operation(symbol: str, arity: int) -> ops.Op:
    op = ops.operator(symbol, arity)
    assert op is not None, f"the grammar made an operator {symbol!r} that the table lacks"
    return op


def as_operand(value: Value, node: ir.Node) -> ir.Node:
    """An argument as the operation takes it: a number, a boolean, or as it is."""
    if value is Value.NUMBER:
        return numeric(node)
    if value is Value.BOOLEAN:
        return condition(node)
    return node


def is_boolean(node: ir.Node) -> bool:
    return isinstance(node, ir.Map | ir.Reduce) and OPS[node.op].boolean


def numeric(node: ir.Node) -> ir.Node:
    """A comparison used as a number becomes 1 or 0: backends disagree on arithmetic with
    booleans (numpy refuses `-b`, and adds them as logical or)."""
    if is_boolean(node):
        return ir.Map("where", (node, ir.Const(1.0, "1"), ir.Const(0.0, "0")), node.indices)
    return node


def condition(node: ir.Node) -> ir.Node:
    """A `where` condition as a boolean: anything but a comparison is tested against zero."""
    if is_boolean(node):
        return node
    return ir.Map("ne", (node, ir.Const(0.0, "0")), node.indices)


def check_arity(expr: ast.Call, count: int) -> None:
    if len(expr.args) != count:
        plural = "s" if count != 1 else ""
        raise ProgramError(
            f"{expr.func} takes {count} argument{plural} but got {len(expr.args)}", expr.span
        )
