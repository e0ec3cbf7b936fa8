"""The IR as readable text: one line per statement, shared values named `%1`, `%2`, ...

A name assigned again prints as `a#2` from its second assignment on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorc.ir import nodes as ir
from tensorc.ir.kernels import Convolution, ConvolutionTranspose, Pool, PoolDerivative, Windowed


def format_program(
    program: ir.Program, reports: dict[str, list[ir.PathReport]] | None = None
) -> str:
    """Every statement as `name[labels] = expression`, after any contraction paths' reports."""
    uses: dict[int, int] = {}
    for let in program.lets:
        for node in ir.walk(let.value):
            for child in node.children:
                uses[id(child)] = uses.get(id(child), 0) + 1
    inputs = ", ".join(spec.name if spec.is_scalar else f"{spec.name}" for spec in program.inputs)
    lines = [f"inputs: {inputs}"]
    if program.size_params:
        lines.append("sizes by keyword: " + ", ".join(p.index for p in program.size_params))
    names: dict[int, str] = {}
    for let in program.lets:
        if let.source:
            lines.append(f"# {let.source}")
        for report in (reports or {}).get(let.name, []):
            lines.extend(_path_lines(report))
        texts: dict[int, str] = {}
        for node in ir.walk(let.value):
            if id(node) in names:
                texts[id(node)] = names[id(node)]
                continue
            text = _node_text(node, [texts[id(c)] for c in node.children])
            shared = uses.get(id(node), 0) > 1
            if node is not let.value and node.children and (shared or len(text) > 72):
                name = f"%{len(names) + 1}"
                lines.append(f"{name} = {text}")
                names[id(node)] = name
                text = name
            texts[id(node)] = text
        labels = ", ".join(let.value.indices)
        lines.append(f"{let.name}[{labels}] = {texts[id(let.value)]}")
    lines.append("return " + ", ".join(program.outputs))
    return "\n".join(lines)


def _node_text(node: ir.Node, args: list[str]) -> str:
    """One node as text, its operands already written as `args`."""
    if isinstance(node, ir.Var):
        return f"{node.name}[{', '.join(node.labels)}]" if node.labels else node.name
    if isinstance(node, ir.Const):
        return node.text
    if isinstance(node, ir.IndexValue):
        return f"index({node.index})"
    if isinstance(node, ir.Size):
        return f"size({', '.join(node.axes)})"
    return _OPERATIONS[type(node)](node, args) + "[" + ", ".join(node.indices) + "]"


def place_text(place: ir.Place, lookup: str = "") -> str:
    """A gather's or scatter's place as text: its label, or its position `2*h + kh - 1`
    (`lookup` is the text of the position's integer array, if it has one)."""
    if not isinstance(place, ir.Position):
        return place
    pieces = [{1: index, -1: f"-{index}"}.get(c, f"{c}*{index}") for c, index in place.terms]
    pieces += [lookup] if place.lookup is not None else []
    pieces += [str(place.offset)] if place.offset or not pieces else []
    text = " + ".join(pieces).replace("+ -", "- ")
    if place.boundary == "error":
        return text
    return f"{place.boundary}({text}{f', {place.padding}' if place.padding else ''})"


def _places(places: tuple[ir.Place, ...], lookups: list[str]) -> str:
    remaining = list(lookups)
    texts = [
        place_text(p, remaining.pop(0) if isinstance(p, ir.Position) and p.lookup else "")
        for p in places
    ]
    return ", ".join(texts)


def _scatter_text(node: ir.Scatter, args: list[str]) -> str:
    verb = "scatter_add" if node.accumulate else "scatter"
    start = f", into {args[1]}" if node.into is not None else ""
    lookups = args[2:] if node.into is not None else args[1:]
    return f"{verb}({args[0]} at [{_places(node.places, lookups)}]{start})"


def _windows_text(node: Windowed) -> str:
    """A kernel's windows, as the positions they were found at: `at [2*h + kh, pad(w + kw - 1)]`."""
    return f" at [{', '.join(place_text(window.place) for window in node.windows)}]"


def _kernel_text(name: str) -> Callable[[Any, list[str]], str]:
    """The text of a convolution (or its transpose): its operands, windows and groups."""

    def text(node: Convolution | ConvolutionTranspose, args: list[str]) -> str:
        groups = f", groups {node.channels.groups}" if node.channels.groups else ""
        return f"{name}({', '.join(args)}{_windows_text(node)}{groups})"

    return text


# An operation's text, before the labels of its result; `node` is of the key's type.
_OPERATIONS: dict[type[ir.Node], Callable[[Any, list[str]], str]] = {
    ir.Map: lambda node, args: f"{node.op}({', '.join(args)})",
    ir.Permute: lambda node, args: f"permute({args[0]}, {node.perm})",
    ir.Reshape: lambda node, args: f"reshape({args[0]})",
    ir.Expand: lambda node, args: f"expand({args[0]})",
    ir.Diagonal: lambda node, args: f"diagonal({args[0]}, {node.first}, {node.second})",
    ir.Reduce: lambda node, args: f"{node.op}[{', '.join(node.reduced)}]({args[0]})",
    ir.Along: lambda node, args: f"{node.op}[{node.index}]({args[0]})",
    ir.Contract: lambda node, args: f"contract[{', '.join(node.summed)}]({', '.join(args)})",
    ir.MatMul: lambda node, args: f"matmul({args[0]}, {args[1]})",
    ir.Gather: lambda node, args: f"gather({args[0]} at [{_places(node.places, args[1:])}])",
    ir.Scatter: _scatter_text,
    ir.CrossEntropy: lambda node, args: (
        f"cross_entropy[{node.classes}]({', '.join(args)}{', mean' if node.mean else ''})"
    ),
    ir.Attention: lambda node, args: (
        f"attention({', '.join(args)}{', causal' if node.causal else ''})"
    ),
    Convolution: _kernel_text("convolution"),
    ConvolutionTranspose: _kernel_text("convolution_transpose"),
    Pool: lambda node, args: f"{node.op}_pool({args[0]}{_windows_text(node)})",
    PoolDerivative: lambda node, args: f"pool_derivative({', '.join(args)}{_windows_text(node)})",
    ir.Normalise: lambda node, args: (
        f"{node.kind}_norm[{', '.join(node.normalised)}]({', '.join(args)}, eps={node.eps!r})"
    ),
}


def _path_lines(path: ir.PathReport) -> list[str]:
    speedup = path.naive_flops / path.optimized_flops if path.optimized_flops else 1.0
    return [
        f"#   path for {path.equation}: " + "; ".join(path.steps),
        f"#   naive FLOPs {path.naive_flops:.3g}, optimised {path.optimized_flops:.3g} "
        f"({speedup:.3g}x fewer), largest intermediate {path.largest_intermediate:.3g} elements",
    ]
