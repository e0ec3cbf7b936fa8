"""Recognises cross-entropy, `logsumexp[c](Z[n, c]) - Z[n, y[n]]` (and its mean over the
rows), and makes it one CrossEntropy node.

PyTorch runs the node as `cross_entropy`, which measured faster on CPU than its own
`logsumexp` and `gather`; the other backends write the formula (logsumexp subtracts the
maximum first, so it is stable for any logits).
"""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS
from tensorc.ir.shapes import Sizes


def fuse_cross_entropy(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces each cross-entropy-shaped difference (or its mean) by a CrossEntropy node."""
    return ir.rewrite_program(program, _fuse)


def _fuse(node: ir.Node) -> ir.Node | None:
    if isinstance(node, ir.Reduce) and node.op == "mean" and not node.labels:
        inner = node.operand
        if isinstance(inner, ir.CrossEntropy) and not inner.mean:
            return ir.CrossEntropy(inner.logits, inner.target, inner.classes, True, ())
        return None
    if not (isinstance(node, ir.Map) and node.op == "sub"):
        return None
    total, picked = node.args
    if not (isinstance(total, ir.Reduce) and total.op == "logsumexp"):
        return None
    if len(total.reduced) != 1 or not isinstance(picked, ir.Gather):
        return None
    logits, (classes,) = total.operand, total.reduced
    while isinstance(logits, ir.Permute):  # the order in which the statement wrote them
        logits = logits.operand
    target = _target(picked, logits, classes)
    if target is None or set(target.indices) != set(total.labels):
        return None
    return ir.CrossEntropy(logits, target, classes, False, node.labels)


def _target(picked: ir.Gather, logits: ir.Node, classes: str) -> ir.Node | None:
    """The class positions of a read of `logits` at one looked-up position along `classes`
    and at its own labels along every other axis: `Z[n, y[n]]` for `Z[n, c]`."""
    if not (isinstance(logits, ir.Var) and isinstance(picked.operand, ir.Var)):
        return None
    if ELLIPSIS in logits.labels:
        return None
    if picked.operand.name != logits.name or len(picked.places) != len(logits.labels):
        return None
    target = None
    for place, label in zip(picked.places, logits.labels, strict=True):
        if label == classes:
            if not isinstance(place, ir.Position) or place.lookup is None:
                return None
            if place.terms or place.offset or place.boundary != "error":
                return None
            target = place.lookup
        elif place != label:
            return None
    return target
