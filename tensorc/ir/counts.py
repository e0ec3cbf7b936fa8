"""Numbers that the plan knows before anything runs: `Size`, how many elements lie along
some axes (what `mean` divides by). `tensorc.ir.nodes` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ir.nodes import Node, _remember_hash


@dataclass(frozen=True)
class Size(Node):
    """The number of elements along `axes` (the product of their sizes): a Python int."""

    axes: tuple[str, ...]

    @property
    def indices(self) -> tuple[str, ...]:
        return ()


_remember_hash(Size)
