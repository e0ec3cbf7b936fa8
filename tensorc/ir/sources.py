"""Where generic code (`f.source`, which reads sizes at run time) finds each index's size: an
input's axis, a keyword argument, or the positions that use it (`tensorc.ir.ranges`)."""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ir import nodes as ir
from tensorc.ir import ranges
from tensorc.ir.labels import ELLIPSIS, Composed, axis_number
from tensorc.ir.shapes import all_indices, check_extents_known, reads


@dataclass(frozen=True)
class AxisSize:
    """An index's size read off an input: `tensor.shape[axis]`, divided by other indices' sizes."""

    tensor: str
    axis: int
    divide_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeywordSize:
    """An index's size that the caller passes by keyword. Where several indices share one
    composed axis, each is optional (`fallback`): the caller gives all but one."""

    index: str
    fallback: AxisSize | None = None


SizeSource = AxisSize | KeywordSize | ranges.Derived | ranges.Alias
Given = frozenset[str]  # the indices whose sizes a call of generic code passes by keyword
NONE_GIVEN: Given = frozenset()


def size_sources(program: ir.Program, given: Given = NONE_GIVEN) -> dict[str, SizeSource]:
    """Where generated code finds each index's size: an input's axis, a keyword argument, or
    the positions that use it. An index in `given` that no input's axis sizes is taken by
    keyword, not derived: a caller may ask for fewer window offsets than the shapes allow."""
    inputs = {spec.name for spec in program.inputs}
    sources: dict[str, SizeSource] = {}
    composed: list[tuple[tuple[str, ...], str, int]] = []
    for _, var in reads(program):
        if var.name not in inputs:
            continue
        for position, label in enumerate(var.labels):
            if label == ELLIPSIS:
                continue
            axis = axis_number(var.labels, position)
            if isinstance(label, Composed):
                composed.append((label.parts, var.name, axis))
            else:
                sources.setdefault(label, AxisSize(var.name, axis))
    while True:
        progress = False
        for factors, tensor, axis in composed:
            unknown = [part for part in factors if part not in sources]
            if len(unknown) == 1:
                others = tuple(part for part in factors if part != unknown[0])
                sources[unknown[0]] = AxisSize(tensor, axis, others)
                progress = True
        if progress:
            continue
        for factors, tensor, axis in composed:
            unknown = [part for part in factors if part not in sources]
            if len(unknown) > 1:
                for part in unknown:
                    others = tuple(p for p in factors if p != part)
                    sources[part] = KeywordSize(part, AxisSize(tensor, axis, others))
                break
        else:
            break
    indices = all_indices(program)
    sources.update(
        {index: KeywordSize(index) for index in given & indices.keys() if index not in sources}
    )
    sources.update(ranges.derived_sources(program, set(sources), indices))
    check_extents_known(program, sources)
    for index in indices:
        sources.setdefault(index, KeywordSize(index))
    return sources
