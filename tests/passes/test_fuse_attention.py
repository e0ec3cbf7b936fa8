"""fuse_attention: softmax(q·k * scale [causal mask]) · v becomes one Attention node, which
PyTorch prints as scaled_dot_product_attention and NumPy and JAX as the plain formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.ir import nodes as ir
from tensorc.passes import PASSES
from tensorc.passes.fold_constants import fold_constants
from tensorc.passes.fuse_attention import fuse_attention

SCALED = (
    "S[b, i, j] = q[b, i, d] * k[b, j, d] * 0.125\n"
    "P[b, i, j] = softmax[j](S[b, i, j])\n"
    "O[b, i, e] = P[b, i, j] * v[b, j, e]"
)
CAUSAL = (
    "S[b, i, j] = q[b, i, d] * k[b, j, d]\n"
    "M[b, i, j] = where(j <= i, S[b, i, j], -inf)\n"
    "P[b, i, j] = softmax[j](M[b, i, j])\n"
    "O[b, i, e] = P[b, i, j] * v[b, j, e]"
)
MULTI_HEAD = (
    "S[b, h, i, j] = q[b, h, i, d] * k[b, h, j, d] * alpha\n"
    "O[b, h, i, e] = softmax[j](S[b, h, i, j]) * v[b, h, j, e]"
)

FIXTURES = [
    (
        SCALED,
        """\
inputs: q, k, v
# S[b, i, j] = q[b, i, d] * k[b, j, d] * 0.125
S[b, i, j] = contract[d](q[b, i, d], k[b, j, d], 0.125)[b, i, j]
# P[b, i, j] = softmax[j](S[b, i, j])
P[b, i, j] = softmax[j](S[b, i, j])[b, i, j]
# O[b, i, e] = P[b, i, j] * v[b, j, e]
O[b, i, e] = attention(q[b, i, d], k[b, j, d], permute(permute(v[b, j, e], (0, 2, 1))[b, e, j], (0, 2, 1))[b, j, e], 0.125)[b, i, e]
return O""",
    ),
    (
        # The mask's -inf is a constant once fold_constants (which runs first) has folded it.
        CAUSAL,
        """\
inputs: q, k, v
# S[b, i, j] = q[b, i, d] * k[b, j, d]
S[b, i, j] = contract[d](q[b, i, d], k[b, j, d])[b, i, j]
# M[b, i, j] = where(j <= i, S[b, i, j], -inf)
M[b, i, j] = where(le(index(j), index(i))[i, j], S[b, i, j], -inf)[b, i, j]
# P[b, i, j] = softmax[j](M[b, i, j])
P[b, i, j] = softmax[j](M[b, i, j])[b, i, j]
# O[b, i, e] = P[b, i, j] * v[b, j, e]
O[b, i, e] = attention(q[b, i, d], k[b, j, d], permute(permute(v[b, j, e], (0, 2, 1))[b, e, j], (0, 2, 1))[b, j, e], 1, causal)[b, i, e]
return O""",
    ),
    (
        MULTI_HEAD,
        """\
inputs: q, k, alpha, v
# S[b, h, i, j] = q[b, h, i, d] * k[b, h, j, d] * alpha
S[b, h, i, j] = contract[d](q[b, h, i, d], k[b, h, j, d], alpha)[b, h, i, j]
# O[b, h, i, e] = softmax[j](S[b, h, i, j]) * v[b, h, j, e]
%1 = permute(permute(v[b, h, j, e], (0, 1, 3, 2))[b, h, e, j], (0, 1, 3, 2))[b, h, j, e]
O[b, h, i, e] = attention(q[b, h, i, d], k[b, h, j, d], %1, alpha)[b, h, i, e]
return O""",
    ),
]

# Attention-like programs that are something else: each must stay unfused.
NOT_ATTENTION = [
    # The weights are returned too, so they must be computed.
    SCALED + "\nreturn O, P",
    # softmax along the query index.
    SCALED.replace("softmax[j]", "softmax[i]"),
    # An anti-causal mask is not what the fused kernel's causal flag means.
    CAUSAL.replace("where(j <= i", "where(i <= j"),
    # An additive bias on the scores.
    SCALED.replace("q[b, i, d] * k[b, j, d] * 0.125", "sum[d](q[b, i, d] * k[b, j, d]) + m[i, j]"),
    # One statement: q·k inside softmax keeps d, which the outer product then sums.
    "O[b, i, e] = softmax[j](q[b, i, d] * k[b, j, d]) * v[b, j, e]",
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES, ids=["scaled", "causal", "heads"])
def test_fuse_attention_ir(source, expected, ir_text):
    assert ir_text(source, fold_constants, fuse_attention) == expected


@pytest.mark.parametrize("source", [s for s, _ in FIXTURES] + NOT_ATTENTION)
def test_fuse_attention_keeps_answers(source, backend, same_answers, arguments_for):
    args = arguments_for(source, low=-1.0, high=1.0)
    same_answers(source, (fold_constants, fuse_attention), backend, arguments=args)


def _fused(source: str) -> bool:
    return "attention(" in tc.compile(source, backend="torch").ir


@pytest.mark.parametrize("source", NOT_ATTENTION)
def test_other_shapes_are_not_fused(source):
    assert not _fused(source)


@pytest.mark.parametrize(
    ("source", "call"),
    [
        (SCALED, "scaled_dot_product_attention(q, k, v, scale=0.125)"),
        (CAUSAL, "scaled_dot_product_attention(q, k, v, scale=1.0, is_causal=True)"),
    ],
)
def test_torch_prints_the_fused_kernel_and_drops_the_intermediates(source, call):
    body = tc.compile(source, backend="torch").source.split("def program")[1]
    assert call in body
    assert "softmax" not in body and "S =" not in body and "P =" not in body


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_other_backends_print_the_plain_formula(backend):
    text = tc.compile(SCALED, backend=backend).source
    assert "attention" not in text
    assert "softmax" in text


@pytest.mark.parametrize(("queries", "keys"), [(3, 3), (5, 3), (3, 5)])
def test_causal_mask_matches_the_written_mask_for_any_lengths(queries, keys, run_program):
    """The kernel's causal flag is the top-left aligned mask j <= i, also when the numbers of
    queries and keys differ."""
    rng = np.random.default_rng(queries * 10 + keys)
    args = [
        rng.standard_normal((2, queries, 4)),
        rng.standard_normal((2, keys, 4)),
        rng.standard_normal((2, keys, 3)),
    ]
    for backend in ("numpy", "jax", "torch"):
        fused = run_program(CAUSAL, backend, PASSES, args, {})
        unfused = run_program(CAUSAL, backend, (), args, {})
        np.testing.assert_allclose(fused, unfused, rtol=2e-5, atol=1e-6, err_msg=backend)


def test_gradients_through_the_fused_kernel():
    rng = np.random.default_rng(0)
    q, k, v = (torch.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True) for _ in "qkv")
    fused = tc.compile(CAUSAL, backend="torch")
    unfused = tc.compile(CAUSAL, backend="torch", passes=())
    grads = torch.autograd.grad(fused(q, k, v).square().sum(), (q, k, v))
    expected = torch.autograd.grad(unfused(q, k, v).square().sum(), (q, k, v))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_scalar_scale_may_be_a_tensor():
    rng = np.random.default_rng(0)
    q, k, v = (torch.tensor(rng.standard_normal((2, 2, 3, 4))) for _ in "qkv")
    alpha = torch.tensor(0.5, dtype=torch.float64)
    fused = tc.compile(MULTI_HEAD, backend="torch")
    assert _fused(MULTI_HEAD)
    unfused = tc.compile(MULTI_HEAD, backend="torch", passes=())
    torch.testing.assert_close(fused(q, k, alpha, v), unfused(q, k, alpha, v))
    torch.testing.assert_close(fused(q, k, 0.5, v), unfused(q, k, 0.5, v))


def test_attention_node_labels():
    program = tc.compile(SCALED, backend="torch")
    assert "attention(q[b, i, d], k[b, j, d], v[b, j, e], 0.125)[b, i, e]" in program.ir
    node = ir.Attention(
        ir.Var("q", ("b", "i", "d")),
        ir.Var("k", ("b", "j", "d")),
        ir.Var("v", ("b", "j", "e")),
        ir.Const(1.0, "1"),
        False,
        ("b", "i", "e"),
    )
    assert node.indices == ("b", "i", "e")
    assert len(node.children) == 4


@pytest.mark.parametrize(
    "scaled",
    [
        "Q[b, i, d] * K[b, j, d] / 8",
        "Q[b, i, d] * K[b, j, d] * 0.125",
        "0.125 * Q[b, i, d] * K[b, j, d]",
        "Q[b, i, d] * K[b, j, d] / sqrt(dk)",
    ],
)
def test_scores_scaled_by_a_divisor_or_factor_still_fuse(scaled: str) -> None:
    # Regression: scalar divisors once moved outside the contraction and hid the pattern.
    source = (
        f"S[b, i, j] = {scaled}\nP[b, i, j] = softmax[j](S[b, i, j])\n"
        "O[b, i, e] = P[b, i, j] * V[b, j, e]"
    )
    program = tc.compile(source, backend="torch")
    assert "scaled_dot_product_attention" in program.source
    rng = np.random.default_rng(0)
    q, k, v = (torch.as_tensor(rng.standard_normal((2, 3, 4))) for _ in range(3))
    args = (q, k, 64.0, v) if "dk" in scaled else (q, k, v)
    expected = torch.softmax(q @ k.transpose(-1, -2) / 8, dim=-1) @ v
    assert torch.allclose(program(*args), expected)
