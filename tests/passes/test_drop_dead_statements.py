"""drop_dead_statements: statements that no returned value depends on are removed."""

from __future__ import annotations

import numpy as np
import pytest

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.passes.drop_dead_statements import drop_dead_statements

FIXTURES = [
    (
        "a[i] = exp(x[i])\nb[i] = x[i] + 1\nc[i] = b[i] * 2",
        """\
inputs: x
# b[i] = x[i] + 1
b[i] = add(x[i], 1)[i]
# c[i] = b[i] * 2
c[i] = contract[](b[i], 2)[i]
return c""",
    ),
    (
        # A chain that only dead statements read dies with them.
        "a[i] = exp(x[i])\nb[i] = a[i] * 2\nc[i] = x[i] + 1",
        """\
inputs: x
# c[i] = x[i] + 1
c[i] = add(x[i], 1)[i]
return c""",
    ),
    (
        # Every returned target is live.
        "a[i] = exp(x[i])\nb[i] = x[i] + 1\nc[i] = b[i] * 2\nreturn a, c",
        """\
inputs: x
# a[i] = exp(x[i])
a[i] = exp(x[i])[i]
# b[i] = x[i] + 1
b[i] = add(x[i], 1)[i]
# c[i] = b[i] * 2
c[i] = contract[](b[i], 2)[i]
return a, c""",
    ),
    (
        # A definition that is overwritten before anyone reads it is dead.
        "a[i] = exp(x[i])\na[i] = x[i] + 1",
        """\
inputs: x
# a[i] = x[i] + 1
a#2[i] = add(x[i], 1)[i]
return a#2""",
    ),
    (
        # A definition that the redefinition reads is live.
        "a[i] = exp(x[i])\na[i] = a[i] + 1",
        """\
inputs: x
# a[i] = exp(x[i])
a[i] = exp(x[i])[i]
# a[i] = a[i] + 1
a#2[i] = add(a[i], 1)[i]
return a#2""",
    ),
    (
        # An input that only a dead statement reads stays an input: the signature is kept.
        "a[i] = exp(w[i])\nc[i] = x[i] * 2",
        """\
inputs: w, x
# c[i] = x[i] * 2
c[i] = contract[](x[i], 2)[i]
return c""",
    ),
    (
        "a[i] = x[i] * 2\nreturn x",
        """\
inputs: x
return x""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_drop_dead_statements_ir(source, expected, ir_text):
    assert ir_text(source, drop_dead_statements) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_drop_dead_statements_keeps_answers(source, backend, same_answers):
    same_answers(source, (drop_dead_statements,), backend)


def test_all_live_program_is_unchanged():
    program = front_end("C[i, k] = A[i, j] * B[j, k]\nD[i] = C[i, k] * x[k]")
    assert drop_dead_statements(program, UNKNOWN_SIZES) == program


def test_dead_statement_is_absent_from_generated_code():
    source = "a[i] = exp(w[i])\nc[i] = x[i] * 2"
    for backend in ("numpy", "jax", "torch"):
        text = tc.compile(source, backend=backend).source
        assert "exp(" not in text.split("def program")[1], backend
        assert "def program(w, x):" in text, backend


def test_dead_statement_with_a_size_keyword_still_runs():
    source = "X[b, h, n, d] = Y[b, n, (h d)]\nz[i] = q[i] * 2"
    y, q = np.ones((2, 3, 6)), np.arange(4.0)
    for backend in ("numpy", "jax", "torch"):
        f = tc.compile(source, backend=backend)
        np.testing.assert_allclose(np.asarray(f(y, q, h=2)), 2 * q, err_msg=backend)
