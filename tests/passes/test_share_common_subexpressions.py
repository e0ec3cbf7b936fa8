"""share_common_subexpressions: each distinct value is computed once, within a statement and
across statements (a repeat of an earlier statement's value becomes a read of its target)."""

from __future__ import annotations

import pytest

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.ir import nodes as ir
from tensorc.passes.share_common_subexpressions import share_common_subexpressions

FIXTURES = [
    (
        "y[i] = exp(x[i]) + exp(x[i])",
        """\
inputs: x
# y[i] = exp(x[i]) + exp(x[i])
%1 = exp(x[i])[i]
y[i] = add(%1, %1)[i]
return y""",
    ),
    (
        "a[i] = exp(x[i])\nb[i] = exp(x[i]) * 2",
        """\
inputs: x
# a[i] = exp(x[i])
a[i] = exp(x[i])[i]
# b[i] = exp(x[i]) * 2
b[i] = contract[](a[i], 2)[i]
return b""",
    ),
    (
        "a[i] = exp(x[i])\nb[i] = exp(x[i]) + a[i]",
        """\
inputs: x
# a[i] = exp(x[i])
a[i] = exp(x[i])[i]
# b[i] = exp(x[i]) + a[i]
b[i] = add(a[i], a[i])[i]
return b""",
    ),
    (
        "m[i] = max[j](A[i, j])\nZ[i, j] = exp(A[i, j] - max[j](A[i, j]))",
        """\
inputs: A
# m[i] = max[j](A[i, j])
m[i] = max[j](A[i, j])[i]
# Z[i, j] = exp(A[i, j] - max[j](A[i, j]))
Z[i, j] = exp(sub(A[i, j], m[i])[i, j])[i, j]
return Z""",
    ),
    (
        # The same expression over differently ordered axes is a different array: not shared.
        "a[i, j] = exp(X[i, j])\nb[j, i] = exp(X[i, j])",
        """\
inputs: X
# a[i, j] = exp(X[i, j])
a[i, j] = exp(X[i, j])[i, j]
# b[j, i] = exp(X[i, j])
b[j, i] = exp(permute(X[i, j], (1, 0))[j, i])[j, i]
return b""",
    ),
    (
        # A product is one value whatever the order of its factors and axes: `(B.T @ A.T).T`
        # is `A @ B`, read transposed (a contraction is worth more than a transpose).
        "C[i, k] = A[i, j] * B[j, k]\nD[k, i] = B[j, k] * A[i, j]",
        """\
inputs: A, B
# C[i, k] = A[i, j] * B[j, k]
C[i, k] = contract[j](A[i, j], permute(B[j, k], (1, 0))[k, j])[i, k]
# D[k, i] = B[j, k] * A[i, j]
D[k, i] = permute(C[i, k], (1, 0))[k, i]
return D""",
    ),
    (
        # A normaliser along the same index of a transposed operand: shared too.
        "P[i, j] = softmax[j](S[i, j])\nQ[j, i] = softmax[j](S[i, j])",
        """\
inputs: S
# P[i, j] = softmax[j](S[i, j])
P[i, j] = softmax[j](S[i, j])[i, j]
# Q[j, i] = softmax[j](S[i, j])
Q[j, i] = permute(P[i, j], (1, 0))[j, i]
return Q""",
    ),
    (
        # After `a` is redefined, a repeat of its first value reads the first definition.
        "a[i] = exp(x[i])\na[i] = a[i] + 1\nb[i] = exp(x[i]) - a[i]",
        """\
inputs: x
# a[i] = exp(x[i])
a[i] = exp(x[i])[i]
# a[i] = a[i] + 1
a#2[i] = add(a[i], 1)[i]
# b[i] = exp(x[i]) - a[i]
b[i] = sub(a[i], a#2[i])[i]
return b""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_share_common_subexpressions_ir(source, expected, ir_text):
    assert ir_text(source, share_common_subexpressions) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES])
def test_share_common_subexpressions_keeps_answers(source, backend, same_answers):
    same_answers(source, (share_common_subexpressions,), backend)


def test_redefinition_reads_the_right_definition():
    """The printed IR shows both definitions as `a`; the nodes tell them apart."""
    program = front_end("a[i] = exp(x[i])\na[i] = a[i] + 1\nb[i] = exp(x[i]) - a[i]")
    shared = share_common_subexpressions(program, UNKNOWN_SIZES)
    first, second, last = (let.name for let in shared.lets)
    assert shared.lets[2].value == ir.Map(
        "sub", (ir.Var(first, ("i",)), ir.Var(second, ("i",))), ("i",)
    )
    assert last == "b"


def test_shared_node_is_one_object():
    program = front_end("y[i] = exp(x[i]) * tanh(x[i]) + exp(x[i]) * tanh(x[i])")
    value = share_common_subexpressions(program, UNKNOWN_SIZES).lets[0].value
    assert isinstance(value, ir.Map) and value.op == "add"
    left, right = value.args
    assert left is right
    exps = [n for n in ir.walk(value) if isinstance(n, ir.Map) and n.op == "exp"]
    assert len(exps) == 1


def test_generated_code_computes_a_shared_value_once():
    source = "y[i] = exp(x[i]) * tanh(x[i]) + exp(x[i]) * tanh(x[i])"
    assert tc.compile(source, backend="numpy").source.count("np.exp(") == 1
    assert tc.compile(source, backend="numpy", passes=()).source.count("np.exp(") == 2


def test_across_statements_in_generated_code():
    source = "a[i] = exp(x[i])\nb[i] = exp(x[i]) * a[i]"
    text = tc.compile(source, backend="torch").source
    assert text.count("torch.exp(") == 1
    assert "b = a * a" in text


def test_nothing_shared_is_unchanged():
    program = front_end("C[i, k] = A[i, j] * B[j, k]\nD[i] = C[i, k] * x[k]")
    assert share_common_subexpressions(program, UNKNOWN_SIZES) == program
