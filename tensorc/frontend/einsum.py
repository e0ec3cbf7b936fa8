"""numpy.einsum subscripts to a one-statement program AST: `ij,jk->ik` is `out[i,k] = x0[i,j] * x1[j,k]`."""

from __future__ import annotations

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from tensorc.errors import ParseError, Span
from tensorc.frontend import ast
from tensorc.frontend.grammar import lark_parser
from tensorc.frontend.parser import _parse_error


def operand_name(position: int) -> str:
    """The tensor name that stands for einsum operand `position` in the program."""
    return f"x{position}"


def parse_einsum(spec: str) -> ast.Program:
    """Parse einsum subscripts (explicit `->` or implicit output, `...`, repeats) into a program."""
    try:
        tree = lark_parser().parse(spec, start="einsum")
    except UnexpectedInput as error:
        raise _parse_error(error, spec) from None
    starts = _operand_columns(spec)
    trees = [child for child in tree.children if isinstance(child, Tree)]
    inputs = [
        _subscripts(child, starts[k])
        for k, child in enumerate(c for c in trees if c.data == "subscripts")
    ]
    outputs = [child for child in trees if child.data == "output"]
    whole = Span(1, 1, max(1, len(spec)))
    if outputs:
        output_tree = outputs[0].children[0]
        assert isinstance(output_tree, Tree)
        output = _subscripts(output_tree, spec.index("->") + 3)
        _check_output(output, inputs, spec)
    else:
        output = _implicit_output(inputs, whole)
    factors: list[ast.Expr] = [
        ast.Access(span, operand_name(position), axes)
        for position, (axes, span) in enumerate(inputs)
    ]
    value = factors[0]
    for factor in factors[1:]:
        value = ast.Binary(whole, "*", value, factor)
    statement = ast.Assign(whole, "out", output[0], value)
    return ast.Program((statement,), None, spec)


def _operand_columns(spec: str) -> list[int]:
    """The 1-based column where each operand's subscripts start (an operand may have none)."""
    inputs = spec.split("->")[0]
    columns, start = [], 0
    for part in inputs.split(","):
        columns.append(start + len(part) - len(part.lstrip()) + 1)
        start += len(part) + 1
    return columns


def _subscripts(tree: Tree, column: int) -> tuple[tuple[ast.Axis, ...], Span]:
    tokens: list[Token] = list(tree.children)  # type: ignore[arg-type]
    axes: list[ast.Axis] = []
    for token in tokens:
        span = Span(token.line or 1, token.column or 1, len(str(token)))
        if token.type == "ELLIPSIS":
            axes.append(ast.EllipsisAxis(span))
        else:
            axes.append(ast.IndexAxis(span, str(token)))
    if tokens:
        first, last = tokens[0], tokens[-1]
        span = Span(
            first.line or 1, first.column or 1, (last.end_column or 1) - (first.column or 1)
        )
    else:
        span = Span(1, column, 1)
    return tuple(axes), span


def _implicit_output(
    inputs: list[tuple[tuple[ast.Axis, ...], Span]], span: Span
) -> tuple[tuple[ast.Axis, ...], Span]:
    """numpy's rule: the letters used exactly once, in character order, after `...` if any."""
    counts: dict[str, int] = {}
    has_ellipsis = False
    for axes, _ in inputs:
        for axis in axes:
            if isinstance(axis, ast.IndexAxis):
                counts[axis.name] = counts.get(axis.name, 0) + 1
            else:
                has_ellipsis = True
    letters = sorted(name for name, count in counts.items() if count == 1)
    output: list[ast.Axis] = [ast.EllipsisAxis(span)] if has_ellipsis else []
    output += [ast.IndexAxis(span, name) for name in letters]
    return tuple(output), span


def _check_output(
    output: tuple[tuple[ast.Axis, ...], Span],
    inputs: list[tuple[tuple[ast.Axis, ...], Span]],
    spec: str,
) -> None:
    used = {axis.name for axes, _ in inputs for axis in axes if isinstance(axis, ast.IndexAxis)}
    seen: set[str] = set()
    for axis in output[0]:
        if isinstance(axis, ast.IndexAxis):
            if axis.name not in used:
                raise ParseError(
                    f"output index '{axis.name}' does not appear in any operand", axis.span, spec
                )
            if axis.name in seen:
                raise ParseError(f"output index '{axis.name}' appears twice", axis.span, spec)
            seen.add(axis.name)
    in_inputs = any(isinstance(a, ast.EllipsisAxis) for axes, _ in inputs for a in axes)
    in_output = any(isinstance(a, ast.EllipsisAxis) for a in output[0])
    if in_inputs and not in_output:
        raise ParseError(
            "the operands use '...' but the output does not: write it in the output too",
            output[1],
            spec,
        )
