"""Rewrites that keep results finite where the naive formula overflows."""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes


def stable_rewrites(program: ir.Program, sizes: Sizes) -> ir.Program:
    """`log(sum[j](exp(x)))` becomes `logsumexp[j](x)`, which subtracts the maximum first."""
    return ir.rewrite_program(program, _logsumexp)


def _logsumexp(node: ir.Node) -> ir.Node | None:
    if not (isinstance(node, ir.Map) and node.op == "log"):
        return None
    inner = node.args[0]
    if isinstance(inner, ir.Reduce) and inner.op == "sum":
        summed = inner.operand
        if isinstance(summed, ir.Map) and summed.op == "exp":
            return ir.Reduce("logsumexp", summed.args[0], inner.labels)
    return None
