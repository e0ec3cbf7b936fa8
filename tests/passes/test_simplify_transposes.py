"""simplify_transposes: identity permutes and reshapes vanish; a permute of a permute, or a
reshape of a reshape, becomes one.

The pass runs after contractions_to_matmul (whose operand permutes often undo the reads'
permutes), so most fixtures show the two together; hand-built IR pins down the rules alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end, generate, load
from tensorc.ir import nodes as ir
from tensorc.ir.sources import NONE_GIVEN
from tensorc.passes.contractions_to_matmul import contractions_to_matmul
from tensorc.passes.simplify_transposes import simplify_transposes

FIXTURES = [
    (
        "C[i, k] = A[i, j] * B[j, k]",
        """\
inputs: A, B
# C[i, k] = A[i, j] * B[j, k]
C[i, k] = matmul(A[i, j], B[j, k])[i, k]
return C""",
        lambda A, B: A @ B,
    ),
    (
        "C[b, i, k] = A[b, i, j] * B[b, j, k]",
        """\
inputs: A, B
# C[b, i, k] = A[b, i, j] * B[b, j, k]
C[b, i, k] = matmul(A[b, i, j], B[b, j, k])[b, i, k]
return C""",
        lambda A, B: A @ B,
    ),
    (
        "C[i, k] = A[i, j, l] * B[j, l, k]",
        """\
inputs: A, B
# C[i, k] = A[i, j, l] * B[j, l, k]
C[i, k] = matmul(reshape(A[i, j, l])[i, (j l)], reshape(B[j, l, k])[(j l), k])[i, k]
return C""",
        lambda A, B: np.einsum("ijl,jlk->ik", A, B),
    ),
    (
        "C[i, m, k] = A[i, m, j] * B[j, k]",
        """\
inputs: A, B
# C[i, m, k] = A[i, m, j] * B[j, k]
C[i, m, k] = reshape(matmul(reshape(A[i, m, j])[(i m), j], B[j, k])[(i m), k])[i, m, k]
return C""",
        lambda A, B: A @ B,
    ),
    (
        # A real transpose stays.
        "T[j, i] = A[i, j]",
        """\
inputs: A
# T[j, i] = A[i, j]
T[j, i] = permute(A[i, j], (1, 0))[j, i]
return T""",
        lambda A: A.T,
    ),
    (
        # Split then merge back: the two reshapes cancel.
        "Y[(i j)] = X[(i j)]",
        """\
inputs: X
sizes by keyword: i, j
# Y[(i j)] = X[(i j)]
Y[(i j)] = X[(i j)]
return Y""",
        lambda X, **sizes: X,
    ),
]


@pytest.mark.parametrize(
    ("source", "expected"), [f[:2] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_simplify_transposes_ir(source, expected, ir_text):
    assert ir_text(source, contractions_to_matmul, simplify_transposes) == expected


@pytest.mark.parametrize(
    ("source", "reference"), [(f[0], f[2]) for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_simplify_transposes_keeps_answers(source, reference, backend, same_answers, arguments_for):
    args = arguments_for(source, low=-1.0, high=1.0)
    same_answers(source, (simplify_transposes,), backend, arguments=args, reference=reference)


X = ir.Var("X", ("i", "j", "k"))


def simplified(node: ir.Node) -> ir.Node:
    program = ir.Program(
        (ir.Input("X", False),), (ir.Let("Y", node, "Y = ..."),), ("Y",), (), "Y = ..."
    )
    return simplify_transposes(program, UNKNOWN_SIZES).lets[0].value


def test_identity_permute_vanishes():
    assert simplified(ir.Permute(X, (0, 1, 2))) is X


def test_permute_of_permute_is_one_permute():
    node = ir.Permute(ir.Permute(X, (1, 2, 0)), (1, 0, 2))
    assert simplified(node) == ir.Permute(X, (2, 1, 0))


def test_permute_and_its_inverse_vanish():
    assert simplified(ir.Permute(ir.Permute(X, (1, 2, 0)), (2, 0, 1))) is X


def test_reshape_of_reshape_is_one_reshape():
    node = ir.Reshape(ir.Reshape(X, ("(i j)", "k")), ("(i j k)",))
    assert simplified(node) == ir.Reshape(X, ("(i j k)",))


def test_reshapes_that_return_to_the_start_vanish():
    assert simplified(ir.Reshape(ir.Reshape(X, ("i", "(j k)")), ("i", "j", "k"))) is X


def test_identity_reshape_vanishes():
    assert simplified(ir.Reshape(X, ("i", "j", "k"))) is X


@settings(max_examples=50, deadline=None)
@given(st.permutations(range(4)), st.permutations(range(4)), st.permutations(range(4)))
def test_chains_of_permutes_compose(p, q, r):
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    var = ir.Var("X", ("a", "b", "c", "d"))
    node = ir.Permute(ir.Permute(ir.Permute(var, tuple(p)), tuple(q)), tuple(r))
    result = simplified(node)
    assert result.indices == node.indices
    expected = x.transpose(p).transpose(q).transpose(r)
    if result is var:
        np.testing.assert_array_equal(x, expected)
    else:
        assert isinstance(result, ir.Permute) and result.operand is var
        np.testing.assert_array_equal(x.transpose(result.perm), expected)


def test_simplified_hand_built_ir_generates_the_same_values():
    """Hand-built IR through the code generator: the merged permute computes the same array."""
    node = ir.Permute(ir.Permute(X, (1, 2, 0)), (1, 0, 2))
    x = np.arange(24.0).reshape(2, 3, 4)
    for value in (node, simplified(node)):
        program = ir.Program(
            (ir.Input("X", False),),
            (ir.Let("Y", value, ""),),
            ("Y",),
            (),
            "Y[k, j, i] = X[i, j, k]",
        )
        function = load(generate(program, "numpy", NONE_GIVEN), "numpy")
        np.testing.assert_array_equal(function(x), x.transpose(2, 1, 0))


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_generated_matmuls_have_no_transposes(backend):
    for source in ("C[i, k] = A[i, j] * B[j, k]", "C[b, i, k] = A[b, i, j] * B[b, j, k]"):
        text = tc.compile(source, backend=backend).source
        body = text.split("def program")[1]
        assert "transpose" not in body and "permute" not in body, text
        assert "C = A @ B" in body or "C = torch.bmm(A, B)" in body


def test_unsimplified_lowering_has_the_double_permute():
    text = "\n".join(
        str(let.value)
        for let in contractions_to_matmul(
            front_end("C[i, k] = A[i, j] * B[j, k]"), UNKNOWN_SIZES
        ).lets
    )
    assert text.count("Permute(") == 2
