"""The operators grown through the operation table: `//`, `%`, `and`, `or`, `not`. They parse
with Python's precedence, keywords do not swallow names that start like them, and the printer
of derivative programs writes back what the parser reads."""

from __future__ import annotations

import numpy as np
import pytest

import tensorc as tc
from tensorc.frontend import ast, parse_program
from tensorc.frontend.unparse import expression as show

# The lines of CONTRACT.md §2's code block that the grown vocabulary added or changed.
CONTRACT_LINES = """\
R[i, j] = relu(X[i, j] + b[j])              # elementwise: + - * / ** // % unary -, exp log sqrt abs
                                            # tanh sigmoid relu sin cos erf floor ceil round sign
                                            # log1p expm1 softplus silu gelu, clip(x, lo, hi),
                                            # max(a, b) min(a, b) where(c, a, b), and or not,
                                            # comparisons < <= > >= == !=
v[i]    = var[j](X[i, j])                   # also std (both population, as numpy), any, all
L[i, j] = log_softmax[j](S[i, j])           # also cumprod
"""


def test_the_contract_lines_parse_and_compile() -> None:
    parse_program(CONTRACT_LINES)
    for line in ("v[i] = var[j](X[i, j])", "L[i, j] = log_softmax[j](S[i, j])"):
        assert tc.compile(line).source


def value(source: str) -> ast.Expr:
    return parse_program(f"y[i] = {source}").statements[0].value


def shape(expr: ast.Expr) -> object:
    """The tree as nested tuples: (op, operands...) and names."""
    if isinstance(expr, ast.Binary):
        return (expr.op, shape(expr.left), shape(expr.right))
    if isinstance(expr, ast.Unary):
        return (expr.op, shape(expr.operand))
    if isinstance(expr, ast.Access):
        return expr.tensor
    if isinstance(expr, ast.Name):
        return expr.name
    if isinstance(expr, ast.Number):
        return expr.value
    return type(expr).__name__


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("a[i] or b[i] and c[i]", ("or", "a", ("and", "b", "c"))),
        ("a[i] and b[i] or c[i]", ("or", ("and", "a", "b"), "c")),
        ("not a[i] and b[i]", ("and", ("not", "a"), "b")),
        ("not a[i] < b[i]", ("not", ("<", "a", "b"))),
        ("not not a[i]", ("not", ("not", "a"))),
        ("a[i] < 1 or b[i] + 1 > 2", ("or", ("<", "a", 1), (">", ("+", "b", 1), 2))),
        ("a[i] // b[i] * c[i]", ("*", ("//", "a", "b"), "c")),
        ("a[i] % b[i] ** 2", ("%", "a", ("**", "b", 2))),
        ("a[i] + b[i] % c[i]", ("+", "a", ("%", "b", "c"))),
        ("-a[i] // b[i]", ("//", ("-", "a"), "b")),
        ("a[i] / b[i] // c[i]", ("//", ("/", "a", "b"), "c")),
    ],
)
def test_precedence_follows_python(source: str, tree: object) -> None:
    assert shape(value(source)) == tree


@pytest.mark.parametrize(
    "source",
    [
        "where(a[i] > 0 and not b[i] > 1 or a[i] == 0, a[i], 0)",
        "(a[i] > 0 or b[i] > 0) + 1",
        "not (a[i] > 0 and b[i] > 0)",
        "a[i] // (b[i] * 2) % 3",
        "a[i] - b[i] % c[i] // 2",
    ],
)
def test_the_derivative_printer_writes_back_what_was_parsed(source: str) -> None:
    assert show(value(source)) == source
    assert value(show(value(source))) == value(source)


def test_names_that_start_like_keywords_stay_names() -> None:
    f = tc.compile("y[i] = order[i] + android[i] * nothing[i]", backend="numpy")
    assert f.inputs == ("order", "android", "nothing")
    np.testing.assert_allclose(f(np.ones(2), np.ones(2), np.full(2, 2.0)), np.full(2, 3.0))


@pytest.mark.parametrize(
    "source", ["y[i] = x[i] and", "y = not", "y[i] = x[i] or or z[i]", "y[i] = x[i] not z[i]"]
)
def test_keywords_need_their_operands(source: str) -> None:
    with pytest.raises(tc.ParseError):
        tc.compile(source)


def test_floor_division_and_remainder_as_numpy() -> None:
    a = np.array([7.5, -7.5, 7.5, -7.5, 3.0])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.75])
    f = tc.compile("q[i] = a[i] // b[i]\nr[i] = a[i] % b[i]\nreturn q, r", backend="numpy")
    q, r = f(a, b)
    np.testing.assert_array_equal(q, a // b)
    np.testing.assert_array_equal(r, a % b)


def test_constants_fold_through_the_new_operators() -> None:
    ir = tc.compile("y[i] = x[i] * (7 // 2) + 7 % -2 + where(1 < 2 and not 2 < 1, 1, 0)").ir
    assert "floordiv(" not in ir and "mod(" not in ir and "and(" not in ir
    np.testing.assert_allclose(tc.compile("y[i] = x[i] * (7 // 2)")(np.ones(2)), [3.0, 3.0])
