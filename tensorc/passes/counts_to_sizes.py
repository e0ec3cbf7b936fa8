"""Counts of elements become sizes: `sum[j](x ** 0)`, how derivative programs write the number
of elements a `mean` (or `var`, `std`) reduced, is the size of `j`, known when the call is
planned; nothing is computed to count it, and `x` need not be computed at all."""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.labels import parts
from tensorc.ir.shapes import Sizes
from tensorc.ir.sources import size_sources
from tensorc.passes.drop_dead_statements import drop_dead_statements


def counts_to_sizes(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces each count by `ir.Size`: a count of all the elements (a number), or one that
    an operation broadcasts against its other operands (an argument of an elementwise
    operation or a factor of a product, which have all the count's axes).

    Generated code for unknown sizes reads a size off an input's shape: a count along an
    axis that no input read would still give is left as it is."""
    counted = ir.rewrite_program(program, _fold)
    unchanged = all(a.value is b.value for a, b in zip(counted.lets, program.lets, strict=True))
    return counted if not unchanged and _sized(counted, sizes) else program


def _fold(node: ir.Node) -> ir.Node | None:
    if isinstance(node, ir.Reduce) and not node.labels:
        return _count(node)  # a number wherever it is
    if isinstance(node, ir.Map):
        args = _replaced(node.args, node.labels)
        return None if args is None else ir.Map(node.op, args, node.labels)
    if isinstance(node, ir.Contract):
        factors = _replaced(node.factors, node.labels)
        return None if factors is None else ir.Contract(factors, node.labels, node.path)
    return None


def _replaced(operands: tuple[ir.Node, ...], labels: tuple[str, ...]) -> tuple[ir.Node, ...] | None:
    """The operands with their counts as sizes, where the other operands have every label
    the count has and the result has (so that nothing is broadcast differently)."""
    out = list(operands)
    for k, operand in enumerate(operands):
        size = _count(operand)
        others = {label for j, o in enumerate(out) if j != k for label in o.indices}
        if size is not None and set(operand.indices) | set(labels) <= others:
            out[k] = size
    return tuple(out) if out != list(operands) else None


def _count(node: ir.Node) -> ir.Size | None:
    """`sum[j](x ** 0)` as the size of `j`; None for anything else."""
    if not (isinstance(node, ir.Reduce) and node.op == "sum" and node.reduced):
        return None
    ones = node.operand
    if isinstance(ones, ir.Map) and ones.op == "pow" and ones.args[1] == ir.Const(0.0, "0"):
        return ir.Size(node.reduced)
    return None


def _sized(program: ir.Program, sizes: Sizes) -> bool:
    """Whether every size that the program's counts became is known or read off an input
    shape by the statements that remain."""
    needed = {
        part
        for let in program.lets
        for node in ir.walk(let.value)
        if isinstance(node, ir.Size)
        for label in node.axes
        for part in parts(label)
    }
    if needed <= set(sizes.of):
        return True
    live = drop_dead_statements(program, sizes)
    return needed <= set(size_sources(live))
