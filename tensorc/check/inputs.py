"""The random arguments of a check: every index's size solved from what the caller gave."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from math import prod
from typing import Any

import numpy as np

from tensorc.arguments import size_keyword
from tensorc.errors import TensorcError
from tensorc.ir import labels
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, Composed
from tensorc.ir.shapes import reads
from tensorc.ir.sources import KeywordSize, size_sources
from tensorc.runtime import Program

DEFAULT_SIZE = 3  # every index whose size no --shape or --size gives
DEFAULT_BATCH = (2,)  # the '...' dimensions when no --shape gives them


def random_arguments(
    program: ir.Program,
    reference: Program,
    shapes: Mapping[str, Sequence[int]],
    sizes: Mapping[str, int],
    seed: int,
    dtype: str,
    positive: bool,
) -> tuple[list[Any], dict[str, int]]:
    """Random inputs in input order (float64 values, already rounded to `dtype`) and the index
    sizes to pass by keyword."""
    labels = _input_labels(program)
    given = {name: _valid_shape(name, shape) for name, shape in dict(shapes).items()}
    sizes = {index: size_keyword(index, size) for index, size in sizes.items()}
    for name in given:
        if name not in labels:
            inputs = ", ".join(reference.inputs) or "none"
            raise TensorcError(f"'{name}' is not an input of the program (its inputs: {inputs})")
    index_sizes, batch, keywords = _solve_sizes(program, labels, given, sizes)
    rng = np.random.default_rng(seed)
    low, high = (0.5, 1.5) if positive else (-1.0, 1.0)
    arguments: list[Any] = []
    for name, axes in labels.items():
        shape = given[name] if name in given else _shape(axes, index_sizes, batch)
        if axes is None and shape == ():
            # A scalar input is a Python float, and positive: scalars are mostly scales,
            # epsilons and sizes (`sqrt(dk)`). An array given for one by `shapes` is left for
            # the runtime to refuse with its own message.
            arguments.append(float(np.float64(rng.uniform(0.5, 1.5)).astype(dtype)))
        else:
            arguments.append(rng.uniform(low, high, shape).astype(dtype).astype(np.float64))
    lookups = looked_up(program)
    if lookups:
        _draw_positions(reference, arguments, keywords, lookups, rng)
    return arguments, keywords


def looked_up(program: ir.Program) -> dict[str, list[tuple[str, ir.Position]]]:
    """The inputs read as positions (`ids` in `W[ids[b, t], d]`): for each, the axis it
    indexes (its label) and the position there, at every such read or write."""
    inputs = {spec.name for spec in program.inputs}
    found: dict[str, list[tuple[str, ir.Position]]] = {}
    for let in program.lets:
        for node in ir.walk(let.value):
            if isinstance(node, ir.Gather):
                axes = node.operand.indices
            elif isinstance(node, ir.Scatter):
                axes = node.labels
            else:
                continue
            for place, axis in zip(node.places, axes, strict=True):
                lookup = place.lookup if isinstance(place, ir.Position) else None
                named = lookup.name if isinstance(lookup, ir.Var) else None
                if isinstance(place, ir.Position) and named in inputs:
                    found.setdefault(named, []).append((axis, place))
    return found


def _draw_positions(
    reference: Program,
    arguments: list[Any],
    keywords: dict[str, int],
    lookups: dict[str, list[tuple[str, ir.Position]]],
    rng: np.random.Generator,
) -> None:
    """Replaces the inputs read as positions by random integers (int64) that keep every read
    and write they take part in inside its tensor."""
    order = reference.inputs
    for name in lookups:
        arguments[order.index(name)] = np.zeros(np.shape(arguments[order.index(name)]), np.int64)
    sizes = reference.sizes_for(*arguments, **keywords)
    for name, uses in lookups.items():
        low, high = 0, None
        for axis, place in uses:
            least, most = place.bounds(lambda index: sizes[index])
            low = max(low, -least)
            room = sizes[axis] - most
            high = room if high is None else min(high, room)
        k = order.index(name)
        shape = np.shape(arguments[k])
        arguments[k] = rng.integers(low, max(low + 1, high or 0), shape, dtype=np.int64)


def _valid_shape(name: str, shape: Any) -> tuple[int, ...]:
    """A shape as a tuple of ints; TensorcError for anything else."""
    dims = tuple(shape) if isinstance(shape, Iterable) and not isinstance(shape, str) else None
    sizes = None if dims is None else [_count(n) for n in dims]
    if sizes is None or None in sizes:
        raise TensorcError(f"the shape of {name} must be non-negative ints, not {shape!r}")
    return tuple(n for n in sizes if n is not None)


def _count(value: Any) -> int | None:
    """A non-negative int (numpy's ints too), or None."""
    if isinstance(value, bool):
        return None
    try:
        number = operator.index(value)
    except TypeError:
        return None
    return number if number >= 0 else None


def _input_labels(program: ir.Program) -> dict[str, tuple[str, ...] | None]:
    """Each input's axis labels where it is first read (None for a scalar), in input order."""
    first: dict[str, tuple[str, ...]] = {}
    for _, var in reads(program):
        first.setdefault(var.name, var.labels)
    return {
        spec.name: None if spec.is_scalar else first.get(spec.name, ()) for spec in program.inputs
    }


def _solve_sizes(
    program: ir.Program,
    labels: Mapping[str, tuple[str, ...] | None],
    given: Mapping[str, tuple[int, ...]],
    sizes: Mapping[str, int],
) -> tuple[dict[str, int], tuple[int, ...], dict[str, int]]:
    """Every index's size (from `sizes`, then from the given input shapes, then the default),
    the '...' dimensions, and the sizes to pass by keyword.

    Disagreements are left for the runtime's shape check, which reports them with a caret: so
    the factors of a given composed axis are passed by keyword only where the caller gave them,
    or where several were unknown and this chose them."""
    solved = dict(sizes)
    batch: tuple[int, ...] | None = None
    composed: list[tuple[tuple[str, ...], int]] = []
    for name, shape in given.items():
        axes = labels[name] or ()
        for label, size in _aligned(axes, shape):
            if isinstance(label, Composed):
                composed.append((label.parts, size))
            else:
                solved.setdefault(label, size)
        if ELLIPSIS in axes and batch is None and len(shape) >= len(axes) - 1:
            split = axes.index(ELLIPSIS)
            batch = shape[split : len(shape) - (len(axes) - split - 1)]
    chosen = _solve_composed(composed, solved)
    sources = size_sources(program)
    for index in sources:
        solved.setdefault(index, DEFAULT_SIZE)
    in_given = {part for parts, _ in composed for part in parts}
    keywords = {
        index: solved[index]
        for index, where in sources.items()
        if isinstance(where, KeywordSize) and (index not in in_given or index in chosen)
    }
    keywords.update(sizes)
    return solved, batch if batch is not None else DEFAULT_BATCH, keywords


def _aligned(axes: tuple[str, ...], shape: tuple[int, ...]) -> Iterator[tuple[str, int]]:
    """(label, size) for each named axis of an input of this shape; nothing if the ranks differ."""
    if ELLIPSIS not in axes:
        if len(axes) == len(shape):
            yield from zip(axes, shape, strict=True)
        return
    split = axes.index(ELLIPSIS)
    after = len(axes) - split - 1
    if len(shape) < len(axes) - 1:
        return
    yield from zip(axes[:split], shape[:split], strict=True)
    yield from zip(axes[split + 1 :], shape[len(shape) - after :], strict=True)


def _solve_composed(
    composed: list[tuple[tuple[str, ...], int]], solved: dict[str, int]
) -> set[str]:
    """Sizes of the indices merged in given composed axes: the one unknown factor is solved for;
    where several are unknown, all but the last get the default size if it divides (else 1).
    Returns the indices chosen that way."""
    chosen: set[str] = set()
    while True:
        progress = False
        for parts, size in composed:
            unknown = [part for part in parts if part not in solved]
            known = prod(solved[part] for part in parts if part in solved)
            if len(unknown) == 1 and known and size % known == 0:
                solved[unknown[0]] = size // known
                progress = True
        if progress:
            continue
        for parts, size in composed:
            unknown = [part for part in parts if part not in solved]
            known = prod(solved[part] for part in parts if part in solved)
            if len(unknown) > 1 and known and size % known == 0:
                rest = size // known
                solved[unknown[0]] = DEFAULT_SIZE if rest % DEFAULT_SIZE == 0 else 1
                chosen.add(unknown[0])
                progress = True
                break
        if not progress:
            return chosen


def _shape(
    axes: tuple[str, ...] | None, sizes: Mapping[str, int], batch: tuple[int, ...]
) -> tuple[int, ...]:
    shape: list[int] = []
    for label in axes or ():
        if label == ELLIPSIS:
            shape.extend(batch)
        else:
            shape.append(prod(sizes[part] for part in labels.parts(label)))
    return tuple(shape)
