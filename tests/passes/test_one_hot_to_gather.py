"""one_hot_to_gather: a sum over `v` of `where(tok[i] == v, 1, 0) * W[v, d]` reads the rows
`tok[i]` of `W` (zeros where a position is no row), never a one-hot matrix."""

from __future__ import annotations

import numpy as np
import pytest

from tensorc.passes.one_hot_to_gather import one_hot_to_gather

FIXTURES = [
    (
        "E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d]",
        """\
inputs: tok, W
# E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d]
E[i, d] = gather(W[v, d] at [pad(tok[i]), d])[i, d]
return E""",
    ),
    (
        # a comparison used as a number, the index first, and another factor
        "E[i, d] = (v == tok[i]) * W[v, d] * s[i]",
        """\
inputs: tok, W, s
# E[i, d] = (v == tok[i]) * W[v, d] * s[i]
E[i, d] = contract[](gather(W[v, d] at [pad(tok[i]), d])[i, d], s[i])[i, d]
return E""",
    ),
    (
        # the table's rows along its last axis, positions of rank 2, an explicit sum
        "E[b, d, t] = sum[v]((tok[b, t] == v) * W[d, v])",
        """\
inputs: tok, W
# E[b, d, t] = sum[v]((tok[b, t] == v) * W[d, v])
E[b, d, t] = permute(gather(W[d, v] at [d, pad(tok[b, t])])[d, b, t], (1, 0, 2))[b, d, t]
return E""",
    ),
]

# Not the idiom: each must come out unchanged.
NOT_ONE_HOT = [
    "E[i, v] = where(tok[i] == v, 1.0, 0.0) * W[v]",  # v is not summed
    "E[i, d] = where(tok[i] == v, 2.0, 0.0) * W[v, d]",  # not a one
    "E[i, d] = where(tok[i] < v, 1.0, 0.0) * W[v, d]",  # not an equality
    "E[i] = where(tok[i] == v, 1.0, 0.0) * W[v, i]",  # the lookup's index is the table's
    "E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d] * U[v, d]",  # two tables
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_one_hot_to_gather_ir(source, expected, ir_text):
    assert ir_text(source, one_hot_to_gather) == expected


@pytest.mark.parametrize("source", NOT_ONE_HOT)
def test_other_shapes_are_left_alone(source, ir_text):
    assert ir_text(source, one_hot_to_gather) == ir_text(source)


@pytest.mark.parametrize(
    "tok",
    [
        np.array([0, 3, 1, 3]),
        np.array([0, 4, -1, 2]),  # outside: zero rows, as the one-hot gives
        np.array([0.0, 2.5, 3.0, 1.0]),  # not whole: zero rows too
        np.array([True, False, True, True]),
    ],
    ids=["in range", "outside", "float", "bool"],
)
def test_the_gather_gives_what_the_one_hot_gives(tok, backend, run_program):
    """On JAX, where a pass over the result to zero it would cost several gathers, a position
    outside (or not whole) is read as JAX's gathers read it: clamped (truncated first)."""
    W = np.arange(12.0).reshape(4, 3)
    source = FIXTURES[0][0]
    expected = (tok[:, None] == np.arange(4)).astype(float) @ W
    np.testing.assert_array_equal(run_program(source, backend, (), [tok, W], {}), expected)
    if backend == "jax":
        expected = W[np.clip(tok.astype(int), 0, 3)]
    found = run_program(source, backend, (one_hot_to_gather,), [tok, W], {})
    np.testing.assert_array_equal(found, expected)
