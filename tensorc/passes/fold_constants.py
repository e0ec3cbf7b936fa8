"""Evaluates elementwise operations whose arguments are all constants, at compile time."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes

_FOLDABLE: dict[str, Callable[..., float]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "neg": operator.neg,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
}


def fold_constants(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces `Map(op, Const...)` by its value where the arithmetic is exact and defined."""
    return ir.rewrite_program(program, _fold)


def _fold(node: ir.Node) -> ir.Node | None:
    if not isinstance(node, ir.Map) or node.op not in _FOLDABLE:
        return None
    if not all(isinstance(arg, ir.Const) for arg in node.args):
        return None
    values = [arg.value for arg in node.args]  # type: ignore[attr-defined]
    try:
        value = float(_FOLDABLE[node.op](*values))
    except (ArithmeticError, ValueError):
        return None  # leave 1/0 and log(-1) to the backend, which knows its own rules
    return ir.Const(value, const_text(value))


def const_text(value: float) -> str:
    """How a constant prints: integers without a point, infinities and pi by name."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == math.pi:
        return "pi"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
