"""contractions_to_matmul: every sum of products becomes reductions, broadcasting products of
what is not summed, and MatMul nodes; the broadcast product over a summed index is never built.

This pass runs on every program (even with `passes=()`), so besides the comparison with the
unoptimised pipeline, answers are checked against `numpy.einsum` written independently.
"""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end, optimise
from tensorc.ir import nodes as ir
from tensorc.ir.printer import format_program
from tensorc.ir.shapes import Sizes
from tensorc.passes.contractions_to_matmul import contractions_to_matmul

FIXTURES = [
    (
        "y[i] = A[i, j] * x[j]",
        """\
inputs: A, x
# y[i] = A[i, j] * x[j]
y[i] = matmul(A[i, j], x[j])[i]
return y""",
        lambda A, x: np.einsum("ij,j->i", A, x),
    ),
    (
        "s = x[i] * y[i]",
        """\
inputs: x, y
# s = x[i] * y[i]
s[] = matmul(x[i], y[i])[]
return s""",
        lambda x, y: np.dot(x, y),
    ),
    (
        # Nothing summed: a broadcasting product is the right thing.
        "D[b, i, j] = x[b, i] * y[b, j]",
        """\
inputs: x, y
# D[b, i, j] = x[b, i] * y[b, j]
D[b, i, j] = mul(x[b, i], y[b, j])[b, i, j]
return D""",
        lambda x, y: np.einsum("bi,bj->bij", x, y),
    ),
    (
        # An index only one factor has is summed before the matmul.
        "s[i] = A[i, j] * B[j, k]",
        """\
inputs: A, B
# s[i] = A[i, j] * B[j, k]
s[i] = matmul(A[i, j], sum[k](B[j, k])[j])[i]
return s""",
        lambda A, B: np.einsum("ij,jk->i", A, B),
    ),
    (
        # The output's first free index picks the left operand: no transpose of the result.
        "C[k, i] = A[i, j] * B[j, k]",
        """\
inputs: A, B
# C[k, i] = A[i, j] * B[j, k]
C[k, i] = matmul(permute(B[j, k], (1, 0))[k, j], permute(A[i, j], (1, 0))[j, i])[k, i]
return C""",
        lambda A, B: (A @ B).T,
    ),
    (
        "y[i] = alpha * A[i, j] * x[j] / beta",
        """\
inputs: alpha, A, x, beta
# y[i] = alpha * A[i, j] * x[j] / beta
y[i] = div(mul(matmul(A[i, j], x[j])[i], alpha)[i], beta)[i]
return y""",
        lambda alpha, A, x, beta: alpha * (A @ x) / beta,
    ),
    (
        "t = A[i, i]",
        """\
inputs: A
# t = A[i, i]
t[] = sum[i](diagonal(A[i, i], 0, 1)[i])[]
return t""",
        np.trace,
    ),
    (
        # Several contracted indices merge into one matmul axis.
        "C[i, k] = A[i, j, l] * B[j, l, k]",
        """\
inputs: A, B
# C[i, k] = A[i, j, l] * B[j, l, k]
%1 = reshape(permute(permute(B[j, l, k], (2, 0, 1))[k, j, l], (1, 2, 0))[j, l, k])[(j l), k]
C[i, k] = matmul(reshape(A[i, j, l])[i, (j l)], %1)[i, k]
return C""",
        lambda A, B: np.einsum("ijl,jlk->ik", A, B),
    ),
    (
        # Several free indices merge into the rows, and are split back afterwards.
        "C[i, m, k] = A[i, m, j] * B[j, k]",
        """\
inputs: A, B
# C[i, m, k] = A[i, m, j] * B[j, k]
%1 = matmul(reshape(A[i, m, j])[(i m), j], permute(permute(B[j, k], (1, 0))[k, j], (1, 0))[j, k])[(i m), k]
C[i, m, k] = reshape(%1)[i, m, k]
return C""",
        lambda A, B: A @ B,
    ),
]


@pytest.mark.parametrize(
    ("source", "expected"), [f[:2] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_contractions_to_matmul_ir(source, expected, ir_text):
    assert ir_text(source, contractions_to_matmul) == expected


@pytest.mark.parametrize(
    ("source", "reference"), [(f[0], f[2]) for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_contractions_to_matmul_keeps_answers(
    source, reference, backend, same_answers, arguments_for
):
    args = arguments_for(source, low=-1.0, high=1.0)
    same_answers(source, (contractions_to_matmul,), backend, arguments=args, reference=reference)


def lowered(source: str, einsum: bool = False) -> ir.Program:
    """The IR that code is generated from, with the default passes."""
    return optimise(front_end(source, einsum=einsum), UNKNOWN_SIZES)


def broadcast_products_over_summed(program: ir.Program) -> list[ir.Map]:
    """`mul` nodes that broadcast two arrays to more axes than either has, where those axes
    include an index that the statement sums away: the product a matmul avoids building."""
    found = []
    for let in program.lets:
        every = {label for node in ir.walk(let.value) for label in node.indices}
        summed = every - set(let.value.indices)
        for node in ir.walk(let.value):
            if isinstance(node, ir.Map) and node.op == "mul":
                widens = all(len(arg.indices) < len(node.labels) for arg in node.args)
                if widens and summed & set(node.labels):
                    found.append(node)
    return found


def node_types(program: ir.Program) -> set[type]:
    return {type(node) for let in program.lets for node in ir.walk(let.value)}


def test_sum_of_products_with_a_broadcast_factor_is_a_matmul():
    program = lowered("C[i, k] = sum[j](A[i, j] * B[j, k] * c[i])")
    assert ir.MatMul in node_types(program)
    assert ir.Contract not in node_types(program)
    assert broadcast_products_over_summed(program) == []
    text = tc.compile("C[i, k] = sum[j](A[i, j] * B[j, k] * c[i])", backend="numpy").source
    assert "A @ B" in text


@pytest.mark.parametrize(
    "source",
    [
        "C[i, k] = A[i, j] * B[j, k]",
        "y[i] = A[i, j] * x[j]",
        "C[b, i, k] = A[b, i, j] * B[b, j, k]",
        "C[..., i, k] = A[..., i, j] * B[..., j, k]",
        "D[i, l] = A[i, j] * B[j, k] * C[k, l]",
        "s = x[i] * A[i, j] * y[j]",
        "r[i] = A[i, j] * B[j, i]",
    ],
)
def test_summed_products_never_materialise_the_broadcast(source):
    program = lowered(source)
    assert ir.MatMul in node_types(program)
    assert broadcast_products_over_summed(program) == []


def test_network_lowers_to_matmuls_only():
    program = lowered("xsb,btc,yud,dvc,stuv,xy->", einsum=True)
    assert ir.Contract not in node_types(program)
    assert sum(isinstance(n, ir.MatMul) for n in ir.walk(program.lets[0].value)) == 5
    assert broadcast_products_over_summed(program) == []


INDEX = st.sampled_from("ijkl")
TERM = st.lists(INDEX, min_size=1, max_size=3, unique=True).map("".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(TERM, min_size=1, max_size=3), st.data())
def test_random_products_lower_to_matmuls_and_compute_einsum(terms, data):
    used = sorted(set("".join(terms)))
    output = "".join(data.draw(st.permutations(used))[: data.draw(st.integers(0, len(used)))])
    spec = ",".join(terms) + "->" + output
    program = lowered(spec, einsum=True)
    assert ir.Contract not in node_types(program)
    if len(terms) <= 2:
        # A pair never builds a product over a summed index. (Longer products follow
        # opt_einsum's path, which may build one where every order must, as in ijk,jkl,kli.)
        assert broadcast_products_over_summed(program) == [], spec
    shared_and_summed = any(sum(c in term for term in terms) >= 2 for c in used if c not in output)
    if shared_and_summed and len(terms) == 2:
        assert ir.MatMul in node_types(program), spec
    rng = np.random.default_rng(0)
    sizes = {"i": 2, "j": 3, "k": 4, "l": 2}
    operands = [rng.standard_normal([sizes[c] for c in term]) for term in terms]
    np.testing.assert_allclose(
        tc.einsum(spec, *operands, backend="numpy"), np.einsum(spec, *operands), atol=1e-10
    )


# --- issue 8, item 9: a factor that uses an index's value ------------------------------------

INDEX_VALUE_PRODUCTS = [
    "Y[i, k] = (j + A[i, j]) * B[j, k]",
    "Y[i, k] = j * B[j, k] * A[i, j]",
    "Y[i, k] = (i + j) * B[j, k]",
    "y[i] = A[i, j] * where(j <= i, x[j], 0)",
    "s = (i * x[i]) * y[i]",
]


def largest_array(program: ir.Program, sizes: Sizes) -> int:
    """The most elements of any array that a node of `program` stands for."""
    return max(
        prod(sizes.shape(node.indices)) for let in program.lets for node in ir.walk(let.value)
    )


@pytest.mark.parametrize("source", INDEX_VALUE_PRODUCTS)
def test_a_factor_with_index_values_is_materialised_and_contracted(source):
    """It was broadcast and summed: 4.2 s and 512 MB for the first one at 400 x 400."""
    program = lowered(source)
    assert ir.MatMul in node_types(program), format_program(program)
    assert broadcast_products_over_summed(program) == [], format_program(program)


def test_no_lowering_builds_an_array_larger_than_the_inputs_and_outputs():
    source = "Y[i, k] = (j + A[i, j]) * B[j, k]"
    sizes = Sizes({"i": 400, "j": 400, "k": 400})
    program = optimise(front_end(source), sizes)
    assert largest_array(program, sizes) == 400 * 400
    assert "A @ B" not in (text := tc.compile(source, backend="numpy").source)
    assert " @ B" in text


@pytest.mark.parametrize("source", INDEX_VALUE_PRODUCTS)
def test_index_value_products_keep_their_answers(source, backend, arguments_for, same_answers):
    args = arguments_for(source, low=-1.0, high=1.0, index_sizes={"i": 3, "j": 4, "k": 2})
    same_answers(source, (contractions_to_matmul,), backend, arguments=args)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_index_value_matmuls_on_torch_promote_as_multiplication_does(dtype):
    torch = pytest.importorskip("torch")
    a = torch.arange(12).reshape(3, 4).to(getattr(torch, dtype))
    b = torch.arange(8).reshape(4, 2).to(getattr(torch, dtype))
    result = tc.compile("Y[i, k] = (j + A[i, j]) * B[j, k]", backend="torch")(a, b)
    expected = ((torch.arange(4) + a)[:, :, None] * b[None]).sum(1)
    assert result.dtype == expected.dtype
    torch.testing.assert_close(result, expected)
