"""Removes statements whose targets no returned value depends on."""

from __future__ import annotations

from dataclasses import replace

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes


def drop_dead_statements(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Keeps only the statements that the outputs read, directly or through other statements."""
    needed = set(program.outputs)
    kept: list[ir.Let] = []
    for let in reversed(program.lets):
        if let.name in needed:
            kept.append(let)
            needed.update(n.name for n in ir.walk(let.value) if isinstance(n, ir.Var))
    return replace(program, lets=tuple(reversed(kept)))
