"""plan_contractions: products of three or more tensors become nested pairwise contractions
along opt_einsum's cheapest path, planned with the real sizes when they are known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes
from tensorc.passes.plan_contractions import plan_contractions

CHAIN = "D[i, l] = A[i, j] * B[j, k] * C[k, l]"
NETWORK_SPEC = "xsb,btc,yud,dvc,stuv,xy->"
NETWORK = "r = A[x, s, b] * B[b, t, c] * C[y, u, d] * D[d, v, c] * E[s, t, u, v] * F[x, y]"

FIXTURES = [
    (
        # Nominal sizes (64 each): any pair first costs the same; opt_einsum takes A, B.
        CHAIN,
        """\
inputs: A, B, C
# D[i, l] = A[i, j] * B[j, k] * C[k, l]
D[i, l] = contract[k](permute(C[k, l], (1, 0))[l, k], contract[j](A[i, j], B[j, k])[i, k])[i, l]
return D""",
    ),
    (
        # Scalar factors stay in the outer contraction.
        "y = alpha * A[i, j] * B[j, k] * C[k, i]",
        """\
inputs: alpha, A, B, C
# y = alpha * A[i, j] * B[j, k] * C[k, i]
y[] = contract[i, k](permute(C[k, i], (1, 0))[i, k], contract[j](A[i, j], B[j, k])[i, k], alpha)[]
return y""",
    ),
    (
        NETWORK,
        """\
inputs: A, B, C, D, E, F
# r = A[x, s, b] * B[b, t, c] * C[y, u, d] * D[d, v, c] * E[s, t, u, v] * F[x, y]
%1 = contract[d](C[y, u, d], permute(D[d, v, c], (2, 0, 1))[c, d, v])[c, y, u, v]
%2 = contract[t, c](B[b, t, c], contract[u, v](E[s, t, u, v], %1)[s, t, c, y])[s, b, y]
r[] = contract[x, y](F[x, y], contract[s, b](A[x, s, b], %2)[x, y])[]
return r""",
    ),
    (
        "C[..., i, l] = A[..., i, j] * B[..., j, k] * D[k, l]",
        """\
inputs: A, B, D
# C[..., i, l] = A[..., i, j] * B[..., j, k] * D[k, l]
C[..., i, l] = contract[k](permute(D[k, l], (1, 0))[l, k], contract[j](A[..., i, j], B[..., j, k])[..., i, k])[..., i, l]
return C""",
    ),
    (
        # Two tensors: nothing to plan.
        "C[i, k] = A[i, j] * B[j, k]",
        """\
inputs: A, B
# C[i, k] = A[i, j] * B[j, k]
C[i, k] = contract[j](A[i, j], permute(B[j, k], (1, 0))[k, j])[i, k]
return C""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_plan_contractions_ir(source, expected, ir_text):
    assert ir_text(source, plan_contractions) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_plan_contractions_keeps_answers(source, backend, same_answers, arguments_for):
    args = arguments_for(source, low=-1.0, high=1.0)
    same_answers(source, (plan_contractions,), backend, arguments=args)


def _path(source: str, sizes: Sizes = UNKNOWN_SIZES, einsum: bool = False) -> ir.PathReport:
    planned = plan_contractions(front_end(source, einsum=einsum), sizes)
    report = planned.lets[0].value.path
    assert report is not None
    return report


def test_network_path_is_far_cheaper_than_naive():
    report = _path(NETWORK_SPEC, einsum=True)
    assert report.equation == "xsb,btc,yud,cdv,stuv,xy->"  # in the program's index names
    assert len(report.steps) == 5
    assert report.naive_flops / report.optimized_flops > 1e5
    real = _path(NETWORK_SPEC, Sizes(dict.fromkeys("xsbtcyudv", 8)), einsum=True)
    assert real.naive_flops == pytest.approx(6 * 8**9)
    assert real.naive_flops / real.optimized_flops > 1e3
    assert real.largest_intermediate <= 8**4


def test_network_report_is_in_the_ir_text_and_the_answer_matches_einsum():
    f = tc.compile(NETWORK, backend="numpy")
    assert "#   path for xsb,btc,yud,cdv,stuv,xy->:" in f.ir
    assert "naive FLOPs 1.08e+17, optimised 1.42e+11" in f.ir
    rng = np.random.default_rng(1)
    sizes = dict(zip("xsbtcyudv", (2, 3, 2, 3, 2, 3, 2, 3, 2), strict=True))
    operands = [
        rng.standard_normal([sizes[c] for c in term]) for term in NETWORK_SPEC[:-2].split(",")
    ]
    expected = np.einsum(NETWORK_SPEC, *operands)
    np.testing.assert_allclose(f(*operands), expected, rtol=1e-10)
    np.testing.assert_allclose(tc.einsum(NETWORK_SPEC, *operands), expected, rtol=1e-10)
    assert "1.08e+17" not in f.ir_for(*operands)  # planned again with the real sizes


@pytest.mark.parametrize(
    ("sizes", "first_step"),
    [
        # Tall A, wide C: B·C first keeps the intermediate small ((l, j) = 2x2).
        ({"i": 1000, "j": 2, "k": 1000, "l": 2}, "lk,jk->lj"),
        # Wide A, tall C: A·B first.
        ({"i": 2, "j": 1000, "k": 2, "l": 1000}, "jk,ij->ki"),
    ],
)
def test_planning_uses_the_real_sizes(sizes, first_step):
    report = _path(CHAIN, Sizes(sizes))
    assert report.steps[0] == first_step
    assert report.optimized_flops < report.naive_flops / 100


def test_calls_are_planned_for_their_own_shapes():
    f = tc.compile(CHAIN, backend="numpy")
    tall = (np.ones((100, 2)), np.ones((2, 100)), np.ones((100, 2)))
    wide = (np.ones((2, 100)), np.ones((100, 2)), np.ones((2, 100)))
    assert "lk,jk->lj" in f.ir_for(*tall)
    assert "jk,ij->ki" in f.ir_for(*wide)
    assert f.source_for(*tall) != f.source_for(*wide)
    for args in (tall, wide):
        np.testing.assert_allclose(f(*args), args[0] @ args[1] @ args[2])


INDEX = st.sampled_from("ijklm")
TERM = st.lists(INDEX, min_size=1, max_size=3, unique=True).map("".join)


@settings(max_examples=40, deadline=None)
@given(st.lists(TERM, min_size=3, max_size=5), st.data())
def test_planned_products_are_pairwise_and_compute_einsum(terms, data):
    used = sorted(set("".join(terms)))
    output = "".join(data.draw(st.permutations(used))[: data.draw(st.integers(0, len(used)))])
    spec = ",".join(terms) + "->" + output
    planned = plan_contractions(front_end(spec, einsum=True), UNKNOWN_SIZES)
    contracts = [n for n in ir.walk(planned.lets[0].value) if isinstance(n, ir.Contract)]
    assert all(sum(1 for f in c.factors if f.indices) <= 2 for c in contracts), spec
    report = planned.lets[0].value.path
    assert report is not None and report.optimized_flops <= report.naive_flops
    rng = np.random.default_rng(0)
    sizes = {c: 2 + k % 2 for k, c in enumerate("ijklm")}
    operands = [rng.standard_normal([sizes[c] for c in term]) for term in terms]
    np.testing.assert_allclose(
        tc.einsum(spec, *operands, backend="numpy"), np.einsum(spec, *operands), atol=1e-10
    )
