"""Reverse mode at positions (see `positions`): the cotangent of a read at positions is written
at the same positions, adding up; that of a write at positions is read there.

    O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]
    ...
    dI[n, c, h_2, w_2] = 0 * I[n, c, h_2, w_2] ** 0                  # zeros in I's shape
    dI[n, c, pad(h + kh - 1), pad(w + kw - 1)] += dO[n, o, h, w] * W[o, c, kh, kw]

The gradient starts as the sum of the plain reads' terms (zeros where there are none), in
the tensor's own shape, and each read at positions adds into it: `+=` into an earlier target
keeps that target's shape, and under `pad` a write outside it is dropped, as the read there
read a zero; under `clamp` and `wrap` it adds up where the read came from.
"""

from __future__ import annotations

from collections.abc import Sequence

from tensorc.autodiff import expr as ex
from tensorc.autodiff import positions
from tensorc.autodiff.build import Builder
from tensorc.autodiff.program import Program, Statement
from tensorc.errors import TensorcError
from tensorc.frontend import ast
from tensorc.frontend.resolve import label_of
from tensorc.ir.labels import ELLIPSIS

Placed = tuple[tuple[ast.Axis, ...], ast.Expr]  # a read's axes, and its cotangent


class Writes(Builder):
    """What reverse mode adds for reads and writes at positions."""

    def __init__(self, program: Program, active: set[str]):
        super().__init__(program, active)
        self.placed: dict[str, list[Placed]] = {}

    def read_term(
        self, tensor: str, labels: tuple[str, ...], g: ast.Expr, order: Sequence[str]
    ) -> None:
        raise NotImplementedError  # `Reverse` adds the cotangent of a plain read

    def canonical(self, name: str) -> tuple[tuple[str, ...], bool]:
        raise NotImplementedError  # `Reverse` says which axes `dX` is written with

    def zero(self, name: str) -> ast.Expr:
        """Zeros in the input's shape and dtype: `0 * X[i, j] ** 0` (nan and inf give 0 too)."""
        return ex.mul(ex.number(0), self.one(name))

    def in_dtype(self, name: str, terms: list[ast.Expr]) -> list[ast.Expr]:
        """The terms of `d name`, times `name ** 0` where none has the differentiated inputs'
        dtype (the seed 1 takes the dtype of what it meets; here it meets nothing)."""
        if not terms or any(self.anchored(term) for term in terms):
            return terms
        return [ex.mul(ex.add(terms), self.one(name))]

    def one(self, name: str) -> ast.Expr:
        """Ones in the input's shape and dtype: `X[i, j] ** 0`."""
        labels, _ = self.canonical(name)
        read: ast.Expr = ex.access(name, labels) if labels else self._scalar_read(name)
        return ex.ones_like(read)

    def _scalar_read(self, name: str) -> ast.Expr:
        return ex.name(name) if name in self.program.scalars else ex.access(name, ())

    def emit_adjoint(
        self,
        target: str,
        labels: tuple[str, ...] | None,
        terms: list[ast.Expr],
        name: str,
        placed: Sequence[Placed],
    ) -> None:
        """`target[labels] = t1 + t2 + ...`, the adjoint of `name` (zeros in its shape where
        no plain read adds a term), then what each read at positions adds in."""
        self.emit_sum(target, labels, terms or [self.zero(name)])
        if placed:
            assert labels is not None  # a scalar is never read at positions
            self.write_placed(target, labels, placed)

    def placed_term(self, access: ast.Access, g: ast.Expr) -> None:
        """Adds the cotangent `g` of a read at positions, to be written there into `d tensor`."""
        if access.tensor in self.active:
            positions.written_indices(access.axes)  # refuses '...'
            self.placed.setdefault(access.tensor, []).append((access.axes, g))

    def write_placed(self, target: str, labels: tuple[str, ...], terms: Sequence[Placed]) -> None:
        """`target[positions] += g` for each read at positions, after `target`'s first value
        (with these labels)."""
        for axes, g in terms:
            if any(isinstance(axis, ast.ComposedAxis) for axis in axes):
                self._write_split(target, labels, axes, g)
            else:
                self.emit_at(target, axes, [g], True)

    def _write_split(
        self, target: str, labels: tuple[str, ...], axes: tuple[ast.Axis, ...], g: ast.Expr
    ) -> None:
        """`+=` at positions beside merged axes (`dX[n, (g c), pad(t - k)]`), which a target
        cannot have: into the target with those axes split, then merged back."""
        merged = tuple(
            label_of(axis) if isinstance(axis, ast.ComposedAxis) else label
            for axis, label in zip(axes, labels, strict=True)
        )
        split = ex.expanded(merged)
        written: list[ast.Axis] = []
        for axis in axes:
            parts = axis.names if isinstance(axis, ast.ComposedAxis) else None
            written += [ast.IndexAxis(ex.SPAN, p) for p in parts] if parts else [axis]
        name = self.names.claim(f"{target}_split")
        self.emit(name, split, ex.access(target, merged))
        self.emit_at(name, written, [g], True)
        self.emit(target, merged, ex.access(name, split))

    def written(self, statement: Statement, cotangent: ast.Expr) -> ast.Expr:
        """The cotangent of the value that a write at positions writes: the target's cotangent
        (a read of it with the target's stored labels) read at the same positions. The array
        that `+=` adds into gets the whole cotangent."""
        assert statement.placed is not None
        if not isinstance(cotangent, ast.Access) or any(
            isinstance(axis, ast.EllipsisAxis) for axis in cotangent.axes
        ):
            raise TensorcError(
                f"cannot differentiate the write to {statement.target} at positions: a "
                f"statement with '{ELLIPSIS}' reads it"
            )
        if statement.previous is not None:
            self.read_term(statement.previous, statement.axes, cotangent, statement.order)
        return positions.at(cotangent.tensor, statement.placed)
