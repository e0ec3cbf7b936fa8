"""Which values of a derivative program are sure to have the dtype of the inputs being
differentiated (or a wider one).

The gradient of a scalar result starts from the number 1 (`dL = 1`), which takes the dtype of
the arrays it meets, as every number of a program does. A gradient that meets none of the
differentiated values (a constant one, `d sum[i](x[i]) / dx`, or one made of other inputs
only, `d sum[i](x[i] * y[i]) / dx`) is multiplied by `x ** 0`, one in its input's dtype, so
that a float32 input still gets a float32 gradient.
"""

from __future__ import annotations

from collections.abc import Set

from tensorc import ops
from tensorc.frontend import ast

POSITIONS = ("argmax", "argmin")  # reductions to integer positions: no dtype of their operand


def anchored(expr: ast.Expr, anchors: Set[str], indices: Set[str]) -> bool:
    """Whether `expr` reads one of the `anchors` (names whose values have the differentiated
    inputs' dtype) as a value: not only in a comparison, a condition or a position."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Access):
            if node.tensor in anchors:
                return True
        elif isinstance(node, ast.Name):
            if node.name in anchors and node.name not in indices:
                return True
        elif not isinstance(node, ast.Number):
            stack.extend(_values(node))
    return False


def _values(node: ast.Unary | ast.Binary | ast.Call | ast.Along) -> tuple[ast.Expr, ...]:
    """The operands whose dtype the result has (or widens)."""
    if isinstance(node, ast.Along) and (node.func in POSITIONS or _is_count(node)):
        return ()
    if isinstance(node, ast.Unary | ast.Binary):
        op = ops.operator(node.op, len(ast.children(node)))
    else:
        op = ops.function(node.func) if isinstance(node, ast.Call) else ops.along(node.func)
    if op is not None and op.boolean:
        return ()
    if isinstance(node, ast.Call) and node.func == "where":
        return node.args[1:]
    return ast.children(node)


def _is_count(node: ast.Along) -> bool:
    """`sum[j](x ** 0)`: a number of elements, which becomes a size (`counts_to_sizes`)."""
    ones = node.operand
    return (
        node.func == "sum"
        and isinstance(ones, ast.Binary)
        and ones.op == "**"
        and isinstance(ones.right, ast.Number)
        and ones.right.value == 0
    )
