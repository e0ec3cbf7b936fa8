"""Expressions of the derivative program: building AST nodes, their free indices, and
renaming indices.

Derivatives are built as `tensorc.frontend.ast` nodes (the same classes the parser makes) and
printed as program text by `tensorc.frontend.unparse`, which then goes through the parser and
the whole pipeline like any other program. Axes are written as IR labels: `"i"`, `"..."`,
`"(h d)"` (see `tensorc.ir.labels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tensorc import ops
from tensorc.frontend import ast
from tensorc.frontend.resolve import NOWHERE as SPAN
from tensorc.frontend.resolve import FreeIndices, axis_of

# The helpers for axis labels that derivatives are built with, from their homes.
from tensorc.frontend.resolve import labels_of as labels_of
from tensorc.ir.labels import expanded as expanded
from tensorc.ir.labels import ordered as ordered

# --- building -------------------------------------------------------------------------------


def access(tensor: str, labels: Sequence[str]) -> ast.Access:
    return ast.Access(SPAN, tensor, tuple(axis_of(label) for label in labels))


def name(text: str) -> ast.Name:
    return ast.Name(SPAN, text)


def number(value: float) -> ast.Expr:
    """A constant; negative ones as a unary minus, as the parser would make them."""
    if value < 0:
        return ast.Unary(SPAN, "-", number(-value))
    if value == float("inf"):
        return name("inf")
    if float(value).is_integer() and abs(value) < 2**53:
        return ast.Number(SPAN, int(value), str(int(value)))
    return ast.Number(SPAN, float(value), repr(float(value)))


def names_read(expr: ast.Expr) -> set[str]:
    """The tensors and scalars that an expression reads."""
    found = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.Access | ast.Name):
            found.add(node.tensor if isinstance(node, ast.Access) else node.name)
    return found


def constant_value(expr: ast.Expr) -> float | None:
    """The value of a number (or a negated one), None for anything else."""
    if isinstance(expr, ast.Number):
        return float(expr.value)
    if isinstance(expr, ast.Unary) and expr.op == "-":
        inner = constant_value(expr.operand)
        return None if inner is None else -inner
    return None


def is_one(expr: ast.Expr) -> bool:
    return constant_value(expr) == 1


def neg(expr: ast.Expr) -> ast.Expr:
    if isinstance(expr, ast.Unary) and expr.op == "-":
        return expr.operand
    return ast.Unary(SPAN, "-", expr)


def binary(op: str, left: ast.Expr, right: ast.Expr) -> ast.Binary:
    return ast.Binary(SPAN, op, left, right)


def mul(*factors: ast.Expr) -> ast.Expr:
    """The product of the factors, leaving out ones; a leading minus is pulled to the front."""
    kept: list[ast.Expr] = []
    negative = False
    pending = list(reversed(factors))
    while pending:
        factor = pending.pop()
        if isinstance(factor, ast.Unary) and factor.op == "-":
            negative = not negative
            factor = factor.operand
        if isinstance(factor, ast.Binary) and factor.op == "*":
            pending += [factor.right, factor.left]
        elif not is_one(factor):
            kept.append(factor)
    if not kept:
        result: ast.Expr = number(1)
    else:
        result = kept[0]
        for factor in kept[1:]:
            result = binary("*", result, factor)
    return neg(result) if negative else result


def div(numerator: ast.Expr, denominator: ast.Expr) -> ast.Expr:
    return numerator if is_one(denominator) else binary("/", numerator, denominator)


def add(terms: Sequence[ast.Expr]) -> ast.Expr:
    """`a + b - c`: a negated term is subtracted."""
    result = terms[0]
    for term in terms[1:]:
        if isinstance(term, ast.Unary) and term.op == "-":
            result = binary("-", result, term.operand)
        else:
            result = binary("+", result, term)
    return result


def call(func: str, *args: ast.Expr) -> ast.Call:
    return ast.Call(SPAN, func, tuple(args))


def along(func: str, indices: Iterable[str], operand: ast.Expr) -> ast.Expr:
    names = tuple(indices)
    if not names:
        return operand
    return ast.Along(SPAN, func, tuple(ast.IndexAxis(SPAN, i) for i in names), operand)


def where(condition: ast.Expr, yes: ast.Expr, no: ast.Expr) -> ast.Call:
    return call("where", condition, yes, no)


def ones_like(expr: ast.Expr) -> ast.Expr:
    """`x ** 0`: one, in x's dtype and shape (even where x is inf or nan)."""
    return binary("**", expr, number(0))


# --- indices --------------------------------------------------------------------------------


class Indices(FreeIndices):
    """Free indices of expressions (see `FreeIndices`), and renaming them."""

    def rename(self, expr: ast.Expr, mapping: Mapping[str, str]) -> ast.Expr | None:
        """`expr` with its free indices renamed; None where a reduction inside would capture
        a new name (the caller then stores the value and reads it under the new names)."""
        if not mapping or all(k == v for k, v in mapping.items()):
            return expr
        return self._rename(expr, dict(mapping))

    def _rename(self, expr: ast.Expr, mapping: dict[str, str]) -> ast.Expr | None:
        if isinstance(expr, ast.Access):
            axes: list[ast.Axis] = []
            for axis in expr.axes:
                if isinstance(axis, ast.IndexAxis):
                    axes.append(ast.IndexAxis(SPAN, mapping.get(axis.name, axis.name)))
                elif isinstance(axis, ast.ComposedAxis):
                    parts = tuple(mapping.get(part, part) for part in axis.names)
                    axes.append(ast.ComposedAxis(SPAN, parts))
                else:
                    axes.append(axis)
            return ast.Access(SPAN, expr.tensor, tuple(axes))
        if isinstance(expr, ast.Name):
            if expr.name in self.names and expr.name in mapping:
                return name(mapping[expr.name])
            return expr
        if isinstance(expr, ast.Number):
            return expr
        if isinstance(expr, ast.Unary):
            operand = self._rename(expr.operand, mapping)
            return None if operand is None else ast.Unary(SPAN, expr.op, operand)
        if isinstance(expr, ast.Binary):
            left = self._rename(expr.left, mapping)
            right = self._rename(expr.right, mapping)
            if left is None or right is None:
                return None
            return ast.Binary(SPAN, expr.op, left, right)
        if isinstance(expr, ast.Call):
            args = [self._rename(arg, mapping) for arg in expr.args]
            if any(arg is None for arg in args):
                return None
            return ast.Call(SPAN, expr.func, tuple(a for a in args if a is not None))
        bound = {axis.name for axis in expr.indices}
        if ops.keeps_index(expr.func):
            bound = set()  # a normaliser's index stays free: it is renamed like the others
            indices = tuple(ast.IndexAxis(SPAN, mapping.get(a.name, a.name)) for a in expr.indices)
        else:
            indices = expr.indices
        inner = {k: v for k, v in mapping.items() if k not in bound}
        if bound & set(inner.values()):
            return None
        operand = self._rename(expr.operand, inner)
        return None if operand is None else ast.Along(SPAN, expr.func, indices, operand)


def is_boolean(expr: ast.Expr) -> bool:
    """Whether an expression's value is a boolean: a comparison, `and`, `or`, `not`."""
    if isinstance(expr, ast.Unary | ast.Binary):
        op = ops.operator(expr.op, len(ast.children(expr)))
    elif isinstance(expr, ast.Along):
        op = ops.along(expr.func)
    else:
        return False
    return op is not None and op.boolean
