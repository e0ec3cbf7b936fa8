"""counts_to_sizes: `sum[j](x ** 0)`, the count of elements that derivative programs divide
by, becomes the size of `j`, which nothing computes."""

from __future__ import annotations

import pytest

from tensorc.ir.shapes import Sizes
from tensorc.passes.counts_to_sizes import counts_to_sizes

SIZES = Sizes({"i": 2, "j": 3, "k": 4})

FIXTURES = [
    (
        # A count of all the elements is a number wherever it is.
        "n = sum[i, j](A[i, j] ** 0)\ny[i] = x[i] / n",
        """\
inputs: A, x
# n = sum[i, j](A[i, j] ** 0)
n[] = size(i, j)
# y[i] = x[i] / n
y[i] = div(x[i], n)[i]
return y""",
    ),
    (
        # A count broadcast against an operand that has its axes.
        "y[i] = x[i] / sum[j](A[i, j] ** 0)",
        """\
inputs: x, A
# y[i] = x[i] / sum[j](A[i, j] ** 0)
y[i] = div(x[i], size(j))[i]
return y""",
    ),
    (
        "m[i] = sum[j](A[i, j]) / sum[j](A[i, j] ** 0)",
        """\
inputs: A
# m[i] = sum[j](A[i, j]) / sum[j](A[i, j] ** 0)
m[i] = div(contract[j](A[i, j])[i], size(j))[i]
return m""",
    ),
    (
        # Nothing else has the count's axes: it stays (a number would lose them).
        "y[i] = sum[j](A[i, j] ** 0)",
        """\
inputs: A
# y[i] = sum[j](A[i, j] ** 0)
y[i] = sum[j](pow(A[i, j], 0)[i, j])[i]
return y""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_counts_to_sizes_ir(source, expected, ir_text):
    assert ir_text(source, counts_to_sizes, sizes=SIZES) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_counts_to_sizes_keeps_answers(source, backend, same_answers):
    same_answers(source, (counts_to_sizes,), backend)


def test_generic_code_counts_only_what_an_input_sizes(ir_text):
    """Code for unknown sizes reads sizes off the inputs: a count along an axis that no
    other read of an input has is left as it is."""
    source = "y[i] = x[i] / sum[j](A[i, j] ** 0)"
    assert "size(j)" not in ir_text(source, counts_to_sizes)
    assert "size(j)" in ir_text(f"{source} + sum[j](A[i, j])", counts_to_sizes)
