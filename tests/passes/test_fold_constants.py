"""fold_constants: elementwise operations on constants are evaluated at compile time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.ir import nodes as ir
from tensorc.passes import PASSES
from tensorc.passes.fold_constants import const_text, fold_constants

FIXTURES = [
    (
        "y[i] = x[i] * (2 + 3) - log(1)",
        """\
inputs: x
# y[i] = x[i] * (2 + 3) - log(1)
y[i] = sub(contract[](x[i], 5)[i], 0)[i]
return y""",
    ),
    (
        "y[i] = x[i] + sqrt(4) - exp(0) + abs(0 - 7)",
        """\
inputs: x
# y[i] = x[i] + sqrt(4) - exp(0) + abs(0 - 7)
y[i] = add(sub(add(x[i], 2)[i], 1)[i], 7)[i]
return y""",
    ),
    (
        "M[i, j] = where(j <= i, S[i, j], -inf)",
        """\
inputs: S
# M[i, j] = where(j <= i, S[i, j], -inf)
M[i, j] = where(le(index(j), index(i))[i, j], S[i, j], -inf)[i, j]
return M""",
    ),
    (
        # Non-integers print exactly (repr), so the generated code computes the same number;
        # a product of constants folds too.
        "y[i] = x[i] * (0.1 + 0.2) + pi / 2",
        """\
inputs: x
# y[i] = x[i] * (0.1 + 0.2) + pi / 2
y[i] = add(contract[](x[i], 0.30000000000000004)[i], 1.5707963267948966)[i]
return y""",
    ),
    (
        # Float semantics, as the backends compute it: log(0) is -inf, not Python's error.
        "y[i] = x[i] + log(0)",
        """\
inputs: x
# y[i] = x[i] + log(0)
y[i] = add(x[i], -inf)[i]
return y""",
    ),
    (
        "y[i] = alpha - (1 + 1) * x[i]",
        """\
inputs: alpha, x
# y[i] = alpha - (1 + 1) * x[i]
y[i] = sub(alpha, contract[](2, x[i])[i])[i]
return y""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_fold_constants_ir(source, expected, ir_text):
    assert ir_text(source, fold_constants) == expected


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_fold_constants_keeps_answers(source, backend, same_answers):
    # With passes=() the functions of constants reach the backends (torch.sqrt(4) once failed).
    same_answers(source, (fold_constants,), backend)


def test_nothing_to_fold_is_unchanged():
    program = front_end("C[i, k] = A[i, j] * B[j, k] * alpha")
    assert fold_constants(program, UNKNOWN_SIZES) == program


def test_constant_text():
    assert const_text(5.0) == "5"
    assert const_text(-2.0) == "-2"
    assert const_text(0.5) == "0.5"
    assert const_text(math.inf) == "inf"
    assert const_text(-math.inf) == "-inf"
    assert const_text(math.pi) == "pi"
    assert const_text(1e20) == "1e+20"


LEAVES = st.sampled_from([("0", 0.0), ("1", 1.0), ("3", 3.0), ("0.5", 0.5), ("pi", math.pi)])


def _expressions(children):
    """Text and Python value of a `+`, `-`, `exp`, `abs` or unary minus over `children`."""
    add = st.tuples(children, children).map(
        lambda t: (f"({t[0][0]} + {t[1][0]})", t[0][1] + t[1][1])
    )
    sub = st.tuples(children, children).map(
        lambda t: (f"({t[0][0]} - {t[1][0]})", t[0][1] - t[1][1])
    )
    exp = children.filter(lambda t: t[1] < 20).map(lambda t: (f"exp({t[0]})", math.exp(t[1])))
    absolute = children.map(lambda t: (f"abs({t[0]})", abs(t[1])))
    neg = children.map(lambda t: (f"(-{t[0]})", -t[1]))
    return add | sub | exp | absolute | neg


CONSTANT_EXPRESSIONS = st.recursive(LEAVES, _expressions, max_leaves=5).filter(
    lambda t: abs(t[1]) < 1e6
)


@settings(max_examples=60, deadline=None)
@given(CONSTANT_EXPRESSIONS)
def test_sums_and_unary_functions_of_constants_fold_to_their_value(expression):
    """Any tree of + - exp abs over constants becomes one constant with Python's value."""
    text, expected = expression
    source = f"y[i] = x[i] + {text}"
    folded = fold_constants(front_end(source), UNKNOWN_SIZES).lets[0].value
    assert isinstance(folded, ir.Map) and folded.op == "add"
    constant = folded.args[1]
    assert isinstance(constant, ir.Const)
    assert constant.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    x = np.arange(3.0)
    got = tc.compile(source, backend="numpy")(x)
    np.testing.assert_allclose(got, x + expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_folding_to_nan_keeps_a_computable_constant(backend, run_program):
    """Once a bug: inf - inf folded to nan, printed as an undefined name `nan`."""
    got = run_program("y[i] = x[i] + (inf - inf)", backend, PASSES, [np.arange(3.0)], {})
    assert np.isnan(got).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("passes", [(), PASSES], ids=["no passes", "all passes"])
@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_division_by_constant_zero_follows_the_backend(backend, passes, run_program):
    """Once a bug: `1 / 0` was left as Python arithmetic and raised ZeroDivisionError."""
    got = run_program("y[i] = x[i] / 0", backend, passes, [np.array([1.0, 2.0])], {})
    assert np.isposinf(got).all()
