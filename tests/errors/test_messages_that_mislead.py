"""Issue 8, items 11 and 14: programs whose errors escaped as other exceptions or said the
wrong thing, and a program that silently meant something else than it likely should."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorc as tc

MATMUL = "C[i, k] = A[i, j] * B[j, k]"


# --- item 11: a number too large for a float ------------------------------------------------


@pytest.mark.parametrize("digits", [310, 400, 5000])
def test_an_integer_literal_beyond_a_float_is_a_parse_error(digits):
    """400 digits raised OverflowError, 5000 digits lark's VisitError."""
    source = "y[i] = A[i] * 1" + "0" * (digits - 1)
    with pytest.raises(tc.ParseError) as caught:
        tc.compile(source)
    assert caught.value.message.startswith(f"the number 10000000...0000 ({digits} digits) is too")
    assert (caught.value.line, caught.value.column) == (1, 15)


def test_the_largest_integer_literals_still_compile():
    f = tc.compile("y[i] = A[i] * 1" + "0" * 308, backend="numpy")
    assert f(np.ones(1))[0] == 1e308


# --- item 14: a likely typo that the Einstein rule would sum silently ------------------------


def test_an_index_summed_alone_beside_a_similar_one_warns():
    with pytest.warns(tc.TensorcWarning) as caught:
        tc.compile("C[i, k] = A[i, j] * B[jj, k]  # a typo", backend="numpy")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("index 'jj' appears only once in this statement")
    assert "the similar index 'j'" in message
    assert "line 1, column 23" in message
    assert caught[0].filename == __file__  # attributed to the caller, not to tensorc


@pytest.mark.parametrize(
    "source",
    [
        MATMUL,
        "C[i, k] = sum[j](A[i, j]) * sum[jj](B[jj, k])",  # both sums written out: meant
        "y[i] = A[i, j] * x[k]",  # j and k alone, but not similar names
    ],
)
def test_programs_without_a_likely_typo_do_not_warn(source):
    with warnings.catch_warnings():
        warnings.simplefilter("error", tc.TensorcWarning)
        tc.compile(source)


def test_derivatives_and_einsums_do_not_warn_again():
    with pytest.warns(tc.TensorcWarning) as caught:
        tc.grad("L = A[i, j] * B[jj, k]", "A", backend="numpy")
    assert len(caught) == 1  # for the user's program, not for the derivative tensorc wrote
    with warnings.catch_warnings():
        warnings.simplefilter("error", tc.TensorcWarning)
        tc.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((3, 4)))


# --- item 14: the standalone module called without a size ------------------------------------


def test_the_standalone_module_names_the_sizes_a_call_left_out():
    """It raised `TypeError: unsupported operand type(s) for //: 'int' and 'NoneType'`."""
    source = tc.compile("X[b, h, n, d] = Y[b, n, (h d)]", backend="numpy").source
    namespace: dict[str, object] = {}
    exec(compile(source, "generated", "exec"), namespace)
    program = namespace["program"]
    with pytest.raises(TypeError) as caught:
        program(np.ones((2, 3, 8)))  # type: ignore[operator]
    assert str(caught.value) == "program() needs h or d by keyword: they split Y.shape[2]"
    assert program(np.ones((2, 3, 8)), d=4).shape == (2, 2, 3, 4)  # type: ignore[operator]


def test_three_split_sizes_need_all_but_one():
    source = tc.compile("X[a, b, c] = Y[(a b c)]", backend="numpy").source
    namespace: dict[str, object] = {}
    exec(compile(source, "generated", "exec"), namespace)
    with pytest.raises(TypeError, match=r"needs all but one of a, b, c by keyword"):
        namespace["program"](np.ones(24), a=2)  # type: ignore[operator]
    assert namespace["program"](np.ones(24), a=2, b=3).shape == (2, 3, 4)  # type: ignore[operator]
