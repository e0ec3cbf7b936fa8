"""Evaluates elementwise operations whose arguments are all constants, at compile time."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes

# float64 arithmetic as the backends do it: 1/0 is inf and log(-1) is nan, never an exception.
_FOLDABLE: dict[str, Callable[..., object]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": np.power,
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
}


def fold_constants(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces `Map(op, Const...)` by its value, and `where` with a constant condition by the
    branch it selects."""
    return ir.rewrite_program(program, _fold)


def _fold(node: ir.Node) -> ir.Node | None:
    if not isinstance(node, ir.Map):
        return None
    if node.op == "where" and isinstance(node.args[0], ir.Const):
        chosen = node.args[1] if node.args[0].value else node.args[2]
        if chosen.indices == node.labels:
            return chosen
        return ir.Expand(chosen, node.labels) if chosen.indices else None
    if node.op not in _FOLDABLE or not all(isinstance(arg, ir.Const) for arg in node.args):
        return None
    values = [np.float64(arg.value) for arg in node.args]  # type: ignore[attr-defined]
    with np.errstate(all="ignore"):
        value = float(_FOLDABLE[node.op](*values))  # type: ignore[arg-type]
    return ir.Const(value, const_text(value))


def const_text(value: float) -> str:
    """How a constant prints: integers without a point; infinities, nan and pi by name."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == math.pi:
        return "pi"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
