"""What the derivative programs of the corpus compute (issue 13): the code generated for the
arguments' shapes raises no recomputed expression to the power 0 (seeds are the number 1 and
counts are sizes; `X ** 0` of an array already computed gives a dtype), computes each matrix
product once (a product and its transpose are one), and reuses what the forward pass kept.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
import pytest
from corpus import Case
from references import CASE_PARAMS, cotangents, loss_program, to_backend, wrt_names

import tensorc as tc

ALL = [pytest.param(case, id=case.id) for _, case in CASE_PARAMS]
VIEWS = {"T", "permute", "transpose", "swapaxes", "reshape", "expand", "movedim", "moveaxis"}
SWAPS = {"T", "transpose", "swapaxes", "permute"}


def derivative_source(case: Case, backend: str) -> str:
    """The module that runs for the case's arguments: tc.grad of a loss over its results
    where the language can write one, else tc.vjp."""
    values = case.make_inputs()
    cots = cotangents(case, values)
    extended = loss_program(case)
    if extended is None:
        f = tc.vjp(case.src, wrt=wrt_names(case), backend=backend, einsum=case.einsum)
    else:
        f = tc.grad(extended[0], wrt=wrt_names(case), backend=backend)
    args = [to_backend(v, backend) for v in [*values.values(), *cots]]
    return str(f.source_for(*args, **case.sizes))


def _is_view(node: ast.expr) -> bool:
    """A name, or a view of one: indexing, `.T`, a permute, a reshape."""
    while True:
        if isinstance(node, ast.Name):
            return True
        if isinstance(node, ast.Subscript) or (
            isinstance(node, ast.Attribute) and node.attr in VIEWS
        ):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in VIEWS:
                return False
            node = node.func.value
        else:
            return False


def powers_of_computed_values(tree: ast.AST) -> list[str]:
    """Every `x ** 0` whose `x` is computed in place (not an array under a name)."""
    return [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Pow)
        and isinstance(node.right, ast.Constant)
        and node.right.value == 0
        and not _is_view(node.left)
    ]


def _side(node: ast.expr) -> tuple[str, bool] | None:
    """The array a matmul operand reads, and whether it reads it transposed."""
    swapped = False
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute) and node.attr == "T":
            node, swapped = node.value, not swapped
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in SWAPS:
                return None
            node, swapped = node.func.value, not swapped
        else:
            return None
    return node.id, swapped


def repeated_products(tree: ast.AST) -> list[str]:
    """Matrix products computed twice: `a @ b` again, or as `b.T @ a.T`."""
    seen: dict[Any, str] = {}
    repeats = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)):
            continue
        left, right = _side(node.left), _side(node.right)
        if left is None or right is None:
            continue
        key = (left, right)
        flipped = ((right[0], not right[1]), (left[0], not left[1]))
        key = min(key, flipped)
        if key in seen:
            repeats.append(f"{seen[key]} and {ast.unparse(node)}")
        seen[key] = ast.unparse(node)
    return repeats


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", ALL)
def test_derivatives_compute_nothing_twice(case: Case, backend: str) -> None:
    with np.errstate(all="ignore"):
        tree = ast.parse(derivative_source(case, backend))
    assert powers_of_computed_values(tree) == []
    assert repeated_products(tree) == []


def test_the_checks_see_what_they_look_for() -> None:
    tree = ast.parse("a = (x + y) ** 0\nb = X.T ** 0\nc = A @ B\nd = B.T @ A.T\ne = x ** 0")
    assert powers_of_computed_values(tree) == ["(x + y) ** 0"]
    assert repeated_products(tree) == ["A @ B and B.T @ A.T"]


MLP = """
A[b, h] = X[b, i] * W1[i, h]
H[b, h] = relu(A[b, h] + b1[h])
Z[b, o] = H[b, h] * W2[h, o]
l[b] = logsumexp[o](Z[b, o]) - sum[o](Y[b, o] * Z[b, o])
L = mean[b](l[b])
"""


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_the_mlp_gradient_reuses_the_forward_values(backend: str) -> None:
    """The relu mask reads H, the mean's count is the batch size, the seed is a number, and
    the loss itself (its row-wise dot product) is not computed: no gradient needs it."""
    rng = np.random.default_rng(0)
    shapes = {"X": (8, 5), "W1": (5, 6), "b1": (6,), "W2": (6, 3), "Y": (8, 3)}
    args = [to_backend(rng.standard_normal(s), backend) for s in shapes.values()]
    f = tc.grad(MLP, wrt=("W1", "W2"), backend=backend)
    source = f.source_for(*args)
    body = source[source.index("def program") :]
    assert "** 0" not in body and "einsum" not in body and "@ Z" not in body
    # X @ W1, H @ W2, dZ @ W2.T, X.T @ dA, H.T @ dZ (on JAX the last two `_transposed_times`)
    assert body.count(" @ ") + body.count("_transposed_times(") == 5
    assert "1 / 8" in body or "0.125" in body
    if backend == "torch":
        assert "threshold_backward(dH, H, 0)" in body
    else:
        assert "H > 0" in body
