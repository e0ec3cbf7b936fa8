"""Sharding: one mapping from index names to mesh axes lays out every tensor of a program.

    f = tc.compile(src, backend=name, mesh=mesh, shard={"b": "data", "h": "model"})

Every axis that index `b` labels (in inputs, intermediates and results) is split over the
mesh axis "data", every axis that `h` labels over "model"; the other axes are replicated. A
composed axis `(h d)` is split by its leading index, as einops and einx users expect; the
axes of an ellipsis are replicated. An index may take a tuple of mesh axes, split over all.

This module is framework-neutral: a backend that can shard describes its mesh as `MeshAxes`
(`Backend.mesh`), and its generator writes the layout lines from a `Layout`.

    >>> layout = Layout(MeshAxes(("data", "model"), (2, 4), (True, True)), (("b", ("data",)),))
    >>> layout.spec(("b", "(h d)", "..."))
    ('data', None, None)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

from tensorc.errors import ShapeError, TensorcError
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, Extent
from tensorc.ir.labels import parts as label_parts
from tensorc.ir.nodes import display_name
from tensorc.ir.shapes import Sizes, all_indices, reads
from tensorc.suggest import closest

if TYPE_CHECKING:
    from tensorc.backends import Backend

Entry = str | tuple[str, ...] | None  # one axis of a PartitionSpec: a mesh axis, several, none
Shard = Mapping[str, str | Sequence[str]]  # what `shard=` takes: index name -> mesh axis (axes)


@dataclass(frozen=True)
class MeshAxes:
    """What tensorc needs to know of a device mesh: its axis names and sizes, and which of
    its axes are explicit (layouts are part of the arrays' types) rather than automatic."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    explicit: tuple[bool, ...]

    def size(self, axes: tuple[str, ...]) -> int:
        """The number of parts that splitting over `axes` makes."""
        return prod(self.sizes[self.names.index(axis)] for axis in axes)

    def is_explicit(self, axis: str) -> bool:
        return self.explicit[self.names.index(axis)]


@dataclass(frozen=True)
class Layout:
    """Where each index goes on the mesh: `indices` pairs an index with its mesh axes."""

    mesh: MeshAxes
    indices: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def explicit(self) -> bool:
        """Whether the mesh axes used are explicit: layouts are then part of the types, and
        each value is resharded (else constrained, and the partitioner propagates)."""
        used = {axis for _, axes in self.indices for axis in axes}
        return any(self.mesh.is_explicit(axis) for axis in used)

    def axes(self, label: str) -> tuple[str, ...]:
        """The mesh axes that split an axis labelled `label`: its leading index's."""
        if label == ELLIPSIS or isinstance(label, Extent):
            return ()
        return dict(self.indices).get(label_parts(label)[0], ())

    def spec(self, labels: Sequence[str]) -> tuple[Entry, ...]:
        """The PartitionSpec of a value with these axis labels, one entry per label (the
        ellipsis's entry stands for all its axes). A mesh axis that an earlier axis already
        uses leaves a later one replicated: an intermediate product may hold two indices
        that no tensor of the program holds together."""
        used: set[str] = set()
        entries: list[Entry] = []
        for label in labels:
            axes = self.axes(label)
            if not axes or used.intersection(axes):
                entries.append(None)
                continue
            used.update(axes)
            entries.append(axes[0] if len(axes) == 1 else axes)
        return tuple(entries)

    def check_sizes(self, sizes: Sizes) -> None:
        """ShapeError for an index whose size its mesh axes do not divide into equal parts."""
        for index, axes in self.indices:
            size, parts = sizes.of.get(index), self.mesh.size(axes)
            if size is not None and size % parts:
                where = " x ".join(f"{a!r} ({self.mesh.size((a,))})" for a in axes)
                raise ShapeError(
                    f"index '{index}' has size {size}, which mesh axis {where} does not "
                    f"divide: shard= splits {index} into {parts} equal parts"
                )


@dataclass(frozen=True)
class Sharded:
    """A program's layout with the framework's mesh object, and how to call a generated
    function with that mesh in context (`MeshSupport.on_mesh`)."""

    layout: Layout
    mesh: Any  # the framework's own mesh object
    on_mesh: Callable[[Callable[..., Any], Any], Callable[..., Any]]

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        return self.on_mesh(function, self.mesh)


@dataclass(frozen=True)
class MeshSupport:
    """How a framework shards (`Backend.mesh`): its mesh object described as `MeshAxes`
    (TensorcError for anything that is not one), and a generated function wrapped so that
    it runs with the mesh in context."""

    describe: Callable[[Any], MeshAxes]
    on_mesh: Callable[[Callable[..., Any], Any], Callable[..., Any]]


@dataclass(frozen=True)
class Request:
    """What `mesh=` and `shard=` ask for, checked as far as it can be without the program;
    hashable, so that it is part of the compile cache's key."""

    mesh: Any  # the framework's own mesh object
    axes: MeshAxes
    shard: tuple[tuple[str, tuple[str, ...]], ...]
    on_mesh: Callable[[Callable[..., Any], Any], Callable[..., Any]]

    def sharded(self, program: ir.Program) -> Sharded:
        """The layout of `program` (TensorcError where `shard=` does not fit it)."""
        return Sharded(layout(program, self.axes, self.shard), self.mesh, self.on_mesh)


def request(backend: Backend | None, mesh: object, shard: object) -> Request | None:
    """`mesh=` and `shard=` of `tc.compile` checked: None when neither is given; TensorcError
    for a backend that cannot shard (saying why), a shard without a mesh, a mesh that is
    not the backend's, or a `shard=` that is not a mapping of index names to mesh axes."""
    if mesh is None and shard is None:
        return None
    if backend is None:
        raise TensorcError(
            f"mesh= and shard= need a backend that can shard: {_sharding_backends()}"
        )
    if backend.mesh is None:
        raise TensorcError(f"the {backend.name} backend cannot shard: {backend.unsharded}")
    if mesh is None:
        raise TensorcError("shard= needs mesh=, the device mesh to split the tensors over")
    pairs = normalise({} if shard is None else shard)
    return Request(mesh, backend.mesh.describe(mesh), pairs, backend.mesh.on_mesh)


def _sharding_backends() -> str:
    from tensorc.backends import BACKENDS  # the registry imports this module

    return " or ".join(f'backend="{name}"' for name, record in BACKENDS.items() if record.mesh)


def normalise(shard: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`shard=` as sorted (index, mesh axes) pairs, hashable for the compile cache;
    TensorcError for anything but a mapping of index names to mesh axis names."""
    if not isinstance(shard, Mapping):
        raise TensorcError(
            f"shard= maps index names to mesh axis names, like {{'b': 'data'}}, "
            f"not {type(shard).__name__}"
        )
    pairs = []
    for index, axes in shard.items():
        names = (axes,) if isinstance(axes, str) else tuple(axes) if _names(axes) else None
        if not isinstance(index, str) or not names:
            raise TensorcError(
                f"shard= maps an index name to a mesh axis name or a tuple of them, "
                f"not {index!r}: {axes!r}"
            )
        if len(set(names)) < len(names):
            raise TensorcError(f"shard= splits index '{index}' over one mesh axis twice: {axes}")
        pairs.append((index, names))
    return tuple(sorted(pairs))


def _names(value: object) -> bool:
    return isinstance(value, Sequence) and all(isinstance(name, str) for name in value)


def layout(
    program: ir.Program, mesh: MeshAxes, shard: tuple[tuple[str, tuple[str, ...]], ...]
) -> Layout:
    """The layout that `shard=` gives a program on `mesh`; TensorcError for an index the
    program does not use, a mesh axis the mesh does not have, a mesh axis that would split
    two axes of one tensor, or mesh axes of mixed types."""
    indices = all_indices(program)
    for index, axes in shard:
        if index not in indices:
            raise TensorcError(
                f"shard= names index '{index}', which the program does not use"
                + _hint(index, indices)
            )
        for axis in axes:
            if axis not in mesh.names:
                raise TensorcError(
                    f"shard= splits index '{index}' over mesh axis '{axis}', which the mesh "
                    f"does not have (its axes: {', '.join(mesh.names)})" + _hint(axis, mesh.names)
                )
    found = Layout(mesh, shard)
    kinds = {mesh.is_explicit(axis) for axis in _used(shard)}
    if len(kinds) > 1:
        raise TensorcError(
            "shard= uses explicit and auto mesh axes together: make the axes it uses one kind"
        )
    for name, labels, span in _tensors(program):
        _check_once(found, name, labels, span, program.source)
    return found


def _used(shard: tuple[tuple[str, tuple[str, ...]], ...]) -> set[str]:
    return {axis for _, axes in shard for axis in axes}


def _hint(name: str, candidates: object) -> str:
    near = closest(name, candidates)  # type: ignore[arg-type]
    return f"; did you mean '{near}'?" if near else ""


def _tensors(program: ir.Program) -> list[tuple[str, tuple[str, ...], Any]]:
    """Every tensor the program names: each read (with its span) and each statement's target."""
    found = [(display_name(var.name), var.labels, var.span) for _, var in reads(program)]
    found += [(display_name(let.name), let.value.indices, let.span) for let in program.lets]
    return found


def _check_once(layout: Layout, name: str, labels: tuple[str, ...], span: Any, source: str) -> None:
    """TensorcError where one mesh axis would split two axes of the tensor `name`."""
    owner: dict[str, str] = {}
    for label in labels:
        for axis in layout.axes(label):
            index = label_parts(label)[0]
            if axis in owner and owner[axis] != index:
                shown = ", ".join(str(label) for label in labels)
                raise TensorcError(
                    f"mesh axis '{axis}' would split two axes of {name}[{shown}], those of "
                    f"'{owner[axis]}' and '{index}': a tensor is split over a mesh axis once",
                    span,
                    source,
                )
            owner[axis] = index


__all__ = ["Layout", "MeshAxes", "MeshSupport", "Sharded", "layout", "normalise"]
