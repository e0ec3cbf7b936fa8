"""Statements made of numbers only are read as those numbers.

The gradient of a scalar result starts from `dL = 1`, and `mean` divides it by a size:
`dl[b] = dL / size(b)`. Read as numbers where they are used, such statements cost nothing
and take the dtype of the arrays they meet (a tensor of them would be made in a default
dtype first); multiplying by one is left out."""

from __future__ import annotations

from dataclasses import replace

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes

_ONE = ir.Const(1.0, "1")


def inline_constants(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces reads of statements whose value is a number (or one broadcast along axes) by
    the number, wherever the other operands keep every axis the read had."""
    numbers: dict[str, ir.Node] = {}
    broadcast: set[str] = set()

    def change(node: ir.Node) -> ir.Node | None:
        if isinstance(node, ir.Map | ir.Contract):
            return _simplified(node, numbers, broadcast)
        children = [_number(child, numbers, broadcast, False) for child in node.children]
        return ir.with_children(node, tuple(children))

    lets = []
    for let in program.lets:
        value = ir.rewrite(let.value, change)
        found = _constant(value)
        if found is not None:
            numbers[let.name] = found
            if value.indices:
                broadcast.add(let.name)
        lets.append(replace(let, value=value))
    return replace(program, lets=tuple(lets))


def _constant(value: ir.Node) -> ir.Node | None:
    """The number a statement's value is (broadcast or not), or None."""
    if isinstance(value, ir.Expand):
        value = value.operand
    return value if not value.indices and _numeric(value) else None


def _numeric(node: ir.Node) -> bool:
    if isinstance(node, ir.Const | ir.Size):
        return True
    return isinstance(node, ir.Map) and all(_numeric(arg) for arg in node.args)


def _number(node: ir.Node, numbers: dict[str, ir.Node], broadcast: set[str], fits: bool) -> ir.Node:
    """`node`, or the number it reads: a broadcast number only where it `fits` (the other
    operands have every label of the read and of the result, so nothing changes shape)."""
    if not isinstance(node, ir.Var) or node.name not in numbers:
        return node
    if node.name in broadcast and not fits:
        return node
    return numbers[node.name]


def _simplified(
    node: ir.Map | ir.Contract, numbers: dict[str, ir.Node], broadcast: set[str]
) -> ir.Node:
    operands = node.args if isinstance(node, ir.Map) else node.factors
    out = list(operands)
    for k, operand in enumerate(operands):
        others = {label for j, o in enumerate(out) if j != k for label in o.indices}
        wanted = set(operand.indices) | set(node.labels)
        out[k] = _number(operand, numbers, broadcast, wanted <= others)
    if isinstance(node, ir.Contract):
        kept = [factor for factor in out if factor != _ONE]
        return ir.Contract(tuple(kept or [_ONE]), node.labels, node.path)
    if node.op == "mul" and _ONE in out:
        other = out[1 - out.index(_ONE)]
        if other.indices == node.labels:
            return other
    return ir.Map(node.op, tuple(out), node.labels)
