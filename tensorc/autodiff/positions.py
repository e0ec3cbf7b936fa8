"""Reads and writes at positions (CONTRACT §6 and §7), as derivatives see them.

A read at positions (`I[n, c, 2*h + kh, w]`, `W[ids[b, t], d]`) is linear in the tensor read:
its transpose writes the cotangent at the same positions, adding up (`dI[n, c, 2*h + kh, w]
+= ...`, a transposed convolution; `dW[ids[b, t], d] += ...`, a scatter-add). A write at
positions (`Y[n, 2*h + kh] += ...`, `S[seg[e], d] += ...`) is linear in the value written:
its transpose reads the cotangent at the same positions. Integer tensors read as positions
(`ids`) get no derivative. The tangent of either is the same read or write of the tangent.

The derivative's own tensors are written with plain axes, one index per stored axis
(`stored_labels`): an index the access has there, else a fresh one that the tensor sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tensorc.autodiff import expr as ex
from tensorc.errors import TensorcError
from tensorc.frontend import ast
from tensorc.frontend.resolve import indices_of, label_of
from tensorc.ir.labels import ELLIPSIS


def has_positions(axes: Sequence[ast.Axis] | None) -> bool:
    return any(isinstance(axis, ast.PositionAxis) for axis in axes or ())


def written_indices(axes: Sequence[ast.Axis]) -> tuple[str, ...]:
    """The indices that axes with positions use (each once, in order): a write there is over
    them all."""
    found = tuple(dict.fromkeys(indices_of(axes)))
    if ELLIPSIS in found:
        raise TensorcError("cannot differentiate a read or write at positions beside '...'")
    return found


def at(tensor: str, axes: Sequence[ast.Axis]) -> ast.Access:
    """`tensor` read (or written) at the axes of another access."""
    return ast.Access(ex.SPAN, tensor, tuple(axes))


def stored_labels(
    axes: Sequence[ast.Axis], claim: Callable[[str], str], like: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """Plain labels for the stored axes of a tensor accessed with `axes`: `like` where it has
    as many (the labels of the array a `+=` adds into), else each plain index of `axes` once,
    and a fresh index (from `claim`) for each position."""
    if like is not None and len(like) == len(axes):
        return like
    labels: list[str] = []
    for axis in axes:
        if isinstance(axis, ast.EllipsisAxis):
            raise TensorcError("cannot differentiate a read or write at positions beside '...'")
        label = label_of(axis)
        taken = set(ex.expanded(labels))
        if isinstance(axis, ast.PositionAxis) or set(ex.expanded((label,))) & taken:
            label = claim(_base(axis))
        labels.append(label)
    return tuple(labels)


def _base(axis: ast.Axis) -> str:
    """The name a fresh index for this axis is made from: its (first) index, else `p`."""
    if isinstance(axis, ast.PositionAxis):
        return axis.terms[0][1] if axis.terms else "p"
    return indices_of((axis,))[0]
