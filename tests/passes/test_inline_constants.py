"""inline_constants: a statement made of numbers only (the seed `dL = 1` of a gradient, and
`dl[b] = dL / size(b)` after it) is read as the number where the other operands keep every
axis of the read; multiplying by one is left out."""

from __future__ import annotations

import pytest

from tensorc.passes.inline_constants import inline_constants

FIXTURES = [
    (
        "s = 1\ny[i] = s * x[i]",
        """\
inputs: x
# s = 1
s[] = 1
# y[i] = s * x[i]
y[i] = contract[](x[i])[i]
return y""",
    ),
    (
        # A number broadcast along i is read as the number beside A[i, j].
        "s = 1\nd[i] = s / 4\nz[i, j] = d[i] * A[i, j]",
        """\
inputs: A
# s = 1
s[] = 1
# d[i] = s / 4
%1 = div(1, 4)[]
d[i] = expand(%1)[i]
# z[i, j] = d[i] * A[i, j]
z[i, j] = contract[](%1, A[i, j])[i, j]
return z""",
    ),
    (
        # Summed along i, the broadcast number is an array: it stays a read.
        "s = 2\nd[i] = s * 3\ne = sum[i](d[i])",
        "inputs: \n"  # (no inputs)
        """\
sizes by keyword: i
# s = 2
s[] = 2
# d[i] = s * 3
d[i] = expand(contract[](2, 3)[])[i]
# e = sum[i](d[i])
e[] = contract[i](d[i])[]
return e""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_inline_constants_ir(source, expected, ir_text):
    assert ir_text(source, inline_constants) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_inline_constants_keeps_answers(source, backend, same_answers):
    same_answers(source, (inline_constants,), backend)
