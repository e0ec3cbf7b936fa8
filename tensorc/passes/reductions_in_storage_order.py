"""Elementwise work under a reduction runs in the order its arrays are stored.

A reduction does not care in which order its operand's axes come, but lowering writes the
operand in the target's order, the reduced indices last: `dg[f] = sum[b](dY[b, f] * (X[b, f]
- m[b]))` became `sum(dY.T * (X.T - m), axis=1)`, every operand read transposed. That costs a
strided pass on NumPy and PyTorch and 30x on XLA's CPU backend. In the stored order it is
`sum(dY * (X - m[:, None]), axis=0)`, and `X - m[:, None]` is the value the forward pass
computed, which common-subexpression elimination (after this pass) then shares.
"""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS
from tensorc.ir.shapes import Sizes


def reductions_in_storage_order(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Rewrites the elementwise operand of each reduction in the axis order of its first
    array read that has all of the operand's axes (the reduced result, which is smaller, is
    transposed instead where its axes then come in another order)."""
    return ir.rewrite_program(program, _reorder)


def _reorder(node: ir.Node) -> ir.Node | None:
    if not (isinstance(node, ir.Reduce) and isinstance(node.operand, ir.Map)):
        return None
    operand = node.operand
    labels = operand.indices
    if ELLIPSIS in labels or not all(_distinct(n) for n in ir.walk(operand)):
        return None
    order = _stored_order(operand)
    if order is None or order == labels:
        return None
    kept = tuple(label for label in order if label in node.labels)
    return ir.permuted(ir.Reduce(node.op, _in_order(operand, order), kept), node.labels)


def _stored_order(root: ir.Map) -> tuple[str, ...] | None:
    """The stored axis order of the first array (read through transposes) in the
    elementwise tree that has every axis of `root`."""
    wanted = set(root.indices)
    stack: list[ir.Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.Map):
            stack.extend(reversed(node.args))
            continue
        bare = node.operand if isinstance(node, ir.Permute) else node
        if set(bare.indices) == wanted and len(bare.indices) == len(wanted):
            return bare.indices
    return None


def _in_order(node: ir.Node, order: tuple[str, ...]) -> ir.Node:
    """`node` with its axes in `order` (restricted to its labels): elementwise operations
    rebuilt in that order, transposes of arrays taken off where they are no longer needed."""
    wanted = tuple(label for label in order if label in node.indices)
    if node.indices == wanted:
        return node  # (kept as it is: the same node may be shared)
    if isinstance(node, ir.Map):
        return ir.Map(node.op, tuple(_in_order(arg, wanted) for arg in node.args), wanted)
    if isinstance(node, ir.Permute):
        return ir.permuted(node.operand, wanted)
    return ir.permuted(node, wanted)


def _distinct(node: ir.Node) -> bool:
    return len(set(node.indices)) == len(node.indices)
