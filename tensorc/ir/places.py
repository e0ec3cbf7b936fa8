"""Reads and writes at computed positions, lowered to `Gather` and `Scatter`.

An access with a position among its axes (`I[n, c, 2*h + kh, w]`, `W[ids[b, t], d]`) reads a
`Var` whose positioned axes carry extent labels (`I.2`) and gathers from it; a target with
positions (`Y[n, 2*h + kh] += ...`, `S[seg[e], d] += ...`) scatters the statement's value
into an array whose positioned axes carry the target's extent labels.
"""

from __future__ import annotations

from collections.abc import Callable

from tensorc.errors import ProgramError, Span
from tensorc.frontend import ast
from tensorc.frontend.resolve import Statement, label_of
from tensorc.ir import nodes as ir
from tensorc.ir.labels import Extent, axis_number, expanded, in_order

Lookup = Callable[[ast.Access], ir.Node]  # lowers an integer tensor read as a position


def has_positions(axes: tuple[ast.Axis, ...] | None) -> bool:
    return any(isinstance(axis, ast.PositionAxis) for axis in axes or ())


def stored_labels(tensor: str, axes: tuple[ast.Axis, ...]) -> tuple[str, ...]:
    """The labels of a tensor's stored axes as accessed: a position's axis gets an extent."""
    written = tuple(label_of(axis) for axis in axes)
    return tuple(
        Extent(tensor, axis_number(written, k)) if isinstance(axis, ast.PositionAxis) else label
        for k, (axis, label) in enumerate(zip(axes, written, strict=True))
    )


def places(axes: tuple[ast.Axis, ...], lookup: Lookup) -> tuple[ir.Place, ...]:
    """Per stored axis (composed axes spelled out): its label, or its `Position`."""
    found: list[ir.Place] = []
    for axis in axes:
        if isinstance(axis, ast.PositionAxis):
            looked_up = lookup(axis.lookup) if axis.lookup is not None else None
            found.append(
                ir.Position(axis.terms, axis.offset, looked_up, axis.boundary, axis.padding)
            )
        else:
            found.extend(expanded((label_of(axis),)))
    return tuple(found)


def gather(access: ast.Access, var: ir.Node, lookup: Lookup, order: tuple[str, ...]) -> ir.Node:
    """The read `access` of `var` (its stored labels from `stored_labels`) at its positions."""
    operand = var
    if expanded(var.indices) != var.indices:
        operand = ir.Reshape(var, expanded(var.indices))
    where = places(access.axes, lookup)
    return ir.Gather(operand, where, in_order(ir.placed_indices(where), order))


def scatter(
    statement: ast.Assign,
    name: str,
    axes: tuple[ast.Axis, ...],
    value: ir.Node,
    into: ir.Node | None,
    lookup: Lookup,
) -> ir.Scatter:
    """The target `name[axes]` of `statement`, written at its positions with `value` (over
    the target's indices, in the statement's order), starting from `into` or zeros."""
    if any(isinstance(axis, ast.ComposedAxis) for axis in axes):
        raise ProgramError(
            "a target with positions cannot also merge axes: merge them in a later statement",
            statement.span,
        )
    where = places(axes, lookup)
    for axis in axes:
        if isinstance(axis, ast.PositionAxis) and not statement.accumulate:
            if axis.lookup is not None:
                raise ProgramError(
                    "a tensor-valued position on the left adds up what it writes: use `+=`",
                    axis.span,
                )
            if axis.boundary != "error":
                raise ProgramError(f"{axis.boundary}(...) is for reads, not targets", axis.span)
    labels = into.indices if into is not None else stored_labels(name, axes)
    return ir.Scatter(value, where, labels, statement.accumulate, into)


def write(
    resolved: Statement,
    value: ir.Node,
    wanted: tuple[str, ...],
    lookup: Lookup,
    check_rank: Callable[[str, tuple[str, ...], Span], None],
) -> ir.Scatter:
    """A statement's value (over `wanted`, the target's indices) written at its target's
    positions: added into the target's earlier value with `+=`, else into zeros."""
    statement, axes = resolved.assign, resolved.axes or ()
    into = None
    if statement.accumulate and resolved.previous is not None:
        labels = stored_labels(resolved.name, axes)
        into = ir.Var(resolved.previous, labels, statement.span)
        check_rank(resolved.previous, labels, statement.span)
    value = value if value.indices == wanted else ir.Expand(value, wanted)
    return scatter(statement, resolved.name, axes, value, into, lookup)
