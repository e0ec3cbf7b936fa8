"""stable_rewrites: `log(sum[j](exp(x)))` becomes `logsumexp[j](x)`, which stays finite."""

from __future__ import annotations

import numpy as np
import pytest

from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.passes import PASSES
from tensorc.passes.stable_rewrites import stable_rewrites

FIXTURES = [
    (
        # The derivative of a logsumexp: the softmax, in one operation.
        "P[i, j] = exp(A[i, j] - logsumexp[j](A[i, j]))",
        """\
inputs: A
# P[i, j] = exp(A[i, j] - logsumexp[j](A[i, j]))
P[i, j] = softmax[j](A[i, j])[i, j]
return P""",
    ),
    (
        "y[i] = log(sum[j](exp(A[i, j])))",
        """\
inputs: A
# y[i] = log(sum[j](exp(A[i, j])))
y[i] = logsumexp[j](A[i, j])[i]
return y""",
    ),
    (
        "y = log(sum[i, j](exp(A[i, j])))",
        """\
inputs: A
# y = log(sum[i, j](exp(A[i, j])))
y[] = logsumexp[i, j](A[i, j])[]
return y""",
    ),
    (
        "y[j] = log(sum[i](exp(A[i, j] - m[j])))",
        """\
inputs: A, m
# y[j] = log(sum[i](exp(A[i, j] - m[j])))
y[j] = logsumexp[i](sub(permute(A[i, j], (1, 0))[j, i], m[j])[j, i])[j]
return y""",
    ),
    (
        # Inside a larger expression, and the rest of the statement is untouched.
        "P[i, j] = A[i, j] - log(sum[k](exp(A[i, k])))",
        """\
inputs: A
# P[i, j] = A[i, j] - log(sum[k](exp(A[i, k])))
P[i, j] = sub(A[i, j], logsumexp[k](A[i, k])[i])[i, j]
return P""",
    ),
]

# Shapes that are not log-sum-exp: each must come out unchanged.
NOT_LOGSUMEXP = [
    "y[i] = log(sum[j](exp(A[i, j]) + 1))",
    "y[i] = log(max[j](exp(A[i, j])))",
    "y[i] = log(sum[j](exp(A[i, j]) * w[j]))",
    "y[i] = exp(sum[j](log(A[i, j])))",
    "y[i] = log(sum[j](A[i, j]))",
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_stable_rewrites_ir(source, expected, ir_text):
    assert ir_text(source, stable_rewrites) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES] + NOT_LOGSUMEXP)
def test_stable_rewrites_keep_answers(source, backend, same_answers):
    same_answers(source, (stable_rewrites,), backend)


@pytest.mark.parametrize("source", NOT_LOGSUMEXP)
def test_other_shapes_are_unchanged(source):
    program = front_end(source)
    assert stable_rewrites(program, UNKNOWN_SIZES) == program


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("centre", [1000.0, -1000.0])
def test_logsumexp_stays_finite_for_large_inputs(centre, arguments_for, run_program):
    """exp(±1000) overflows (or underflows to 0) in float64; the rewritten program does not."""
    source = "y[i] = log(sum[j](exp(A[i, j])))"
    (a,), _ = arguments_for(source, index_sizes={"i": 3, "j": 5}, low=-1.0, high=1.0)
    a = a + centre
    expected = centre + np.log(np.exp(a - centre).sum(axis=1))
    for backend in ("numpy", "jax", "torch"):
        naive = run_program(source, backend, (), [a], {})
        assert not np.isfinite(naive).all(), backend  # the pass is what keeps it finite
        for passes in ((stable_rewrites,), PASSES):
            got = run_program(source, backend, passes, [a], {})
            assert np.isfinite(got).all(), (backend, passes)
            np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=backend)


def test_logsumexp_over_every_axis_stays_finite(run_program):
    source = "y = log(sum[i, j](exp(A[i, j])))"
    a = np.full((2, 3), 1000.0)
    for backend in ("numpy", "jax", "torch"):
        got = run_program(source, backend, PASSES, [a], {})
        np.testing.assert_allclose(got, 1000.0 + np.log(6.0), rtol=1e-6, err_msg=backend)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_logsumexp_of_minus_inf_row_is_minus_inf(run_program):
    source = "y[i] = log(sum[j](exp(A[i, j])))"
    a = np.array([[-np.inf, -np.inf], [0.0, 0.0]])
    for backend in ("numpy", "jax", "torch"):
        got = run_program(source, backend, PASSES, [a], {})
        assert got[0] == -np.inf, backend
        np.testing.assert_allclose(got[1], np.log(2.0), rtol=1e-6)
