"""Expressions of the derivative program: building AST nodes, printing them back to tensorc
text, their free indices, and renaming indices.

Derivatives are built as `tensorc.frontend.ast` nodes (the same classes the parser makes) and
printed as program text, which then goes through the parser and the whole pipeline like any
other program. Axes are written as IR labels: `"i"`, `"..."`, `"(h d)"`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tensorc import ops
from tensorc.errors import Span
from tensorc.frontend import ast
from tensorc.frontend.ast import flatten_product
from tensorc.ir.nodes import ELLIPSIS, composed_label, label_parts
from tensorc.ops import Kind, Precedence

SPAN = Span(1, 1)
CONSTANTS = frozenset({"inf", "pi"})

# --- building -------------------------------------------------------------------------------


def axis_node(label: str) -> ast.Axis:
    if label == ELLIPSIS:
        return ast.EllipsisAxis(SPAN)
    if label.startswith("("):
        return ast.ComposedAxis(SPAN, label_parts(label))
    return ast.IndexAxis(SPAN, label)


def axis_label(axis: ast.Axis) -> str:
    if isinstance(axis, ast.IndexAxis):
        return axis.name
    if isinstance(axis, ast.EllipsisAxis):
        return ELLIPSIS
    return composed_label(axis.names)


def labels_of(axes: Sequence[ast.Axis]) -> tuple[str, ...]:
    return tuple(axis_label(axis) for axis in axes)


def expanded(labels: Sequence[str]) -> tuple[str, ...]:
    """The index names of axis labels, composed axes spelled out (with repeats)."""
    return tuple(part for label in labels for part in label_parts(label))


def access(tensor: str, labels: Sequence[str]) -> ast.Access:
    return ast.Access(SPAN, tensor, tuple(axis_node(label) for label in labels))


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


# --- printing -------------------------------------------------------------------------------


def show(expr: ast.Expr) -> str:
    """Program text for an expression, with only the parentheses the grammar needs."""
    return _show(expr)[0]


def _show(expr: ast.Expr) -> tuple[str, int]:
    if isinstance(expr, ast.Number):
        return expr.text, Precedence.ATOM
    if isinstance(expr, ast.Name):
        return expr.name, Precedence.ATOM
    if isinstance(expr, ast.Access):
        return f"{expr.tensor}[{', '.join(labels_of(expr.axes))}]", Precedence.ATOM
    if isinstance(expr, ast.Unary | ast.Binary):
        operands = ast.children(expr)
        op = ops.operator(expr.op, len(operands))
        assert op is not None and op.infix is not None, f"no operator {expr.op!r}"
        infix = op.infix
        sides = (infix.right,) if len(operands) == 1 else (infix.left, infix.right)
        texts = [_at(operand, side) for operand, side in zip(operands, sides, strict=True)]
        return infix.write(texts), infix.precedence
    if isinstance(expr, ast.Call):
        return f"{expr.func}({', '.join(show(arg) for arg in expr.args)})", Precedence.ATOM
    indices = ", ".join(axis.name for axis in expr.indices)
    return f"{expr.func}[{indices}]({show(expr.operand)})", Precedence.ATOM


def _at(expr: ast.Expr, precedence: int) -> str:
    text, own = _show(expr)
    return text if own >= precedence else f"({text})"


def show_target(target: str, labels: Sequence[str] | None) -> str:
    if labels is None:
        return target
    return f"{target}[{', '.join(labels)}]"


# --- indices --------------------------------------------------------------------------------


class Indices:
    """Free indices of expressions, given which bare names are indices. The ellipsis counts
    as one index, `"..."`."""

    def __init__(self, index_names: Iterable[str]):
        self.names = frozenset(index_names)
        self._cache: dict[int, tuple[ast.Expr, frozenset[str]]] = {}

    def free(self, expr: ast.Expr) -> frozenset[str]:
        found = self._cache.get(id(expr))
        if found is not None and found[0] is expr:
            return found[1]
        result = self._free(expr)
        self._cache[id(expr)] = (expr, result)
        return result

    def _free(self, expr: ast.Expr) -> frozenset[str]:
        if isinstance(expr, ast.Access):
            return frozenset(expanded(labels_of(expr.axes)))
        if isinstance(expr, ast.Name):
            return frozenset({expr.name}) if expr.name in self.names else frozenset()
        if isinstance(expr, ast.Number):
            return frozenset()
        if isinstance(expr, ast.Unary):
            return self.free(expr.operand)
        if isinstance(expr, ast.Binary):
            return self.free(expr.left) | self.free(expr.right)
        if isinstance(expr, ast.Call):
            return frozenset().union(*(self.free(arg) for arg in expr.args))
        operand = self.free(expr.operand)
        if is_normaliser(expr):
            return operand
        return operand - {axis.name for axis in expr.indices}

    def is_index(self, expr: ast.Expr) -> bool:
        return isinstance(expr, ast.Name) and expr.name in self.names

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
        if is_normaliser(expr):
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


def is_normaliser(expr: ast.Along) -> bool:
    """Whether `expr` keeps the index it works along (softmax), rather than reducing it."""
    op = ops.along(expr.func)
    return op is not None and op.kind is Kind.NORMALISER


def ordered(indices: Iterable[str], order: Sequence[str]) -> tuple[str, ...]:
    """Indices in the given order (the ellipsis first), any not in it last, sorted."""
    present = set(indices)
    out = [i for i in order if i in present and i != ELLIPSIS]
    out += sorted(present - set(out) - {ELLIPSIS})
    return (ELLIPSIS, *out) if ELLIPSIS in present else tuple(out)


def is_product(expr: ast.Expr) -> bool:
    """Whether lowering reads `expr` as a product that the Einstein rule may sum over."""
    factors, divisors, _ = flatten_product(expr)
    return len(factors) + len(divisors) >= 2 or (
        len(factors) == 1 and isinstance(factors[0], ast.Access)
    )
