"""Fast code for writes at affine positions (`ir.Scatter` without tensor-valued positions):
adds into strided slices of the target, one per offset of all but the longest window axis of
each target axis. A max pool's derivative (`dR[n, 2*y + p] += ...`) is two strided adds, where
the general form (`tensorc.codegen.places`) adds at integer arrays, several times slower; so is
a stencil's. The backends' `_add_windows` helpers take the pieces from `WINDOW_PIECES`, one
framework-free helper shared by all three (`WINDOW_HELPERS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorc.codegen.code import Code
from tensorc.codegen.places import reordered, viewable
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator


def scatter(gen: Generator, node: ir.Scatter, operand: Code, rest: list[Code]) -> Code | None:
    """The write as adds into strided slices of the target, one per offset of the shorter
    window axes (`_window_pieces`), where it can be; else None."""
    if not _sliceable(node):
        return None
    into = rest[0] if node.into is not None else None
    order: list[str] = []  # the value's axes, target axis by target axis
    starts, steps = [], []
    for place in node.places:
        if isinstance(place, ir.Position):
            starts.append(place.offset)
            steps.append(tuple(c for c, _ in place.terms))
            order.extend(index for _, index in place.terms)
        else:
            starts.append(0)
            steps.append((1,))
            order.append(place)
    values = reordered(gen, operand, node.operand.indices, tuple(order))
    shape = gen.sizes.shape(node.labels)
    return gen.add_windows(into, shape, values, tuple(starts), tuple(steps))


def _sliceable(node: ir.Scatter) -> bool:
    """Whether strided slices can do the write: positions of indices with positive
    coefficients that stay inside the target (the plan proved it), each index once."""
    if node.lookups or (node.into is not None and not node.accumulate):
        return False
    places = list(node.places)
    for place in places:
        if place == ELLIPSIS or (isinstance(place, ir.Position) and place.boundary != "error"):
            return False
        if isinstance(place, ir.Position) and any(c <= 0 for c, _ in place.terms):
            return False
    written = [index for p in places for index in _indices(p)]
    return viewable(places) and sorted(written) == sorted(node.operand.indices)


def _indices(place: ir.Place) -> list[str]:
    """The indices a place writes along."""
    return [index for _, index in place.terms] if isinstance(place, ir.Position) else [place]


# Framework-free: every backend's `_add_windows` calls these.
TILED = '''
def _tiled(values, steps):
    """values and steps with each window of two indices that tiles its axis (steps (k, 1), and
    k values along the second index) made one index of step 1: a reshape, so that the tiles
    are written in one piece."""
    shape, merged, first = [], [], 0
    for axis_steps in steps:
        counts = tuple(values.shape[first : first + len(axis_steps)])
        first += len(axis_steps)
        if len(counts) == 2 and axis_steps[1] == 1 and axis_steps[0] == counts[1]:
            shape.append(counts[0] * counts[1])
            merged.append((1,))
        else:
            shape.extend(counts)
            merged.append(tuple(axis_steps))
    return values.reshape(tuple(shape)), tuple(merged)
'''

WINDOW_POSITIONS = '''
def _window_positions(shape, starts, steps, arange):
    """Where each element of values of `shape` goes (see _window_pieces), as one integer
    array per target axis broadcast over the values' axes: the index a scatter takes."""
    positions, first = [], 0
    for start, axis_steps in zip(starts, steps):
        position = start
        for m, step in enumerate(axis_steps):
            along = [1] * len(shape)
            along[first + m] = shape[first + m]
            position = position + step * arange(shape[first + m]).reshape(along)
        positions.append(position)
        first += len(axis_steps)
    return positions
'''

WINDOW_PIECES = '''
def _window_pieces(shape, starts, steps):
    """For values of `shape` written at windows (the value has len(steps[a]) axes for target
    axis a, and value [.., j1, j2, ..] goes to starts[a] + steps[a][0] * j1 + ...), pairs of
    (target index, value index): strided slices along the longest window axis of each target
    axis, one pair per offset of the others."""
    if 0 in shape:
        return
    spans, first = [], 0  # per target axis: its first value axis, and the one sliced along
    for axis_steps in steps:
        counts = shape[first : first + len(axis_steps)]
        run = max(range(len(counts)), key=counts.__getitem__) if counts else None
        spans.append((first, run))
        first += len(axis_steps)
    runs = {f + run for f, run in spans if run is not None}
    looped = [k for k in range(len(shape)) if k not in runs]
    offsets = [()]
    for k in looped:
        offsets = [offset + (j,) for offset in offsets for j in range(shape[k])]
    for offset in offsets:
        at = dict(zip(looped, offset))
        target = []
        for (f, run), start, axis_steps in zip(spans, starts, steps):
            moved = [step * at[f + m] for m, step in enumerate(axis_steps) if m != run]
            position = start + sum(moved)
            if run is None:
                target.append(position)
            else:
                step, count = axis_steps[run], shape[f + run]
                target.append(slice(position, position + step * (count - 1) + 1, step))
        value = tuple(at.get(k, slice(None)) for k in range(len(shape)))
        yield tuple(target), value
'''

WINDOW_SLICES = '''
def _window_slices(ndim, starts, axes, sizes, kernel, strides, dilations):
    """Each window offset k, with the index (strided slices) of what it reads for every
    output: along axes[i], the elements starts[i] + dilations[i] * k[i] + strides[i] * h for
    h < sizes[i]."""
    offsets = [()]
    for count in kernel:
        offsets = [offset + (k,) for offset in offsets for k in range(count)]
    for offset in offsets:
        index = [slice(None)] * ndim
        for axis, start, k, n, s, d in zip(axes, starts, offset, sizes, strides, dilations):
            index[axis] = slice(start + d * k, start + d * k + s * (n - 1) + 1, s)
        yield offset, tuple(index)
'''

WINDOW_EXTREME = '''
def _window_extreme(x, stack, extreme, starts, axes, sizes, kernel, strides, dilations):
    """extreme (the framework's amax or amin) over the windows of x: one strided slice per
    window offset (see _window_slices), stacked and reduced along the stack, whose own
    derivative shares ties equally, as the program's does."""
    pieces = [x[index] for _, index in _window_slices(x.ndim, starts, axes, sizes, kernel, strides, dilations)]
    return extreme(stack(pieces), 0)
'''

# What every backend's helpers include beside its own `_add_windows` and `_pool_derivative`.
WINDOW_HELPERS = {
    "_window_slices": WINDOW_SLICES,
    "_window_extreme": WINDOW_EXTREME,
    "_tiled": TILED,
    "_window_pieces": WINDOW_PIECES,
    "_window_positions": WINDOW_POSITIONS,
}
