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

from tensorc.frontend import ast
from tensorc.frontend.resolve import labels_of

# How tightly each form binds, loosest first (see grammar/tensorc.lark).
_COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5, 6
_BINARY = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "**": _POWER}
_BINARY.update(dict.fromkeys(("<", "<=", ">", ">=", "==", "!="), _COMPARE))


def program(tree: ast.Program) -> str:
    """The text of a whole program, one statement a line."""
    lines = [statement(s.target, _labels(s.axes), s.value) for s in tree.statements]
    if tree.returns is not None:
        lines.append("return " + ", ".join(name.name for name in tree.returns.names))
    return "\n".join(lines)


def statement(name: str, labels: Sequence[str] | None, value: ast.Expr) -> str:
    """`C[i, k] = ...`; `labels` are the target's axis labels, None for a bare scalar target."""
    return f"{target(name, labels)} = {expression(value)}"


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
        return node.text, _ATOM
    if isinstance(node, ast.Name):
        return node.name, _ATOM
    if isinstance(node, ast.Access):
        return target(node.tensor, labels_of(node.axes)), _ATOM
    if isinstance(node, ast.Unary):
        return "-" + _at(children[0], _UNARY), _UNARY
    if isinstance(node, ast.Call):
        return f"{node.func}({', '.join(text for text, _ in children)})", _ATOM
    if isinstance(node, ast.Along):
        indices = ", ".join(axis.name for axis in node.indices)
        return f"{node.func}[{indices}]({children[0][0]})", _ATOM
    left, right = children
    own = _BINARY[node.op]
    if own == _POWER:  # `atom ** unary`: right-associative
        return f"{_at(left, _ATOM)} ** {_at(right, _UNARY)}", _POWER
    if own == _COMPARE:  # `sum < sum`: comparisons do not chain
        return f"{_at(left, _SUM)} {node.op} {_at(right, _SUM)}", _COMPARE
    tighter = _UNARY if own == _PRODUCT else own + 1  # left-associative
    return f"{_at(left, own)} {node.op} {_at(right, tighter)}", own


def _at(child: tuple[str, int], needed: int) -> str:
    """A child's text, in parentheses where it binds more loosely than its place needs."""
    text, own = child
    return text if own >= needed else f"({text})"


def _labels(axes: tuple[ast.Axis, ...] | None) -> tuple[str, ...] | None:
    return None if axes is None else labels_of(axes)
