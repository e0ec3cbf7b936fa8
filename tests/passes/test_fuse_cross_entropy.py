"""fuse_cross_entropy: `logsumexp[c](Z[n, c]) - Z[n, y[n]]`, and its mean over the rows,
become one CrossEntropy node (PyTorch's kernel), which stays finite for large logits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from tensorc.passes.fuse_cross_entropy import fuse_cross_entropy

FIXTURES = [
    (
        "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]",
        """\
inputs: Z, y
# nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]
nll[n] = cross_entropy[c](Z[n, c], y[n])[n]
return nll""",
    ),
    (
        "loss = mean[n](logsumexp[c](Z[n, c]) - Z[n, y[n]])",
        """\
inputs: Z, y
# loss = mean[n](logsumexp[c](Z[n, c]) - Z[n, y[n]])
loss[] = cross_entropy[c](Z[n, c], y[n], mean)[]
return loss""",
    ),
    (
        # classes in the middle, rows in another order than the logits'
        "nll[t, b] = logsumexp[c](Z[b, c, t]) - Z[b, y[t, b], t]",
        """\
inputs: Z, y
# nll[t, b] = logsumexp[c](Z[b, c, t]) - Z[b, y[t, b], t]
nll[t, b] = cross_entropy[c](Z[b, c, t], y[t, b])[t, b]
return nll""",
    ),
]

NOT_CROSS_ENTROPY = [
    "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n] + 1]",  # another class
    "nll[n] = logsumexp[c](Z[n, c]) - X[n, y[n]]",  # another tensor
    "nll[n] = logsumexp[c](Z[n, c]) + Z[n, y[n]]",  # not a difference
    "nll[n] = max[c](Z[n, c]) - Z[n, y[n]]",  # not logsumexp
    "loss[n] = mean[c](logsumexp[k](Z[n, k]) - Z[n, y[c]])",  # a class per (n, c)
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_fuse_cross_entropy_ir(source, expected, ir_text):
    assert ir_text(source, fuse_cross_entropy) == expected


@pytest.mark.parametrize("source", NOT_CROSS_ENTROPY)
def test_other_shapes_are_left_alone(source, ir_text):
    assert ir_text(source, fuse_cross_entropy) == ir_text(source)


def _reference(Z, y):
    return logsumexp(Z, axis=1) - np.take_along_axis(Z, y[:, None], 1)[:, 0]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_cross_entropy_is_stable_and_right(dtype, backend, run_program):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((6, 5)) * 1000  # exp(1000) overflows
    y = rng.integers(0, 5, 6).astype(dtype)
    expected_values = (_reference(Z, y), _reference(Z, y).mean())
    for (source, _), expected in zip(FIXTURES[:2], expected_values, strict=True):
        for passes in ((), (fuse_cross_entropy,)):
            found = run_program(source, backend, passes, [Z, y], {})
            assert np.all(np.isfinite(found))
            np.testing.assert_allclose(found, expected, rtol=1e-6 if backend == "jax" else 1e-12)
    Z3, y3 = rng.standard_normal((2, 5, 3)), rng.integers(0, 5, (3, 2)).astype(dtype)
    expected = (logsumexp(Z3, 1) - np.take_along_axis(Z3, y3.T[:, None, :], 1)[:, 0]).T
    found = run_program(FIXTURES[2][0], backend, (fuse_cross_entropy,), [Z3, y3], {})
    np.testing.assert_allclose(found, expected, rtol=1e-6 if backend == "jax" else 1e-12)
