"""The language's one printer: `parse(print(ast)) == ast`, with only the parentheses needed."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest
from ast_strategies import HERE, expressions, programs
from hypothesis import given, settings

from tensorc.frontend import ast, parse_program, unparse

sys.path.insert(0, str(Path(__file__).parents[1] / "equivalence"))
from corpus import CASES


@settings(max_examples=300, deadline=None)
@given(programs)
def test_parse_of_print_is_the_program(tree):
    text = unparse.program(tree)
    assert parse_program(text) == tree, text


@settings(max_examples=100, deadline=None)
@given(expressions)
def test_printing_is_stable(expr):
    text = unparse.expression(expr)
    again = parse_program(f"y = {text}").statements[0].value
    assert unparse.expression(again) == text


@pytest.mark.parametrize("case", [c for c in CASES if not c.einsum], ids=lambda c: c.id)
def test_corpus_programs_round_trip(case):
    tree = parse_program(case.src)
    assert parse_program(unparse.program(tree)) == tree


@pytest.mark.parametrize(
    ("source", "printed"),
    [
        ("y = (a + b) + c", "y = a + b + c"),
        ("y = a + (b + c)", "y = a + (b + c)"),
        ("y = a - (b - c)", "y = a - (b - c)"),
        ("y = (a * b) / c", "y = a * b / c"),
        ("y = a / (b * c)", "y = a / (b * c)"),
        ("y = a * -b", "y = a * -b"),
        ("y = (-a) ** 2", "y = (-a) ** 2"),
        ("y = -a ** 2", "y = -a ** 2"),
        ("y = a ** b ** c", "y = a ** b ** c"),
        ("y = (a ** b) ** c", "y = (a ** b) ** c"),
        ("y = (a < b) == c", "y = (a < b) == c"),
        ("y = (a + b < c * d)", "y = a + b < c * d"),
        (
            "y[..., (h d)] = sum[j, k](x[..., h, d, j, k])",
            "y[..., (h d)] = sum[j, k](x[..., h, d, j, k])",
        ),
        ("s = A[]", "s = A[]"),
        (
            "y[i] = where(i <= 2, x[i], -inf)\nreturn y, x",
            "y[i] = where(i <= 2, x[i], -inf)\nreturn y, x",
        ),
    ],
)
def test_only_the_needed_parentheses(source, printed):
    assert unparse.program(parse_program(source)) == printed


def test_deep_expressions_print_without_recursion():
    depth = 20_000
    expr: ast.Expr = ast.Name(HERE, "x")
    for _ in range(depth):
        expr = ast.Unary(HERE, "-", expr)
    assert unparse.expression(expr) == "-" * depth + "x"


def test_target_of_a_scalar_and_of_a_tensor():
    assert unparse.target("s", None) == "s"
    assert unparse.target("C", ("i", "(h d)")) == "C[i, (h d)]"


def test_doctests():
    assert doctest.testmod(unparse).failed == 0
