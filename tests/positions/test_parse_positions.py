"""Parsing axes that are positions: affine expressions, boundary rules, tensor values, `+=`."""

from __future__ import annotations

import pytest

import tensorc as tc
from tensorc.frontend import ast, parse_program
from tensorc.frontend.resolve import position_text


def axes_of(source: str, access: bool = True) -> tuple[ast.Axis, ...]:
    statement = parse_program(source).statements[0]
    if not access:
        assert statement.axes is not None
        return statement.axes
    assert isinstance(statement.value, ast.Access)
    return statement.value.axes


@pytest.mark.parametrize(
    ("written", "terms", "offset"),
    [
        ("2*h + kh - 1", ((2, "h"), (1, "kh")), -1),
        ("t - k", ((1, "t"), (-1, "k")), 0),
        ("0", (), 0),
        ("-(j - 2) * 3", ((-3, "j"),), 6),
        ("i + i", ((2, "i"),), 0),
        ("3 - i", ((-1, "i"),), 3),
        ("(h)*2 + 1", ((2, "h"),), 1),
    ],
)
def test_affine_positions_are_coefficients_and_an_offset(written, terms, offset):
    (axis,) = axes_of(f"y[h] = x[{written}]")
    assert isinstance(axis, ast.PositionAxis)
    assert (axis.terms, axis.offset, axis.boundary, axis.lookup) == (terms, offset, "error", None)


def test_a_plain_name_stays_an_index_and_parentheses_do_not_compose():
    assert axes_of("y[i] = x[i]") == (ast.IndexAxis(None, "i"),)  # type: ignore[arg-type]
    assert axes_of("y[i] = x[(i)]") == (ast.IndexAxis(None, "i"),)  # type: ignore[arg-type]
    assert axes_of("y[i] = x[(i j)]") == (ast.ComposedAxis(None, ("i", "j")),)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "boundary", "padding"),
    [
        ("pad(h + kh - 1)", "pad", 0),
        ("pad(h + kh - 2, 2)", "pad", 2),
        ("clamp(i - 1)", "clamp", 0),
        ("wrap(i + 1)", "wrap", 0),
    ],
)
def test_boundary_rules(written, boundary, padding):
    (axis,) = axes_of(f"y[h] = x[{written}]")
    assert isinstance(axis, ast.PositionAxis)
    assert (axis.boundary, axis.padding) == (boundary, padding)
    assert position_text(axis) == written


def test_tensor_valued_positions_and_accumulating_targets():
    statement = parse_program("S[seg[e] + 1, d] += X[e, d]").statements[0]
    assert statement.accumulate
    axis = statement.axes[0]  # type: ignore[index]
    assert isinstance(axis, ast.PositionAxis) and axis.offset == 1
    assert axis.lookup is not None and axis.lookup.tensor == "seg"
    assert position_text(axis) == "seg[e] + 1"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("y[i] = x[i * j]", "a product of two indices"),
        ("y[i] = x[i / 2]", "affine"),
        ("y[i] = x[1.5]", "whole number"),
        ("y[i] = x[pad(i, 1.5)]", "whole number of zeros"),
        ("y[i] = x[pad(i, 1, 2)]", "pad(e) or pad(e, p)"),
        ("y[i] = x[ids[i] + ids[i]]", "one integer tensor"),
        ("y[i] = x[2 * ids[i]]", "only have integers added"),
        ("y[i] = x[pad(ids[i])]", "not a tensor's value"),
        ("y[i] = x[i + pad(i)]", "around a whole axis position"),
        ("y[i] = x[exp(i)]", "affine"),
        ("y[i] = x[i < 2]", "expected"),
    ],
)
def test_bad_positions_are_parse_errors_with_a_caret(source, words):
    with pytest.raises(tc.ParseError) as caught:
        parse_program(source)
    assert words in str(caught.value)
    assert "^" in str(caught.value) and caught.value.line == 1
