"""The IR as readable text: one line per statement, shared values named `%1`, `%2`, ...

A name assigned again prints as `a#2` from its second assignment on."""

from __future__ import annotations

from tensorc.ir import nodes as ir


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
    labels = "[" + ", ".join(node.indices) + "]"
    if isinstance(node, ir.Var):
        return f"{node.name}{labels}" if node.labels else node.name
    if isinstance(node, ir.Const):
        return node.text
    if isinstance(node, ir.IndexValue):
        return f"index({node.index})"
    if isinstance(node, ir.Map):
        return f"{node.op}({', '.join(args)}){labels}"
    if isinstance(node, ir.Permute):
        return f"permute({args[0]}, {node.perm}){labels}"
    if isinstance(node, ir.Reshape):
        return f"reshape({args[0]}){labels}"
    if isinstance(node, ir.Expand):
        return f"expand({args[0]}){labels}"
    if isinstance(node, ir.Diagonal):
        return f"diagonal({args[0]}, {node.first}, {node.second}){labels}"
    if isinstance(node, ir.Reduce):
        return f"{node.op}[{', '.join(node.reduced)}]({args[0]}){labels}"
    if isinstance(node, ir.Along):
        return f"{node.op}[{node.index}]({args[0]}){labels}"
    if isinstance(node, ir.Contract):
        summed = ", ".join(node.summed)
        return f"contract[{summed}]({', '.join(args)}){labels}"
    if isinstance(node, ir.MatMul):
        return f"matmul({args[0]}, {args[1]}){labels}"
    if isinstance(node, ir.Attention):
        causal = ", causal" if node.causal else ""
        return f"attention({', '.join(args)}{causal}){labels}"
    return type(node).__name__  # pragma: no cover


def _path_lines(path: ir.PathReport) -> list[str]:
    speedup = path.naive_flops / path.optimized_flops if path.optimized_flops else 1.0
    return [
        f"#   path for {path.equation}: " + "; ".join(path.steps),
        f"#   naive FLOPs {path.naive_flops:.3g}, optimised {path.optimized_flops:.3g} "
        f"({speedup:.3g}x fewer), largest intermediate {path.largest_intermediate:.3g} elements",
    ]
