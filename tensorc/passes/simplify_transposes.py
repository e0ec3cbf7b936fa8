"""Drops permutes and reshapes that change nothing, and merges consecutive ones."""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes


def simplify_transposes(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Identity permutes and reshapes vanish; a permute of a permute, or a reshape of a
    reshape, becomes one."""
    return ir.rewrite_program(program, _simplify)


def _simplify(node: ir.Node) -> ir.Node | None:
    if isinstance(node, ir.Permute):
        inner = node.operand
        if isinstance(inner, ir.Permute):
            node = ir.Permute(inner.operand, tuple(inner.perm[k] for k in node.perm))
        if node.perm == tuple(range(len(node.perm))):
            return node.operand
        return node
    if isinstance(node, ir.Reshape):
        inner = node.operand
        while isinstance(inner, ir.Reshape):
            inner = inner.operand
        if inner.indices == node.labels:
            return inner
        return ir.Reshape(inner, node.labels) if inner is not node.operand else None
    return None
