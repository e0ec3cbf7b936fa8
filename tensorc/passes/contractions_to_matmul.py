"""Lowers every sum of products to matmuls: the recipe of opt_einsum and the frameworks' einsums.

For each pair of tensors: sum away indices only one of them has, classify the rest as batch,
left, right or contracted, permute and reshape each side to (batch, left, contracted) and
(batch, contracted, right), multiply, and reshape back. The operand whose free indices come
first in the output goes on the left, so the result rarely needs a final transpose.

No step builds an array larger than the factors, the result and the planned intermediates:
a product over a summed index is always a matmul, never a broadcast that is summed after.
"""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, composed, ellipsis_first
from tensorc.ir.shapes import Sizes


def contractions_to_matmul(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces each Contract by reductions, broadcasting products and MatMul nodes."""
    return ir.rewrite_program(program, _lower)


def _lower(node: ir.Node) -> ir.Node | None:
    if not isinstance(node, ir.Contract):
        return None
    tensors = [f for f in node.factors if f.indices]
    scalars = [f for f in node.factors if not f.indices]
    if not tensors:
        result: ir.Node = scalars[0]
        for scalar in scalars[1:]:
            result = ir.Map("mul", (result, scalar), ())
        return result
    acc = tensors[0]
    for position in range(1, len(tensors)):
        later = {label for f in tensors[position + 1 :] for label in f.indices}
        keep = set(node.labels) | later
        acc = _pair(acc, tensors[position], keep, node.labels)
    acc = _sum_except(acc, set(node.labels))
    acc = ir.permuted(acc, node.labels)
    if scalars:
        scale = scalars[0]
        for scalar in scalars[1:]:
            scale = ir.Map("mul", (scale, scalar), ())
        acc = ir.Map("mul", (acc, scale), acc.indices)
    return acc


def _pair(x: ir.Node, y: ir.Node, keep: set[str], output: tuple[str, ...]) -> ir.Node:
    """The contraction of two tensors, keeping the labels in `keep`."""
    x = _sum_except(x, keep | set(y.indices))
    y = _sum_except(y, keep | set(x.indices))
    shared = [label for label in x.indices if label in y.indices]
    contracted = [label for label in shared if label not in keep]
    order = _order(x, y, output)
    if not contracted:
        # A broadcasting product: nothing is summed (an outer or elementwise product), so it
        # is no larger than the result. (An operand that holds index values is contracted
        # too: it is materialised, and the backends give matmul operands one dtype as `*`
        # would; broadcasting it and summing would build the whole product.)
        labels = tuple(label for label in order if label in x.indices or label in y.indices)
        both = ir.Map(
            "mul", (ir.permuted(x, _sub(labels, x)), ir.permuted(y, _sub(labels, y))), labels
        )
        return _sum_except(both, keep)
    batch = [label for label in order if label in shared and label not in contracted]
    if ELLIPSIS in x.indices or ELLIPSIS in y.indices:
        batch = [ELLIPSIS, *(label for label in batch if label != ELLIPSIS)]
    free = [label for label in order if label not in batch and label not in contracted]
    left, right = x, y
    if free and free[0] in y.indices:
        left, right = y, x
    rows = [label for label in free if label in left.indices]
    cols = [label for label in free if label in right.indices]
    contracted = [label for label in left.indices if label in contracted]
    left_batch = [label for label in batch if label in left.indices]
    right_batch = [label for label in batch if label in right.indices]
    a = _merge(ir.permuted(left, (*left_batch, *rows, *contracted)), left_batch, [rows, contracted])
    b = _merge(
        ir.permuted(right, (*right_batch, *contracted, *cols)), right_batch, [contracted, cols]
    )
    product_labels = (*batch, *_group(rows), *_group(cols))
    result: ir.Node = ir.MatMul(a, b, product_labels, left_vector=not rows, right_vector=not cols)
    unmerged = (*batch, *rows, *cols)
    if unmerged != product_labels:
        result = ir.Reshape(result, unmerged)
    return result


def _order(x: ir.Node, y: ir.Node, output: tuple[str, ...]) -> list[str]:
    """The labels of both operands: the ellipsis, the output's order, then the rest."""
    present = set(x.indices) | set(y.indices)
    head = [label for label in output if label in present]
    return list(ellipsis_first((*head, *x.indices, *y.indices)))


def _group(labels: list[str]) -> list[str]:
    """The one axis a group of labels merges into; none for an empty group."""
    if not labels:
        return []
    return [labels[0]] if len(labels) == 1 else [composed(labels)]


def _merge(node: ir.Node, batch: list[str], groups: list[list[str]]) -> ir.Node:
    labels = (*batch, *(label for group in groups for label in _group(group)))
    return node if labels == node.indices else ir.Reshape(node, labels)


def _sum_except(node: ir.Node, keep: set[str]) -> ir.Node:
    kept = tuple(label for label in node.indices if label in keep or label == ELLIPSIS)
    return node if kept == node.indices else ir.Reduce("sum", node, kept)


def _sub(labels: tuple[str, ...], node: ir.Node) -> tuple[str, ...]:
    return tuple(label for label in labels if label in node.indices)
