"""Evaluates elementwise operations whose arguments are all constants, at compile time."""

from __future__ import annotations

import math

import numpy as np

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes
from tensorc.ops import OPS


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
    fold = OPS[node.op].fold
    if fold is None or not all(isinstance(arg, ir.Const) for arg in node.args):
        return None
    values = [np.float64(arg.value) for arg in node.args]  # type: ignore[attr-defined]
    with np.errstate(all="ignore"):  # float64 as the backends compute: 1/0 is inf, log(-1) nan
        value = float(fold(*values))
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
