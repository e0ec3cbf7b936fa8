"""Rewrites that keep results finite where the naive formula overflows."""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes


def stable_rewrites(program: ir.Program, sizes: Sizes) -> ir.Program:
    """`log(sum[j](exp(x)))` becomes `logsumexp[j](x)`, which subtracts the maximum first;
    `exp(x - logsumexp[j](x))` (the derivative of a logsumexp) becomes `softmax[j](x)`."""
    return ir.rewrite_program(program, lambda node: _logsumexp(node) or _softmax(node))


def _softmax(node: ir.Node) -> ir.Node | None:
    """`exp(x - logsumexp[j](x))` as `softmax[j](x)`, or None."""
    if not (isinstance(node, ir.Map) and node.op == "exp"):
        return None
    inner = node.args[0]
    if not (isinstance(inner, ir.Map) and inner.op == "sub"):
        return None
    x, total = inner.args
    if not (isinstance(total, ir.Reduce) and total.op == "logsumexp" and total.operand == x):
        return None
    if len(total.reduced) != 1 or x.indices != node.labels:
        return None
    return ir.Along("softmax", x, total.reduced[0])


def _logsumexp(node: ir.Node) -> ir.Node | None:
    if not (isinstance(node, ir.Map) and node.op == "log"):
        return None
    inner = node.args[0]
    if isinstance(inner, ir.Reduce) and inner.op == "sum":
        summed = inner.operand
        if isinstance(summed, ir.Map) and summed.op == "exp":
            return ir.Reduce("logsumexp", summed.args[0], inner.labels)
    return None
