"""Rewrites the one-hot idiom into the gather it means.

`E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d]` (or `(tok[i] == v) * W[v, d]`) sums over
`v` a product with a one-hot matrix: as written it builds an (I, V) matrix and multiplies it
with the whole table, where reading the rows `tok[i]` of `W` is all it takes. The rewrite
reads `W[pad(tok[i]), d]`: rows at the positions `tok` holds, and zeros where a position is
no row of `W` (or not a whole number), exactly what the one-hot product gives, on NumPy and
PyTorch. JAX reads such positions as its gathers do, clamped: zeroing them would take a pass
over the result that costs several times the gather on CPU. (The gather reads only the rows
it needs, so an `inf` or `nan` elsewhere in `W` no longer spreads NaN into `E`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS
from tensorc.ir.shapes import Sizes


def one_hot_to_gather(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces each sum of a one-hot product by a gather of the rows it selects."""
    return ir.rewrite_program(program, _rewrite)


@dataclass(frozen=True)
class _OneHot:
    """A factor `where(lookup == index, 1, 0)`: 1 where `index` equals `lookup`'s value."""

    factor: ir.Node
    lookup: ir.Node
    index: str


def _rewrite(node: ir.Node) -> ir.Node | None:
    if not isinstance(node, ir.Contract):
        return None
    for one_hot in filter(None, map(_one_hot, node.factors)):
        if one_hot.index in node.labels:
            continue  # not summed: the one-hot matrix is part of the result
        rest = [factor for factor in node.factors if factor is not one_hot.factor]
        using = [factor for factor in rest if one_hot.index in factor.indices]
        if len(using) != 1:
            continue
        gathered = _gather(using[0], one_hot)
        if gathered is None:
            continue
        factors = tuple(gathered if factor is using[0] else factor for factor in rest)
        if len(factors) == 1 and set(gathered.indices) == set(node.labels):
            return ir.permuted(gathered, node.labels)
        return ir.Contract(factors, node.labels)
    return None


def _one_hot(factor: ir.Node) -> _OneHot | None:
    """The factor as a one-hot, if it is one: `where(a == b, 1, 0)` with `a` or `b` an index
    value that the other does not use."""
    if not (isinstance(factor, ir.Map) and factor.op == "where"):
        return None
    test, yes, no = factor.args
    if not (_number(yes, 1) and _number(no, 0)):
        return None
    if not (isinstance(test, ir.Map) and test.op == "eq"):
        return None
    for index, lookup in (test.args, test.args[::-1]):
        plain = ELLIPSIS not in lookup.indices
        if isinstance(index, ir.IndexValue) and index.index not in lookup.indices and plain:
            return _OneHot(factor, lookup, index.index)
    return None


def _number(node: ir.Node, value: float) -> bool:
    return isinstance(node, ir.Const) and node.value == value


def _gather(table: ir.Node, one_hot: _OneHot) -> ir.Gather | None:
    """`table` read at the one-hot's positions along its axis `index`, zeros outside; None
    where the other axes are not distinct labels apart from the lookup's."""
    while isinstance(table, ir.Permute):
        table = table.operand
    labels = table.indices
    others = [label for label in labels if label != one_hot.index]
    if len(others) + 1 != len(labels) or len(set(others)) != len(others):
        return None
    if ELLIPSIS in labels or set(others) & set(one_hot.lookup.indices):
        return None
    position = ir.Position((), 0, one_hot.lookup, boundary="pad")
    places = tuple(position if label == one_hot.index else label for label in labels)
    return ir.Gather(table, places, ir.placed_indices(places))
