"""Size text: how generated code writes the size of an axis and the shape of a value.

Code generated for known sizes writes numbers (`StaticSizes`); generic code reads each size off
an input's shape or takes it by keyword, under a name of its own (`SymbolicSizes`), and its
prologue computes those names before anything else runs."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import replace

from tensorc.codegen.code import ATOM, PRODUCT, Code
from tensorc.codegen.page import FUNCTION_NAME, Names
from tensorc.ir import nodes as ir
from tensorc.ir import ranges
from tensorc.ir.labels import ELLIPSIS, Extent
from tensorc.ir.labels import parts as label_parts
from tensorc.ir.nodes import display_name
from tensorc.ir.shapes import Sizes, reads
from tensorc.ir.sources import (
    NONE_GIVEN,
    AxisSize,
    Given,
    KeywordSize,
    SizeSource,
    size_sources,
)


def _needs(source: SizeSource) -> tuple[str, ...]:
    """The sizes that computing a size from `source` needs first."""
    if isinstance(source, AxisSize):
        return source.divide_by
    if isinstance(source, ranges.Alias):
        return (source.label,)
    if isinstance(source, ranges.Derived):
        return tuple(label for formula in source.formulas for label in formula.needs)
    return ()


class SizeText(ABC):
    """Writes sizes and shapes as Python expressions."""

    @abstractmethod
    def axis(self, label: str) -> str:
        """The size of one axis: an index, or a composed label (the product of its parts)."""

    def count(self, labels: tuple[str, ...]) -> Code:
        """The number of elements along these axes: a number where the sizes are known."""
        sizes = [self.axis(label) for label in labels]
        if all(size.isdigit() for size in sizes):
            return Code(str(math.prod(int(size) for size in sizes)))
        return Code(" * ".join(sizes), PRODUCT if len(sizes) > 1 else ATOM)

    @abstractmethod
    def batch(self) -> str:
        """The program's batch shape: what its ellipsis stands for."""

    def keywords(self) -> list[tuple[str, bool]]:
        """The sizes the function takes by keyword, with whether each is optional."""
        return []

    def prologue(self) -> list[str]:
        """Lines that compute the size names the body used, before the body runs."""
        return []

    def shape(self, labels: tuple[str, ...], own: tuple[str, int, int] | None = None) -> str:
        """A shape tuple for `labels`. The ellipsis part is the program's batch shape, or with
        `own = (name, before, after)` the batch dimensions of that array's own shape."""
        if ELLIPSIS not in labels:
            sizes = [self.axis(label) for label in labels]
            return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
        k = labels.index(ELLIPSIS)
        pieces = []
        if labels[:k]:
            pieces.append("(" + ", ".join(self.axis(x) for x in labels[:k]) + ",)")
        if own is not None:
            name, before, after = own
            pieces.append(f"tuple({name}.shape[{before}:{f'-{after}' if after else ''}])")
        else:
            pieces.append(self.batch())
        if labels[k + 1 :]:
            pieces.append("(" + ", ".join(self.axis(x) for x in labels[k + 1 :]) + ",)")
        return " + ".join(pieces)


class StaticSizes(SizeText):
    """Sizes known when the code is generated: written as numbers."""

    def __init__(self, sizes: Sizes):
        self.sizes = sizes

    def axis(self, label: str) -> str:
        return str(self.sizes.axis(label))

    def batch(self) -> str:
        return repr(tuple(self.sizes.ellipsis))


class SymbolicSizes(SizeText):
    """Sizes read off the inputs' shapes (`n_i = A.shape[0]`) or passed by keyword. A size
    gets its name when the body first needs it; the prologue then computes the names used."""

    def __init__(
        self,
        program: ir.Program,
        names: Names,
        params: dict[str, str],
        module: str,
        given: Given = NONE_GIVEN,
    ):
        self.program = program
        self.names = names
        self.params = params
        self.module = module
        self.sources = size_sources(program, given)
        self.keyword_sizes = [
            index for index, source in self.sources.items() if isinstance(source, KeywordSize)
        ]
        self.size_names = {index: names.claim(index) for index in self.keyword_sizes}

    def axis(self, label: str) -> str:
        return " * ".join(self._name(part) for part in label_parts(label))

    def _name(self, index: str) -> str:
        if index not in self.size_names:
            if isinstance(index, Extent):  # axis 2 of I: `n_I_2`
                wanted = f"n_{display_name(index.tensor)}_{index.axis}".replace("-", "last")
            else:
                wanted = f"n_{index}"
            self.size_names[index] = self.names.claim(wanted)
        return self.size_names[index]

    def batch(self) -> str:
        """The broadcast of the batch shapes of the inputs read with an ellipsis."""
        inputs = set(self.params)
        parts = []
        for _, var in reads(self.program):
            if var.name in inputs and ELLIPSIS in var.labels:
                k = var.labels.index(ELLIPSIS)
                after = len(var.labels) - k - 1
                stop = f"-{after}" if after else ""
                parts.append(f"{self.params[var.name]}.shape[{k}:{stop}]")
        return f"{self.module}.broadcast_shapes({', '.join(dict.fromkeys(parts))})"

    def keywords(self) -> list[tuple[str, bool]]:
        return [(self.size_names[index], self._optional(index)) for index in self.keyword_sizes]

    def _optional(self, index: str) -> bool:
        source = self.sources.get(index)
        return isinstance(source, KeywordSize) and source.fallback is not None

    def prologue(self) -> list[str]:
        """Fallbacks of optional keyword sizes first, then each size read off an input, after
        the sizes it is divided by."""
        lines = self._keyword_checks()
        for index in self.keyword_sizes:
            source = self.sources[index]
            if isinstance(source, KeywordSize) and source.fallback is not None:
                name = self.size_names[index]
                lines += [f"if {name} is None:", f"    {name} = {self._read(source.fallback)}"]
        pending = [i for i in self.size_names if i not in self.keyword_sizes]
        done = set(self.keyword_sizes)
        while pending:
            index = pending.pop(0)
            needs = _needs(self.sources[index])
            for other in needs:
                self._name(other)
                if other not in done and other not in pending:
                    pending.append(other)
            if any(other not in done for other in needs):
                pending.append(index)
                continue
            lines.append(f"{self.size_names[index]} = {self._text(self.sources[index])}")
            done.add(index)
        return lines

    def _text(self, source: SizeSource) -> str:
        """The expression that computes a size from its source (and the sizes it needs)."""
        if isinstance(source, AxisSize):
            return self._read(source)
        if isinstance(source, ranges.Alias):
            return self._name(source.label)
        assert isinstance(source, ranges.Derived)
        texts = [formula.text(self._name) for formula in source.formulas]
        return texts[0] if len(texts) == 1 else f"min({', '.join(texts)})"

    def _keyword_checks(self) -> list[str]:
        """Lines that refuse a call giving too few of the optional sizes that split one axis
        (all but one are needed) with a message naming them, not a TypeError about `//`."""
        groups: dict[AxisSize, list[str]] = {}
        for index in self.keyword_sizes:
            source = self.sources[index]
            if isinstance(source, KeywordSize) and source.fallback is not None:
                groups.setdefault(replace(source.fallback, divide_by=()), []).append(index)
        lines = []
        for axis, indices in groups.items():
            names = [self.size_names[index] for index in indices]
            which = " or ".join(names) if len(names) == 2 else "all but one of " + ", ".join(names)
            message = (
                f"{FUNCTION_NAME}() needs {which} by keyword: they split "
                f"{self.params[axis.tensor]}.shape[{axis.axis}]"
            )
            lines += [
                f"if [{', '.join(names)}].count(None) > 1:",
                f"    raise TypeError({message!r})",
            ]
        return lines

    def _read(self, source: AxisSize) -> str:
        text = f"{self.params[source.tensor]}.shape[{source.axis}]"
        for other in source.divide_by:
            text += f" // {self.size_names[other]}"
        return text
