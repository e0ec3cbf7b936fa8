"""reductions_in_storage_order: the elementwise operand of a reduction is computed in the
order its arrays are stored, not read transposed (30x on XLA's CPU backend)."""

from __future__ import annotations

import pytest

from tensorc.passes import LOWERING
from tensorc.passes.contractions_to_matmul import contractions_to_matmul
from tensorc.passes.reductions_in_storage_order import reductions_in_storage_order

FIXTURES = [
    (
        # The reduced result (smaller) is transposed instead.
        "O[k, j] = max[i](exp(A[i]) + B[i, j, k])",
        """\
inputs: A, B
# O[k, j] = max[i](exp(A[i]) + B[i, j, k])
O[k, j] = permute(max[i](add(exp(A[i])[i], B[i, j, k])[i, j, k])[j, k], (1, 0))[k, j]
return O""",
    ),
    (
        # Already in the stored order: unchanged.
        "y[j] = sum[i](A[i, j] + B[i, j])",
        """\
inputs: A, B
# y[j] = sum[i](A[i, j] + B[i, j])
y[j] = sum[i](add(A[i, j], B[i, j])[i, j])[j]
return y""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_reductions_in_storage_order_ir(source, expected, ir_text):
    assert ir_text(source, reductions_in_storage_order) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_reductions_in_storage_order_keeps_answers(source, backend, same_answers):
    same_answers(source, (reductions_in_storage_order,), backend)


def test_a_product_summed_after_lowering_reads_no_transpose(ir_text):
    """`dg[f] = sum[b](dY[b, f] * (X[b, f] - m[b]) / s[b])`, a layer norm's gradient for its gain:
    lowering made it a sum of a product in (f, b) order; it runs in (b, f) order."""
    source = "dg[f] = sum[b](dY[b, f] * (X[b, f] - m[b]) / s[b])"
    assert "permute" in ir_text(source, contractions_to_matmul)
    lowered = ir_text(source, contractions_to_matmul, reductions_in_storage_order)
    assert "permute" not in lowered
    assert reductions_in_storage_order in LOWERING
