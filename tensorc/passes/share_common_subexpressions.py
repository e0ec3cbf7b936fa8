"""Computes each distinct value once, within and across statements."""

from __future__ import annotations

from dataclasses import replace

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes


def share_common_subexpressions(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Equal subtrees become one shared node; a subtree equal to an earlier statement's value
    becomes a read of that statement's target."""
    canonical: dict[ir.Node, ir.Node] = {}
    earlier: dict[ir.Node, ir.Let] = {}
    lets = []
    for let in program.lets:

        def share(node: ir.Node) -> ir.Node:
            if not node.children:
                return canonical.setdefault(node, node)
            if node in earlier:
                stored = earlier[node]
                return ir.Var(stored.name, stored.value.indices)
            return canonical.setdefault(node, node)

        value = ir.rewrite(let.value, share)
        if value not in earlier and value.children:
            earlier[value] = let
        lets.append(replace(let, value=value))
    return replace(program, lets=tuple(lets))
