"""AST to program text: the language's one printer, the inverse of the parser.

`parse_program(program(tree)) == tree` for every tree the parser makes (spans aside). Only
the parentheses that the grammar needs are written. Autodiff writes its derivative programs
with it; they then go through the parser like any other program.

    >>> from tensorc.frontend import parse_program
    >>> program(parse_program("C[i, k] = (A[i, j] * B[j, k]) + -(1)"))
    'C[i, k] = A[i, j] * B[j, k] + -1'
"""

from __future__ import annotations

from collections.abc import Sequence

from tensorc import ops
from tensorc.frontend import ast
from tensorc.frontend.resolve import labels_of
from tensorc.ops import Precedence


def program(tree: ast.Program) -> str:
    """The text of a whole program, one statement a line."""
    lines = [statement(s.target, _labels(s.axes), s.value, s.accumulate) for s in tree.statements]
    if tree.returns is not None:
        lines.append("return " + ", ".join(name.name for name in tree.returns.names))
    return "\n".join(lines)


def statement(
    name: str, labels: Sequence[str] | None, value: ast.Expr, accumulate: bool = False
) -> str:
    """`C[i, k] = ...` (`+=` to `accumulate`); `labels` are the target's axis labels, None for
    a bare scalar target."""
    return f"{target(name, labels)} {'+=' if accumulate else '='} {expression(value)}"


def target(name: str, labels: Sequence[str] | None) -> str:
    return name if labels is None else f"{name}[{', '.join(labels)}]"


def expression(expr: ast.Expr) -> str:
    """The text of an expression, with only the parentheses the grammar needs."""
    done: dict[int, tuple[str, int]] = {}
    for node in reversed(list(ast.walk(expr))):  # children before their parents (no recursion)
        done[id(node)] = _text(node, [done[id(child)] for child in ast.children(node)])
    return done[id(expr)][0]


def _text(node: ast.Expr, children: list[tuple[str, int]]) -> tuple[str, int]:
    """A node's text and how tightly it binds, given its children's."""
    if isinstance(node, ast.Number):
        return node.text, Precedence.ATOM
    if isinstance(node, ast.Name):
        return node.name, Precedence.ATOM
    if isinstance(node, ast.Access):
        return target(node.tensor, labels_of(node.axes)), Precedence.ATOM
    if isinstance(node, ast.Call):
        return f"{node.func}({', '.join(text for text, _ in children)})", Precedence.ATOM
    if isinstance(node, ast.Along):
        indices = ", ".join(axis.name for axis in node.indices)
        return f"{node.func}[{indices}]({children[0][0]})", Precedence.ATOM
    op = ops.operator(node.op, len(children))
    assert op is not None and op.infix is not None, f"no operator {node.op!r}"
    infix = op.infix
    sides = (infix.right,) if len(children) == 1 else (infix.left, infix.right)
    return infix.write(
        [_at(c, side) for c, side in zip(children, sides, strict=True)]
    ), infix.precedence


def _at(child: tuple[str, int], needed: int) -> str:
    """A child's text, in parentheses where it binds more loosely than its place needs."""
    text, own = child
    return text if own >= needed else f"({text})"


def _labels(axes: tuple[ast.Axis, ...] | None) -> tuple[str, ...] | None:
    return None if axes is None else labels_of(axes)
