"""The corpus of the cross-backend equivalence suite.

Each case is a tensorc program (or an einsum specification), a recipe for its inputs, and a
NumPy reference written by hand with plain NumPy operations (or ``np.einsum``), never with
tensorc.  The reference takes the inputs positionally, in the order the program's inputs are
expected to appear (order of first appearance in the source), plus any keyword sizes.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Arr:
    """An input array of the given shape.

    kind:
      normal    -- standard normal float64
      positive  -- uniform in [0.5, 2) float64 (for log, sqrt, division)
      unit      -- uniform in [0, 1) float64
      small     -- float64 values in {-1, 0, 1, 2} (so that == and != have both outcomes)
      int       -- int64 values in [-3, 4)
      bool      -- random booleans, every row (last axis) has at least one True
      float32   -- standard normal float32
    """

    shape: tuple[int, ...]
    kind: str = "normal"

    def make(self, rng: np.random.Generator) -> np.ndarray:
        shape = self.shape
        if self.kind == "normal":
            return np.asarray(rng.standard_normal(shape))
        if self.kind == "positive":
            return rng.uniform(0.5, 2.0, shape)
        if self.kind == "unit":
            return rng.uniform(0.0, 1.0, shape)
        if self.kind == "small":
            return rng.integers(-1, 3, shape).astype(np.float64)
        if self.kind == "int":
            return rng.integers(-3, 4, shape).astype(np.int64)
        if self.kind == "bool":
            mask = rng.random(shape) < 0.5
            if mask.ndim:
                mask[..., 0] = True
            return mask
        if self.kind == "float32":
            return rng.standard_normal(shape).astype(np.float32)
        raise ValueError(f"unknown kind {self.kind!r}")


InputSpec = tuple[int, ...] | Arr | float


def make_value(spec: InputSpec, rng: np.random.Generator) -> Any:
    if isinstance(spec, Arr):
        return spec.make(rng)
    if isinstance(spec, tuple):
        return np.asarray(rng.standard_normal(spec))
    return float(spec)  # a Python scalar input


# --------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    id: str
    src: str  # a tensorc program, or an einsum specification when ``einsum`` is true
    inputs: Mapping[str, InputSpec]  # positional order
    reference: Callable[..., Any]
    sizes: Mapping[str, int] = field(default_factory=dict)
    einsum: bool = False
    grad: bool = True  # include in the gradient tests (float inputs, smooth almost everywhere)
    rtol: float = 1e-10
    atol: float = 1e-12

    def make_inputs(self) -> dict[str, Any]:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return {name: make_value(spec, rng) for name, spec in self.inputs.items()}

    def expected(self, values: Mapping[str, Any]) -> Any:
        copies = [
            np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values.values()
        ]
        return self.reference(*copies, **self.sizes)

    @property
    def float_inputs(self) -> list[str]:
        """Names of the inputs that gradients are taken with respect to."""
        names = []
        for name, spec in self.inputs.items():
            if isinstance(spec, (float, tuple)) or (
                isinstance(spec, Arr) and spec.kind in {"normal", "positive", "unit"}
            ):
                names.append(name)
        return names


CASES: list[Case] = []


def prog(
    id: str,
    src: str,
    inputs: Mapping[str, InputSpec],
    reference: Callable[..., Any],
    **options: Any,
) -> None:
    assert all(c.id != id for c in CASES), f"duplicate case id {id}"
    CASES.append(Case(id=id, src=src, inputs=dict(inputs), reference=reference, **options))


def prog_float32(id: str, src: str, name: str, shape: tuple[int, ...], reference: Any) -> None:
    """A case whose one input is float32: the result must stay float32 on every backend."""
    inputs = {name: Arr(shape, "float32")}
    prog(id, src, inputs, reference, grad=False, rtol=1e-5, atol=1e-6)


# Letter sizes for einsum specifications (the sizes opt_einsum's own tests use).
EINSUM_SIZES: dict[str, int] = dict(
    zip(
        "abcdefghijklmopqABC",
        [2, 3, 4, 5, 4, 3, 2, 6, 5, 4, 3, 2, 5, 7, 4, 3, 2, 3, 4],
        strict=True,
    )
)


def ein(
    spec: str,
    *shapes: InputSpec,
    group: str,
    reference: Callable[..., Any] | None = None,
    **options: Any,
) -> None:
    """An einsum case. Without shapes, every letter gets its size from EINSUM_SIZES."""
    terms = spec.split("->")[0].split(",")
    if not shapes:
        assert "." not in spec, "give explicit shapes for an ellipsis"
        shapes = tuple(tuple(EINSUM_SIZES[c] for c in term.strip()) for term in terms)
    assert len(shapes) == len(terms), spec
    case_id = f"einsum-{group}:{spec}"
    if any(c.id == case_id for c in CASES):
        return  # the suites list a few specifications twice
    inputs = {f"op{n}": shape for n, shape in enumerate(shapes)}
    ref = reference if reference is not None else (lambda *ops: np.einsum(spec, *ops))
    options.setdefault("grad", group == "users")
    CASES.append(Case(id=case_id, src=spec, inputs=inputs, reference=ref, einsum=True, **options))


# --------------------------------------------------------------------------------------------
# Reference helpers (plain NumPy)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


def erf(x: np.ndarray) -> np.ndarray:
    """math.erf elementwise, in x's float dtype."""
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def relu(x: Any) -> Any:
    return np.maximum(x, 0.0)


def causal(s: np.ndarray) -> np.ndarray:
    i = np.arange(s.shape[-2])[:, None]
    j = np.arange(s.shape[-1])[None, :]
    return np.where(j <= i, s, -np.inf)


# --------------------------------------------------------------------------------------------
# Section 2 of the contract: every example form

prog("matmul", "C[i, k] = A[i, j] * B[j, k]", {"A": (3, 4), "B": (4, 5)}, lambda A, B: A @ B)
prog("matvec", "y[i] = A[i, j] * x[j]", {"A": (3, 4), "x": (4,)}, lambda A, x: A @ x)
prog("dot-scalar", "s = x[i] * y[i]", {"x": (5,), "y": (5,)}, lambda x, y: np.dot(x, y))
prog(
    "batched-outer",
    "D[b, i, j] = x[b, i] * y[b, j]",
    {"x": (2, 3), "y": (2, 4)},
    lambda x, y: x[:, :, None] * y[:, None, :],
)
prog("transpose", "T[j, i] = A[i, j]", {"A": (3, 4)}, lambda A: A.T)
prog("diagonal", "d[i] = A[i, i]", {"A": (4, 4)}, lambda A: np.diagonal(A).copy())
prog(
    "ellipsis-bmm-broadcast",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    {"A": (2, 1, 3, 4), "B": (5, 4, 2)},
    lambda A, B: np.matmul(A, B),
)
prog(
    "ellipsis-bmm-same-batch",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    {"A": (2, 3, 4), "B": (2, 4, 5)},
    lambda A, B: np.matmul(A, B),
)
prog(
    "ellipsis-bmm-one-side",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    {"A": (3, 4), "B": (2, 4, 5)},
    lambda A, B: np.matmul(A, B),
)
prog(
    "ellipsis-bmm-size1-both",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    {"A": (1, 2, 3, 4), "B": (3, 1, 4, 5)},
    lambda A, B: np.matmul(A, B),
)
prog(
    "ellipsis-bmm-no-batch",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    {"A": (3, 4), "B": (4, 5)},
    lambda A, B: A @ B,
)
prog(
    "sum-broadcast",
    "P[i, j] = A[i, j] / sum[k](A[i, k])",
    {"A": Arr((3, 4), "positive")},
    lambda A: A / A.sum(axis=1, keepdims=True),
)
prog("mean", "m[j] = mean[i](A[i, j])", {"A": (3, 4)}, lambda A: A.mean(axis=0))
prog(
    "sqrt-sum-squares",
    "n = sqrt(sum[i, j](A[i, j] ** 2))",
    {"A": (3, 4)},
    lambda A: np.sqrt((A**2).sum()),
)
prog("softmax", "Z[i, j] = softmax[j](S[i, j])", {"S": (3, 4)}, lambda S: softmax(S, 1))
prog("softmax-first-axis", "Z[i, j] = softmax[i](S[i, j])", {"S": (3, 4)}, lambda S: softmax(S, 0))
prog(
    "log-softmax",
    "Z[i, j] = S[i, j] - logsumexp[j](S[i, j])",
    {"S": (3, 4)},
    lambda S: S - logsumexp(S, 1, keepdims=True),
)
prog("logsumexp-reduce", "L[i] = logsumexp[j](S[i, j])", {"S": (3, 4)}, lambda S: logsumexp(S, 1))
prog("cumsum", "C[i, j] = cumsum[j](A[i, j])", {"A": (3, 4)}, lambda A: np.cumsum(A, 1))
prog("cumsum-first-axis", "C[i, j] = cumsum[i](A[i, j])", {"A": (3, 4)}, lambda A: np.cumsum(A, 0))
prog(
    "relu-bias",
    "R[i, j] = relu(X[i, j] + b[j])",
    {"X": (3, 4), "b": (4,)},
    lambda X, b: relu(X + b),
)
prog("exp", "Y[i, j] = exp(X[i, j])", {"X": (3, 4)}, lambda X: np.exp(X))
prog("log", "Y[i, j] = log(X[i, j])", {"X": Arr((3, 4), "positive")}, lambda X: np.log(X))
prog("sqrt", "Y[i, j] = sqrt(X[i, j])", {"X": Arr((3, 4), "positive")}, lambda X: np.sqrt(X))
prog("abs", "Y[i, j] = abs(X[i, j])", {"X": (3, 4)}, lambda X: np.abs(X))
prog("tanh", "Y[i, j] = tanh(X[i, j])", {"X": (3, 4)}, lambda X: np.tanh(X))
prog("sigmoid", "Y[i, j] = sigmoid(X[i, j])", {"X": (3, 4)}, lambda X: sigmoid(X))
prog("erf", "Y[i, j] = erf(X[i, j])", {"X": (3, 4)}, lambda X: erf(X))
prog_float32("erf-float32", "Y[i, j] = erf(X[i, j])", "X", (3, 4), erf)
# The elementwise functions grown through the operation table, each in float64 (with
# derivatives) and in float32, which must stay float32.
for _name, _expr, _reference in [
    ("floor", "floor(X[i, j] * 2)", lambda X: np.floor(X * 2)),
    ("ceil", "ceil(X[i, j] * 2)", lambda X: np.ceil(X * 2)),
    ("round", "round(X[i, j] * 2)", lambda X: np.round(X * 2)),  # half to even
    ("sign", "sign(X[i, j])", np.sign),
    ("log1p", "log1p(X[i, j] ** 2)", lambda X: np.log1p(X**2)),
    ("expm1", "expm1(X[i, j])", np.expm1),
    ("softplus", "softplus(X[i, j])", lambda X: np.log1p(np.exp(X))),
    ("silu", "silu(X[i, j])", lambda X: X / (1 + np.exp(-X))),
    ("gelu", "gelu(X[i, j])", lambda X: 0.5 * X * (1 + erf(X / math.sqrt(2)))),
]:
    prog(f"fn-{_name}", f"Y[i, j] = {_expr}", {"X": (3, 4)}, _reference)
    prog_float32(f"fn-{_name}-float32", f"Y[i, j] = {_expr}", "X", (3, 4), _reference)
prog(
    "fn-round-half-to-even",
    "Y[i] = round(X[i] - 0.5)",
    {"X": Arr((6,), "small")},
    lambda X: np.round(X - 0.5),
    grad=False,
)
prog(
    "fn-clip",
    "Y[i, j] = clip(X[i, j], -0.5, b[j])",
    {"X": (3, 4), "b": Arr((4,), "unit")},
    lambda X, b: np.minimum(np.maximum(X, -0.5), b),
)
prog(
    "fn-clip-scalar-bounds",
    "Y[i] = clip(X[i], lo, hi)",
    {"X": (6,), "lo": -0.3, "hi": 0.4},
    lambda X, lo, hi: np.clip(X, lo, hi),
)
prog_float32(
    "fn-clip-float32", "Y[i] = clip(X[i], -0.5, 0.5)", "X", (6,), lambda X: np.clip(X, -0.5, 0.5)
)
# The operators // and % (NumPy's floor semantics on every backend).
prog(
    "op-floordiv",
    "Y[i, j] = 3 * A[i, j] // B[j]",
    {"A": (3, 4), "B": Arr((4,), "positive")},
    lambda A, B: 3 * A // B,
)
prog(
    "op-mod",
    "Y[i, j] = 3 * A[i, j] % B[j]",
    {"A": (3, 4), "B": Arr((4,), "positive")},
    lambda A, B: 3 * A % B,
)
prog(
    "op-mod-negative-divisor",
    "Y[i, j] = 3 * A[i, j] % (B[j] - 2.5)",
    {"A": (3, 4), "B": Arr((4,), "positive")},
    lambda A, B: 3 * A % (B - 2.5),
)
prog(
    "op-floordiv-mod-identity",
    "Y[i, j] = A[i, j] // B[j] * B[j] + A[i, j] % B[j]",
    {"A": (3, 4), "B": (4,)},
    lambda A, B: A // B * B + A % B,
)
prog(
    "op-floordiv-mod-int",
    "Y[i] = A[i] // 3 - A[i] % 3",
    {"A": Arr((7,), "int")},
    lambda A: A // 3 - A % 3,
    grad=False,
)
prog_float32(
    "op-floordiv-mod-float32",
    "Y[i] = A[i] // 0.5 + A[i] % 0.75",
    "A",
    (6,),
    lambda A: A // 0.5 + A % 0.75,
)
# and, or, not: on comparisons and booleans, looser than comparisons, `not` above `and` above
# `or` (as Python); a number is tested against zero.
prog(
    "logical-and-or-not",
    "M[i, j] = A[i, j] > 0 and not B[j] > 0.5 or A[i, j] < -1",
    {"A": (3, 4), "B": Arr((4,), "unit")},
    lambda A, B: ((A > 0) & ~(B > 0.5)) | (A < -1),
    grad=False,
)
prog(
    "logical-where",
    "Y[i, j] = where(A[i, j] > 0 and B[j] > 0 or not A[i, j] < 1, A[i, j], B[j])",
    {"A": (3, 4), "B": (4,)},
    lambda A, B: np.where(((A > 0) & (B > 0)) | ~(A < 1), A, B),
)
prog(
    "logical-of-booleans-and-numbers",
    "Y[i] = where(not M[i] or X[i], X[i], 2)",
    {"M": Arr((6,), "bool"), "X": Arr((6,), "small")},
    lambda M, X: np.where(~M | (X != 0), X, 2),
    grad=False,
)
prog(
    "logical-as-number",
    "Y[i] = X[i] * (X[i] > 0.5 or X[i] < -0.5)",
    {"X": (6,)},
    lambda X: X * np.where((X > 0.5) | (X < -0.5), 1, 0),
)
prog_float32(
    "logical-float32",
    "Y[i] = where(X[i] > 0 and X[i] < 1, X[i], 0)",
    "X",
    (6,),
    lambda X: np.where((X > 0) & (X < 1), X, 0),
)
# The reductions var and std (population, as NumPy), any and all.
prog("reduce-var", "v[i] = var[j](X[i, j])", {"X": (3, 4)}, lambda X: X.var(1))
prog("reduce-std", "s[j] = std[i](2 * X[i, j] + 1)", {"X": (3, 4)}, lambda X: (2 * X + 1).std(0))
prog("reduce-var-all-indices", "v = var[i, j](X[i, j])", {"X": (3, 4)}, lambda X: X.var())
prog(
    "reduce-std-in-layer-norm",
    "Y[i, j] = (X[i, j] - mean[k](X[i, k])) / std[k](X[i, k])",
    {"X": (3, 5)},
    lambda X: (X - X.mean(1, keepdims=True)) / X.std(1, keepdims=True),
)
for _name in ("var", "std"):
    prog_float32(
        f"reduce-{_name}-float32",
        f"v[i] = {_name}[j](X[i, j])",
        "X",
        (3, 4),
        lambda X, _name=_name: getattr(X, _name)(1),
    )
prog(
    "reduce-any-all",
    "a[i] = any[j](X[i, j] > 1)\nb[j] = all[i](X[i, j] > -1)\nreturn a, b",
    {"X": (4, 5)},
    lambda X: ((X > 1).any(1), (X > -1).all(0)),
    grad=False,
)
prog(
    "reduce-all-of-numbers",
    "a[i] = all[j](M[i, j])",
    {"M": Arr((4, 3), "small")},
    lambda M: (M != 0).all(1),
    grad=False,
)
prog(
    "reduce-any-as-number",
    "Y[i, j] = X[i, j] * any[k](X[i, k] > 1)",
    {"X": (4, 3)},
    lambda X: X * np.where((X > 1).any(1), 1, 0)[:, None],
)
# The normalisers log_softmax (stable) and cumprod.
prog(
    "norm-log-softmax",
    "L[i, j] = log_softmax[j](S[i, j])",
    {"S": (3, 4)},
    lambda S: S - logsumexp(S, 1, keepdims=True),
)
prog(
    "norm-log-softmax-first-axis-broadcast",
    "L[i, j] = log_softmax[i](S[i, j] + b[j] * 3)",
    {"S": (3, 4), "b": (4,)},
    lambda S, b: (S + 3 * b) - logsumexp(S + 3 * b, 0, keepdims=True),
)
prog(
    "norm-log-softmax-cross-entropy",
    "nll = -sum[n, c](T[n, c] * log_softmax[c](Z[n, c]))",
    {"T": Arr((4, 3), "unit"), "Z": (4, 3)},
    lambda T, Z: -(T * (Z - logsumexp(Z, 1, keepdims=True))).sum(),
)
prog(
    "norm-log-softmax-large",
    "L[i, j] = log_softmax[j](1000 * S[i, j])",
    {"S": (3, 4)},
    lambda S: 1000 * S - logsumexp(1000 * S, 1, keepdims=True),
    rtol=1e-9,
)
prog("norm-cumprod", "C[i, j] = cumprod[j](A[i, j])", {"A": (3, 4)}, lambda A: np.cumprod(A, 1))
prog(
    "norm-cumprod-first-axis",
    "C[i, j] = cumprod[i](A[i, j] + b[j])",
    {"A": (4, 3), "b": (3,)},
    lambda A, b: np.cumprod(A + b, 0),
)
prog(
    "norm-cumprod-with-zeros",
    "C[i, j] = cumprod[j](A[i, j])",
    {"A": Arr((4, 5), "small")},
    lambda A: np.cumprod(A, 1),
)
for _name, _reference in [
    ("log-softmax", lambda S: S - logsumexp(S, 1, keepdims=True)),
    ("cumprod", lambda S: np.cumprod(S, 1)),
]:
    source = f"L[i, j] = {_name.replace('-', '_')}[j](S[i, j])"
    prog_float32(f"norm-{_name}-float32", source, "S", (3, 4), _reference)
prog("unary-minus", "Y[i, j] = -X[i, j]", {"X": (3, 4)}, lambda X: -X)
prog(
    "max-binary-broadcast",
    "M[i, j] = max(A[i, j], B[j])",
    {"A": (3, 4), "B": (4,)},
    lambda A, B: np.maximum(A, B),
)
prog("min-binary-const", "M[i, j] = min(A[i, j], 0)", {"A": (3, 4)}, lambda A: np.minimum(A, 0.0))
prog(
    "where-compare",
    "W[i, j] = where(A[i, j] > B[i, j], A[i, j], B[i, j])",
    {"A": (3, 4), "B": (3, 4)},
    lambda A, B: np.where(A > B, A, B),
)
for _name, _op, _fn in [
    ("lt", "<", np.less),
    ("le", "<=", np.less_equal),
    ("gt", ">", np.greater),
    ("ge", ">=", np.greater_equal),
    ("eq", "==", np.equal),
    ("ne", "!=", np.not_equal),
]:
    prog(
        f"compare-{_name}",
        f"C[i, j] = A[i, j] {_op} B[j]",
        {"A": Arr((3, 4), "small"), "B": Arr((4,), "small")},
        lambda A, B, _fn=_fn: _fn(A, B),
        grad=False,
    )
prog("scalar-alpha", "Y[i] = alpha * X[i]", {"alpha": 1.5, "X": (5,)}, lambda alpha, X: alpha * X)
prog("causal-mask", "M[i, j] = where(j <= i, S[i, j], -inf)", {"S": (4, 4)}, causal)
prog("causal-mask-rectangular", "M[i, j] = where(j <= i, S[i, j], -inf)", {"S": (3, 5)}, causal)
prog(
    "causal-softmax",
    "M[i, j] = where(j <= i, S[i, j], -inf)\nZ[i, j] = softmax[j](M[i, j])",
    {"S": (4, 4)},
    lambda S: softmax(causal(S), 1),
)
prog(
    "merge-axes",
    "Y[b, n, (h d)] = X[b, h, n, d]",
    {"X": (2, 3, 4, 5)},
    lambda X: X.transpose(0, 2, 1, 3).reshape(2, 4, 15),
)
prog(
    "split-axes",
    "X[b, h, n, d] = Y[b, n, (h d)]",
    {"Y": (2, 4, 6)},
    lambda Y, h: Y.reshape(2, 4, h, 6 // h).transpose(0, 2, 1, 3),
    sizes={"h": 3},
)
prog(
    "split-axes-other-keyword",
    "X[b, h, n, d] = Y[b, n, (h d)]",
    {"Y": (2, 4, 6)},
    lambda Y, d: Y.reshape(2, 4, 6 // d, d).transpose(0, 2, 1, 3),
    sizes={"d": 3},
)
prog(
    "mlp-two-statements",
    "H[n, o] = X[n, i] * W[i, o]\nY[n, o] = relu(H[n, o] + b[o])",
    {"X": (4, 3), "W": (3, 5), "b": (5,)},
    lambda X, W, b: relu(X @ W + b),
)
prog(
    "mlp-explicit-sum",
    "Y[n, o] = relu(sum[i](X[n, i] * W[i, o]) + b[o])",
    {"X": (4, 3), "W": (3, 5), "b": (5,)},
    lambda X, W, b: relu(X @ W + b),
)
prog(
    "return-tuple",
    "S[i] = sum[j](A[i, j])\nM[i] = max[j](A[i, j])\nreturn S, M",
    {"A": (3, 4)},
    lambda A: (A.sum(1), A.max(1)),
)
prog(
    "return-tuple-reordered",
    "S[i] = sum[j](A[i, j])\nT[j, i] = A[i, j]\nreturn T, S",
    {"A": (3, 4)},
    lambda A: (A.T, A.sum(1)),
)
prog("semicolons", "T[j, i] = A[i, j]; U[j, i] = T[j, i] * 2", {"A": (3, 4)}, lambda A: A.T * 2)
prog(
    "comments-and-blank-lines",
    "# matrix product\n\nC[i, k] = A[i, j] * B[j, k]  # j is summed\n\n# the end\n",
    {"A": (3, 4), "B": (4, 2)},
    lambda A, B: A @ B,
)
prog("constant-pi", "Y[i] = X[i] * pi", {"X": (5,)}, lambda X: X * np.pi)
prog(
    "index-value",
    "Y[i, j] = A[i, j] * (i + 1) - j",
    {"A": (3, 4)},
    lambda A: A * (np.arange(3)[:, None] + 1) - np.arange(4)[None, :],
)
prog(
    "index-equality",
    "Y[i, j] = where(i == j, 1.0, A[i, j])",
    {"A": (3, 3)},
    lambda A: np.where(np.eye(3, dtype=bool), 1.0, A),
)
prog("triu-by-index", "U[i, j] = where(i <= j, A[i, j], 0)", {"A": (4, 4)}, lambda A: np.triu(A))

# --------------------------------------------------------------------------------------------
# Language details: input order, statements, reuse, traces, ellipsis, composed axes

prog(
    "input-order-first-appearance",
    "C[i, k] = B[j, k] * A[i, j]",
    {"B": (4, 5), "A": (3, 4)},
    lambda B, A: A @ B,
)
prog(
    "input-first-read-in-second-statement",
    "T[i] = sum[j](A[i, j])\nY[i] = T[i] * w[i]",
    {"A": (3, 4), "w": (3,)},
    lambda A, w: A.sum(1) * w,
)
prog("gram-same-input-twice", "G[i, j] = X[n, i] * X[n, j]", {"X": (5, 3)}, lambda X: X.T @ X)
prog("trace-einstein", "t = A[i, i]", {"A": (4, 4)}, lambda A: np.trace(A))
prog("trace-explicit-sum", "t = sum[i](A[i, i])", {"A": (4, 4)}, lambda A: np.trace(A))
prog(
    "batched-diagonal",
    "d[b, i] = A[b, i, i]",
    {"A": (2, 3, 3)},
    lambda A: np.diagonal(A, axis1=1, axis2=2).copy(),
)
prog(
    "batched-trace", "t[b] = A[b, i, i]", {"A": (2, 3, 3)}, lambda A: np.trace(A, axis1=1, axis2=2)
)
prog("transpose-3d", "T[k, i, j] = A[i, j, k]", {"A": (2, 3, 4)}, lambda A: A.transpose(2, 0, 1))
prog(
    "ellipsis-transpose",
    "T[..., j, i] = A[..., i, j]",
    {"A": (2, 3, 4, 5)},
    lambda A: np.swapaxes(A, -1, -2),
)
prog(
    "ellipsis-softmax",
    "Z[..., j] = softmax[j](S[..., j])",
    {"S": (2, 3, 4)},
    lambda S: softmax(S, -1),
)
prog(
    "ellipsis-bias", "C[..., i] = A[..., i] + b[i]", {"A": (2, 3, 4), "b": (4,)}, lambda A, b: A + b
)
prog("ellipsis-sum-last", "s[...] = sum[i](A[..., i])", {"A": (2, 3, 4)}, lambda A: A.sum(-1))
prog(
    "ellipsis-max-reduce",
    "m[..., j] = max[i](A[..., i, j])",
    {"A": (2, 3, 4)},
    lambda A: A.max(axis=-2),
)
prog(
    "ellipsis-mean-of-map",
    "m[..., j] = mean[i](exp(A[..., i, j]))",
    {"A": (2, 3, 4)},
    lambda A: np.exp(A).mean(axis=-2),
)
prog(
    "ellipsis-outer-with-plain-vector",
    "O[..., i, k] = A[..., k, j] * B[i]",
    {"A": (2, 3, 4), "B": (5,)},
    lambda A, B: A.sum(-1)[:, None, :] * B[None, :, None],
)
prog(
    "ellipsis-middle",
    "Y[b, ..., i] = X[b, ..., i] * w[i]",
    {"X": (2, 3, 4, 5), "w": (5,)},
    lambda X, w: X * w,
)
prog(
    "ellipsis-matvec-plain-vector",
    "y[..., i] = A[..., i, j] * x[j]",
    {"A": (2, 3, 4), "x": (4,)},
    lambda A, x: A @ x,
)
prog(
    "ellipsis-vecmat-plain-vector",
    "y[..., k] = x[j] * B[..., j, k]",
    {"x": (4,), "B": (3, 4, 5)},
    lambda x, B: x @ B,
)
prog(
    "ellipsis-three-operands-broadcast",
    "D[..., i] = A[..., i] * B[..., i] * C[..., i]",
    {"A": (2, 1, 4), "B": (1, 3, 4), "C": (3, 4)},
    lambda A, B, C: A * B * C,
)
prog("merge-three-axes", "Y[(a b c)] = X[a, b, c]", {"X": (2, 3, 4)}, lambda X: X.reshape(24))
prog(
    "merge-with-transpose",
    "Y[(d h), n] = X[h, n, d]",
    {"X": (2, 3, 4)},
    lambda X: X.transpose(2, 0, 1).reshape(8, 3),
)
prog(
    "split-two-keywords",
    "X[a, b, c] = Y[(a b c)]",
    {"Y": (24,)},
    lambda Y, a, b: Y.reshape(a, b, 24 // (a * b)),
    sizes={"a": 2, "b": 3},
)
prog(
    "split-size-from-other-operand",
    "X[b, h, d] = Y[b, (h d)] * w[d]",
    {"Y": (2, 6), "w": (3,)},
    lambda Y, w: Y.reshape(2, 2, 3) * w,
)
prog(
    "split-and-merge",
    "Z[(d h), n] = Y[n, (h d)]",
    {"Y": (3, 6)},
    lambda Y, h: Y.reshape(3, h, 6 // h).transpose(2, 1, 0).reshape(6, 3),
    sizes={"h": 2},
)
prog(
    "pixel-shuffle",
    "Y[b, c, (h p), (w q)] = X[b, (c p q), h, w]",
    {"X": (1, 8, 3, 2)},
    lambda X, p, q: (
        X.reshape(1, 2, p, q, 3, 2).transpose(0, 1, 4, 2, 5, 3).reshape(1, 2, 3 * p, 2 * q)
    ),
    sizes={"p": 2, "q": 2},
)
prog(
    "merge-heads-after-contraction",
    "O[b, h, i, d] = P[b, h, i, j] * V[b, h, j, d]\nY[b, i, (h d)] = O[b, h, i, d]",
    {"P": (2, 3, 4, 5), "V": (2, 3, 5, 2)},
    lambda P, V: np.matmul(P, V).transpose(0, 2, 1, 3).reshape(2, 4, 6),
)

# --------------------------------------------------------------------------------------------
# What users write: attention, normalisation, MLPs, losses, norms


def _attention(
    Q: np.ndarray, K: np.ndarray, V: np.ndarray, scale: float, mask: bool = False
) -> np.ndarray:
    S = np.einsum("bhid,bhjd->bhij", Q, K) * scale
    if mask:
        S = causal(S)
    return np.einsum("bhij,bhjd->bhid", softmax(S, -1), V)


prog(
    "attention-scores",
    "S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] / sqrt(dk)",
    {"Q": (2, 2, 3, 4), "K": (2, 2, 5, 4), "dk": 4.0},
    lambda Q, K, dk: np.einsum("bhid,bhjd->bhij", Q, K) / np.sqrt(dk),
)
prog(
    "attention",
    "S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] / sqrt(dk)\n"
    "P[b, h, i, j] = softmax[j](S[b, h, i, j])\n"
    "O[b, h, i, d] = P[b, h, i, j] * V[b, h, j, d]",
    {"Q": (2, 2, 3, 4), "K": (2, 2, 5, 4), "dk": 4.0, "V": (2, 2, 5, 4)},
    lambda Q, K, dk, V: _attention(Q, K, V, 1 / np.sqrt(dk)),
)
prog(
    "causal-attention",
    "S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] * scale\n"
    "M[b, h, i, j] = where(j <= i, S[b, h, i, j], -inf)\n"
    "P[b, h, i, j] = softmax[j](M[b, h, i, j])\n"
    "O[b, h, i, d] = P[b, h, i, j] * V[b, h, j, d]",
    {"Q": (2, 2, 4, 3), "K": (2, 2, 4, 3), "scale": 0.5, "V": (2, 2, 4, 3)},
    lambda Q, K, scale, V: _attention(Q, K, V, scale, mask=True),
)
prog(
    "multi-head-attention-composed",
    "Q[b, h, i, d] = XQ[b, i, (h d)]\n"
    "K[b, h, j, d] = XK[b, j, (h d)]\n"
    "V[b, h, j, d] = XV[b, j, (h d)]\n"
    "S[b, h, i, j] = Q[b, h, i, d] * K[b, h, j, d] * scale\n"
    "P[b, h, i, j] = softmax[j](S[b, h, i, j])\n"
    "O[b, h, i, d] = P[b, h, i, j] * V[b, h, j, d]\n"
    "Y[b, i, (h d)] = O[b, h, i, d]",
    {"XQ": (2, 3, 6), "XK": (2, 4, 6), "XV": (2, 4, 6), "scale": 0.4},
    lambda XQ, XK, XV, scale, h: (
        _attention(
            XQ.reshape(2, 3, h, 6 // h).transpose(0, 2, 1, 3),
            XK.reshape(2, 4, h, 6 // h).transpose(0, 2, 1, 3),
            XV.reshape(2, 4, h, 6 // h).transpose(0, 2, 1, 3),
            scale,
        )
        .transpose(0, 2, 1, 3)
        .reshape(2, 3, 6)
    ),
    sizes={"h": 2},
)


def _layer_norm(X: np.ndarray, eps: float, g: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mu = X.mean(axis=-1, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=-1, keepdims=True)
    return (X - mu) / np.sqrt(var + eps) * g + beta


prog(
    "layer-norm",
    "mu[n] = mean[d](X[n, d])\n"
    "var[n] = mean[d]((X[n, d] - mu[n]) ** 2)\n"
    "Y[n, d] = (X[n, d] - mu[n]) / sqrt(var[n] + eps) * g[d] + beta[d]",
    {"X": (4, 5), "eps": 1e-5, "g": (5,), "beta": (5,)},
    _layer_norm,
)
# Layer norms whose reverse-mode derivative is the closed form (tensorc.autodiff.standardised):
# eps a number, so nothing differentiates it; spelled the ways that closed form finds.


def _standardised(X: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    centred = X - X.mean(axis=axes, keepdims=True)
    return centred / np.sqrt((centred**2).mean(axis=axes, keepdims=True) + eps)


prog(
    "layer-norm-closed-form",
    "mu[n] = mean[d](X[n, d])\n"
    "var[n] = mean[d]((X[n, d] - mu[n]) ** 2)\n"
    "Y[n, d] = (X[n, d] - mu[n]) / sqrt(var[n] + 1e-05) * g[d] + beta[d]",
    {"X": (4, 5), "g": (5,), "beta": (5,)},
    lambda X, g, beta: _standardised(X, (-1,), 1e-5) * g + beta,
)
prog(
    "layer-norm-closed-form-inline",
    "Y[n, d] = g[d] * (X[n, d] - mean[d](X[n, d])) / sqrt(var[d](X[n, d]) + 0.001)",
    {"g": (6,), "X": (3, 6)},
    lambda g, X: g * _standardised(X, (-1,), 1e-3),
)
prog(
    "layer-norm-closed-form-power",
    "m[b] = mean[c](X[c, b])\nv[b] = var[c](X[c, b])\n"
    "Y[c, b] = (X[c, b] - m[b]) * (0.01 + v[b]) ** -0.5 + m[b]",
    {"X": (5, 3)},
    lambda X: _standardised(X, (0,), 1e-2) + X.mean(axis=0),
)
prog(
    "layer-norm-closed-form-ellipsis",
    "m[...] = mean[d](X[..., d])\nv[...] = mean[d]((X[..., d] - m[...]) ** 2)\n"
    "Y[..., d] = (X[..., d] - m[...]) / (v[...] + 1e-05) ** 0.5",
    {"X": (2, 3, 4)},
    lambda X: _standardised(X, (-1,), 1e-5),
)
prog(
    "group-norm-closed-form",
    "m[n] = mean[h, w](X[n, h, w])\nv[n] = mean[w, h]((X[n, h, w] - m[n]) ** 2)\n"
    "Y[n, h, w] = (X[n, h, w] - m[n]) / sqrt(v[n] + 1e-05)",
    {"X": (2, 3, 4)},
    lambda X: _standardised(X, (1, 2), 1e-5),
)
prog(
    "standardise-closed-form",
    "m = mean[i](x[i])\nv = mean[i]((x[i] - m) ** 2)\ny[i] = -(x[i] - m) / sqrt(v + 1e-05)",
    {"x": (7,)},
    lambda x: -_standardised(x, (0,), 1e-5),
)
prog(
    "rms-norm",
    "r[n] = sqrt(mean[d](X[n, d] ** 2) + eps)\nY[n, d] = X[n, d] / r[n] * g[d]",
    {"X": (4, 5), "eps": 1e-6, "g": (5,)},
    lambda X, eps, g: X / np.sqrt((X**2).mean(-1, keepdims=True) + eps) * g,
)
prog(
    "softmax-by-hand",
    "E[i, j] = exp(S[i, j] - max[k](S[i, k]))\nZ[i, j] = E[i, j] / sum[k](E[i, k])",
    {"S": (3, 4)},
    lambda S: softmax(S, 1),
)
prog(
    "keepdims-mean-center",
    "P[i, j] = A[i, j] - mean[j](A[i, j])",
    {"A": (3, 4)},
    lambda A: A - A.mean(axis=1, keepdims=True),
)
prog(
    "keepdims-column-normalise",
    "P[i, j] = A[i, j] / sum[i](A[i, j])",
    {"A": Arr((3, 4), "positive")},
    lambda A: A / A.sum(axis=0, keepdims=True),
)
prog(
    "keepdims-max-shift",
    "P[i, j] = A[i, j] - max[j](A[i, j])",
    {"A": (3, 4)},
    lambda A: A - A.max(axis=1, keepdims=True),
)
prog("sum-all", "s = sum[i, j](A[i, j])", {"A": (3, 4)}, lambda A: A.sum())
prog("sum-rows", "s[i] = sum[j](A[i, j])", {"A": (3, 4)}, lambda A: A.sum(1))
prog("sum-middle-axis", "s[i, k] = sum[j](A[i, j, k])", {"A": (2, 3, 4)}, lambda A: A.sum(1))
prog(
    "sum-two-axes-transposed-output",
    "s[k, i] = sum[j, l](A[i, j, k, l])",
    {"A": (2, 3, 4, 5)},
    lambda A: A.sum(axis=(1, 3)).T,
)
prog("mean-all", "m = mean[i, j](A[i, j])", {"A": (3, 4)}, lambda A: A.mean())
prog("prod", "p[i] = prod[j](A[i, j])", {"A": (3, 4)}, lambda A: A.prod(1))
prog("max-reduce", "m[j] = max[i](A[i, j])", {"A": (3, 4)}, lambda A: A.max(0))
prog("min-reduce", "m[j] = min[i](A[i, j])", {"A": (3, 4)}, lambda A: A.min(0))
prog(
    "max-masked",
    "m[i] = max[j](where(M[i, j], A[i, j], -inf))",
    {"M": Arr((3, 4), "bool"), "A": (3, 4)},
    lambda M, A: np.where(M, A, -np.inf).max(1),
)
prog("norm-l1", "n = sum[i](abs(x[i]))", {"x": (6,)}, lambda x: np.abs(x).sum())
prog("norm-l2", "n = sqrt(sum[i](x[i] ** 2))", {"x": (6,)}, lambda x: np.linalg.norm(x))
prog(
    "norm-frobenius",
    "n = sqrt(sum[i, j](A[i, j] * A[i, j]))",
    {"A": (3, 4)},
    lambda A: np.linalg.norm(A, "fro"),
)
prog(
    "norm-rows",
    "n[i] = sqrt(sum[j](A[i, j] ** 2))",
    {"A": (3, 4)},
    lambda A: np.linalg.norm(A, axis=1),
)
prog("norm-max", "n = max[i](abs(x[i]))", {"x": (6,)}, lambda x: np.abs(x).max())
prog(
    "normalise-rows",
    "Y[i, j] = A[i, j] / sqrt(sum[k](A[i, k] ** 2))",
    {"A": (3, 4)},
    lambda A: A / np.linalg.norm(A, axis=1, keepdims=True),
)
prog(
    "variance",
    "v[j] = mean[i]((A[i, j] - mean[k](A[k, j])) ** 2)",
    {"A": (5, 3)},
    lambda A: A.var(axis=0),
)
prog(
    "squared-distances",
    "D[i, j] = sum[d]((X[i, d] - Y[j, d]) ** 2)",
    {"X": (3, 4), "Y": (5, 4)},
    lambda X, Y: ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1),
)
prog(
    "cosine-similarity",
    "nx[i] = sqrt(sum[d](X[i, d] ** 2))\n"
    "ny[j] = sqrt(sum[d](Y[j, d] ** 2))\n"
    "C[i, j] = sum[d](X[i, d] * Y[j, d]) / (nx[i] * ny[j])",
    {"X": (3, 4), "Y": (5, 4)},
    lambda X, Y: (X @ Y.T) / np.outer(np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)),
)
prog(
    "polynomial",
    "y[i] = x[i] ** 3 - 2 * x[i] ** 2 + x[i] - 1",
    {"x": (6,)},
    lambda x: x**3 - 2 * x**2 + x - 1,
)
prog("unary-minus-binds-looser-than-power", "y[i] = -x[i] ** 2", {"x": (6,)}, lambda x: -(x**2))
prog("power-tensor-exponent", "y[i] = 2 ** x[i]", {"x": (6,)}, lambda x: 2.0**x)
prog("power-fractional", "y[i] = x[i] ** 0.5", {"x": Arr((6,), "positive")}, lambda x: x**0.5)
prog("divide-by-constant", "y[i] = x[i] / 2", {"x": (6,)}, lambda x: x / 2)
prog(
    "divide-by-scalar-input",
    "y[i] = x[i] / alpha",
    {"x": (6,), "alpha": 3.0},
    lambda x, alpha: x / alpha,
)
prog(
    "sigmoid-bce",
    "L = mean[n](relu(z[n]) - z[n] * y[n] + log(1 + exp(-abs(z[n]))))",
    {"z": (6,), "y": Arr((6,), "unit")},
    lambda z, y: (relu(z) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(),
)
prog(
    "cross-entropy",
    "LP[n, c] = Z[n, c] - logsumexp[c](Z[n, c])\nL = -mean[n](sum[c](Y[n, c] * LP[n, c]))",
    {"Z": (4, 3), "Y": Arr((4, 3), "unit")},
    lambda Z, Y: -(Y * (Z - logsumexp(Z, 1, keepdims=True))).sum(1).mean(),
)
prog(
    "bilinear",
    "y[n, o] = x1[n, i] * W[o, i, j] * x2[n, j]",
    {"x1": (4, 3), "W": (2, 3, 5), "x2": (4, 5)},
    lambda x1, W, x2: np.einsum("ni,oij,nj->no", x1, W, x2),
)
prog(
    "chain-of-three",
    "D[i, l] = A[i, j] * B[j, k] * C[k, l]",
    {"A": (2, 3), "B": (3, 4), "C": (4, 5)},
    lambda A, B, C: A @ B @ C,
)
prog("hadamard", "C[i, j] = A[i, j] * B[i, j]", {"A": (3, 4), "B": (3, 4)}, lambda A, B: A * B)
prog("outer", "O[i, j] = x[i] * y[j]", {"x": (3,), "y": (4,)}, lambda x, y: np.outer(x, y))
prog("vecmat", "y[k] = x[j] * B[j, k]", {"x": (4,), "B": (4, 5)}, lambda x, B: x @ B)
prog(
    "bmm",
    "C[b, i, k] = A[b, i, j] * B[b, j, k]",
    {"A": (2, 3, 4), "B": (2, 4, 5)},
    lambda A, B: np.matmul(A, B),
)
prog(
    "baddbmm",
    "C[b, i, k] = beta * M[b, i, k] + alpha * sum[j](A[b, i, j] * B[b, j, k])",
    {"beta": 0.5, "M": (2, 3, 5), "alpha": 2.0, "A": (2, 3, 4), "B": (2, 4, 5)},
    lambda beta, M, alpha, A, B: beta * M + alpha * np.matmul(A, B),
)
prog(
    "batched-dot",
    "z[b] = x[b, i] * y[b, i]",
    {"x": (3, 4), "y": (3, 4)},
    lambda x, y: (x * y).sum(1),
)
prog(
    "keras-dot-nd",
    "Z[a, b, c, e] = X[a, b, d] * Y[c, d, e]",
    {"X": (2, 3, 4), "Y": (5, 4, 2)},
    lambda X, Y: np.tensordot(X, Y, axes=([2], [1])),
)
prog(
    "keras-batch-dot-axes-2-2",
    "Z[b, i, k] = X[b, i, j] * Y[b, k, j]",
    {"X": (2, 3, 4), "Y": (2, 5, 4)},
    lambda X, Y: np.matmul(X, np.swapaxes(Y, 1, 2)),
)
prog(
    "keras-batch-dot-3d-4d",
    "Z[b, i, k, l] = X[b, i, j] * Y[b, j, k, l]",
    {"X": (2, 3, 4), "Y": (2, 4, 2, 3)},
    lambda X, Y: np.stack([np.tensordot(X[n], Y[n], axes=([1], [0])) for n in range(2)]),
)
prog(
    "tensordot-two-axes",
    "Z[i, l] = A[i, j, k] * B[k, j, l]",
    {"A": (2, 3, 4), "B": (4, 3, 5)},
    lambda A, B: np.tensordot(A, B, axes=([1, 2], [1, 0])),
)
prog(
    "frobenius-inner",
    "s = A[i, j] * B[i, j]",
    {"A": (3, 4), "B": (3, 4)},
    lambda A, B: (A * B).sum(),
)
prog(
    "einstein-scalar-divisor",
    "Y[i, k] = A[i, j] * B[j, k] / n",
    {"A": (3, 4), "B": (4, 2), "n": 4.0},
    lambda A, B, n: A @ B / n,
)
prog(
    "einstein-constant-factor",
    "y[i] = 0.5 * A[i, j] * x[j]",
    {"A": (3, 4), "x": (4,)},
    lambda A, x: 0.5 * (A @ x),
)
prog("leaky-relu", "Y[i] = max(X[i], 0.1 * X[i])", {"X": (6,)}, lambda X: np.maximum(X, 0.1 * X))
prog("clip", "Y[i] = min(max(X[i], -0.5), 0.5)", {"X": (6,)}, lambda X: np.clip(X, -0.5, 0.5))
prog(
    "where-leaky",
    "Y[i, j] = where(A[i, j] > 0, A[i, j], 0.01 * A[i, j])",
    {"A": (3, 4)},
    lambda A: np.where(A > 0, A, 0.01 * A),
)
prog(
    "gelu-tanh",
    "Y[i] = 0.5 * X[i] * (1 + tanh(0.7978845608 * (X[i] + 0.044715 * X[i] ** 3)))",
    {"X": (6,)},
    lambda X: 0.5 * X * (1 + np.tanh(0.7978845608 * (X + 0.044715 * X**3))),
)
prog("softplus", "Y[i] = log(1 + exp(X[i]))", {"X": (6,)}, lambda X: np.log(1 + np.exp(X)))
prog(
    "swiglu-gate",
    "H[n, o] = X[n, i] * W[i, o]\nG[n, o] = X[n, i] * V[i, o]\n"
    "Y[n, o] = H[n, o] * G[n, o] * sigmoid(G[n, o])",
    {"X": (4, 3), "W": (3, 5), "V": (3, 5)},
    lambda X, W, V: (X @ W) * (X @ V) * sigmoid(X @ V),
)
prog(
    "two-layer-mlp",
    "H[n, h] = X[n, i] * W1[i, h]\n"
    "A[n, h] = tanh(H[n, h] + b1[h])\n"
    "O[n, o] = A[n, h] * W2[h, o]\n"
    "Y[n, o] = O[n, o] + b2[o]",
    {"X": (4, 3), "W1": (3, 5), "b1": (5,), "W2": (5, 2), "b2": (2,)},
    lambda X, W1, b1, W2, b2: np.tanh(X @ W1 + b1) @ W2 + b2,
)
prog(
    "residual-same-size-indices",
    "H[n, d] = X[n, e] * W[e, d]\nY[n, d] = X[n, d] + tanh(H[n, d])",
    {"X": (3, 4), "W": (4, 4)},
    lambda X, W: X + np.tanh(X @ W),
)
prog(
    "cumsum-normalised",
    "C[i, j] = cumsum[j](A[i, j]) / sum[k](A[i, k])",
    {"A": Arr((3, 4), "positive")},
    lambda A: np.cumsum(A, 1) / A.sum(1, keepdims=True),
)
prog(
    "cumsum-middle-axis",
    "C[i, j, k] = cumsum[j](A[i, j, k])",
    {"A": (2, 3, 4)},
    lambda A: np.cumsum(A, 1),
)
prog(
    "softmax-middle-axis",
    "Z[i, j, k] = softmax[j](S[i, j, k])",
    {"S": (2, 3, 4)},
    lambda S: softmax(S, 1),
)
prog(
    "softmax-transposed-output",
    "Z[j, i] = softmax[j](S[i, j])",
    {"S": (3, 4)},
    lambda S: softmax(S, 1).T,
)
prog(
    "int-matmul",
    "C[i, k] = A[i, j] * B[j, k]",
    {"A": Arr((3, 4), "int"), "B": Arr((4, 2), "int")},
    lambda A, B: A @ B,
    grad=False,
)
prog("int-sum", "s[i] = sum[j](A[i, j])", {"A": Arr((3, 4), "int")}, lambda A: A.sum(1), grad=False)
prog(
    "float32-matmul",
    "C[i, k] = A[i, j] * B[j, k]",
    {"A": Arr((3, 4), "float32"), "B": Arr((4, 2), "float32")},
    lambda A, B: A @ B,
    grad=False,
    rtol=1e-5,
    atol=1e-6,
)
prog(
    "float32-python-scalar-keeps-float32",
    "Y[i] = alpha * X[i] + 1",
    {"alpha": 1.5, "X": Arr((5,), "float32")},
    lambda alpha, X: alpha * X + 1,
    grad=False,
    rtol=1e-5,
    atol=1e-6,
)
prog(
    "float32-softmax",
    "Z[i, j] = softmax[j](S[i, j])",
    {"S": Arr((3, 4), "float32")},
    lambda S: softmax(S, 1),
    grad=False,
    rtol=1e-5,
    atol=1e-6,
)
prog(
    "float32-mean-sqrt",
    "n[i] = sqrt(mean[j](A[i, j] ** 2))",
    {"A": Arr((3, 4), "float32")},
    lambda A: np.sqrt((A**2).mean(1)),
    grad=False,
    rtol=1e-5,
    atol=1e-6,
)
prog(
    "where-two-scalar-branches",
    "O[i] = where(A[i] > 0, alpha, beta)",
    {"A": (5,), "alpha": 1.455, "beta": 0.905},
    lambda A, alpha, beta: np.where(A > 0, alpha, beta),
    grad=False,
)
prog(
    "bool-mask-input",
    "Y[i, j] = where(M[i, j], A[i, j], 0)",
    {"M": Arr((3, 4), "bool"), "A": (3, 4)},
    lambda M, A: np.where(M, A, 0.0),
)
prog(
    "bool-mask-and-scalar",
    "Y[i, j] = where(M[i, j], A[i, j] * alpha, -A[i, j])",
    {"M": Arr((3, 4), "bool"), "A": (3, 4), "alpha": 2.5},
    lambda M, A, alpha: np.where(M, A * alpha, -A),
)
prog(
    "two-reductions-reuse-index",
    "C[i, k] = sum[j](A[i, j] * B[j, k]) + sum[j](P[i, j] * Q[j, k])",
    {"A": (2, 3), "B": (3, 4), "P": (2, 3), "Q": (3, 4)},
    lambda A, B, P, Q: A @ B + P @ Q,
)
prog(
    "sum-of-quotient",
    "y[i] = sum[j](A[i, j] / w[j])",
    {"A": (3, 4), "w": Arr((4,), "positive")},
    lambda A, w: (A / w).sum(1),
)
prog(
    "mean-of-quotient-with-map",
    "y[i] = mean[j](exp(A[i, j]) / (1 + w[j] ** 2))",
    {"A": (3, 4), "w": (4,)},
    lambda A, w: (np.exp(A) / (1 + w**2)).mean(1),
)
prog("nested-reductions", "m = max[i](sum[j](A[i, j]))", {"A": (3, 4)}, lambda A: A.sum(1).max())
prog(
    "reduce-contraction",
    "s[i] = sum[j, k](A[i, j] * B[j, k])",
    {"A": (2, 3), "B": (3, 4)},
    lambda A, B: (A @ B).sum(1),
)
prog(
    "mean-of-product",
    "m[i] = mean[j](A[i, j] * x[j])",
    {"A": (3, 4), "x": (4,)},
    lambda A, x: (A * x).mean(1),
)
prog(
    "logsumexp-by-hand",
    "L[i] = log(sum[j](exp(S[i, j])))",
    {"S": (3, 4)},
    lambda S: np.log(np.exp(S).sum(1)),
)
prog(
    "exp-of-contraction",
    "Y[i, k] = exp(sum[j](A[i, j] * B[j, k]))",
    {"A": (2, 3), "B": (3, 4)},
    lambda A, B: np.exp(A @ B),
)
prog(
    "broadcast-three-vectors",
    "Y[i, j, k] = a[i] + b[j] + c[k]",
    {"a": (2,), "b": (3,), "c": (4,)},
    lambda a, b, c: a[:, None, None] + b[None, :, None] + c[None, None, :],
)
prog(
    "broadcast-transposed-operand",
    "Y[i, j] = A[j, i] - x[i]",
    {"A": (4, 3), "x": (3,)},
    lambda A, x: A.T - x[:, None],
)
prog(
    "broadcast-new-leading-axis",
    "Y[b, i, j] = A[i, j] * s[b]",
    {"A": (3, 4), "s": (2,)},
    lambda A, s: s[:, None, None] * A[None],
)
prog("sqrt-abs", "Y[i] = sqrt(abs(x[i]) + 1)", {"x": (6,)}, lambda x: np.sqrt(np.abs(x) + 1))
prog(
    "reduction-plus-broadcast",
    "Y[i, j] = sum[k](A[i, k]) + B[i, j]",
    {"A": (3, 5), "B": (3, 4)},
    lambda A, B: A.sum(1, keepdims=True) + B,
)
prog(
    "max-of-two-reductions",
    "Y[i] = max(max[j](A[i, j]), min[k](B[i, k]))",
    {"A": (3, 4), "B": (3, 5)},
    lambda A, B: np.maximum(A.max(1), B.min(1)),
)
prog(
    "mixed-int-float-contraction",
    "C[i, k] = A[i, j] * B[j, k]",
    {"A": Arr((3, 4), "int"), "B": (4, 2)},
    lambda A, B: A @ B,
    grad=False,
)
prog(
    "sum-over-empty-axis",
    "s[i] = sum[j](A[i, j])",
    {"A": (3, 0)},
    lambda A: A.sum(1),
    grad=False,
)
prog(
    "matmul-empty-inner",
    "C[i, k] = A[i, j] * B[j, k]",
    {"A": (2, 0), "B": (0, 3)},
    lambda A, B: A @ B,
    grad=False,
)
prog(
    "softmax-size-one-axis",
    "Z[i, j] = softmax[j](S[i, j])",
    {"S": (3, 1)},
    lambda S: softmax(S, 1),
)
prog(
    "transpose-6d",
    "T[f, d, b, e, a, c] = A[a, b, c, d, e, f]",
    {"A": (2, 1, 3, 2, 1, 2)},
    lambda A: A.transpose(5, 3, 1, 4, 0, 2),
)
prog(
    "reassign-input-name",
    "X[i] = X[i] * 2\nY[i] = X[i] + 1",
    {"X": (4,)},
    lambda X: 2 * X + 1,
)
prog(
    "scientific-literal",
    "Y[i] = X[i] + 1e-5 * X[i] ** 2 - 2.5E+1",
    {"X": (4,)},
    lambda X: X + 1e-5 * X**2 - 25.0,
)
prog(
    "power-negative-exponent",
    "Y[i] = X[i] ** -1 + X[i] ** -0.5",
    {"X": Arr((4,), "positive")},
    lambda X: 1 / X + X**-0.5,
)
prog(
    "max-with-index-value",
    "Y[i] = max(X[i], 0.5 * i)",
    {"X": (4,)},
    lambda X: np.maximum(X, 0.5 * np.arange(4)),
)
prog(
    "comparison-times-float",
    "Y[i] = (X[i] > 0) * X[i]",
    {"X": (5,)},
    lambda X: (X > 0) * X,
)
prog(
    "cumsum-ellipsis",
    "C[..., j] = cumsum[j](A[..., j])",
    {"A": (2, 3, 4)},
    lambda A: np.cumsum(A, -1),
)

# --------------------------------------------------------------------------------------------
# einsum: numpy's own test suite (numpy/_core/tests/test_einsum.py)

ein("ii", (4, 4), group="numpy")
ein("ii->i", (4, 4), group="numpy")
ein("ij->ji", (3, 4), group="numpy")
ein("ji", (3, 4), group="numpy")
ein("ij", (3, 4), group="numpy")
ein("...", (2, 3), group="numpy")
ein("...ii->...i", (2, 3, 3), group="numpy")
ein("ii...->...i", (3, 3, 2), group="numpy")
ein("...ii->i...", (2, 3, 3), group="numpy")
ein("jii->ij", (2, 3, 3), group="numpy")
ein("ii...->i...", (3, 3, 2), group="numpy")
ein("i...i->i...", (3, 2, 3), group="numpy")
ein("i...i->...i", (3, 2, 3), group="numpy")
ein("iii->i", (3, 3, 3), group="numpy")
ein("ijk->jik", (2, 3, 4), group="numpy")
ein("i->", (5,), group="numpy")
ein("...i->...", (2, 3, 4), group="numpy")
ein("i...->...", (4, 2, 3), group="numpy")
ein("..., ...", (2, 3), (2, 3), group="numpy")
ein("...i, ...i", (2, 3), (2, 3), group="numpy")
ein("i..., i...", (4, 2), (4, 2), group="numpy")
ein("i,j", (3,), (4,), group="numpy")
ein("ij, j", (3, 4), (4,), group="numpy")
ein("ji,j", (4, 3), (4,), group="numpy")
ein("ij,jk", (3, 4), (4, 5), group="numpy")
ein("ij,jk,kl", (2, 3), (3, 4), (4, 5), group="numpy")
ein("ijk, jil -> kl", (3, 4, 5), (4, 3, 2), group="numpy")
ein("ijk,jil->kl", (3, 4, 5), (4, 3, 2), group="numpy")
ein("i,i,i->i", (5,), (5,), (5,), group="numpy")
ein(",i->", (), (5,), group="numpy")
ein("i,->", (5,), (), group="numpy")
ein("i,->i", (5,), (), group="numpy")
ein(",i->i", (), (5,), group="numpy")
ein("...,...", (5,), (5,), group="numpy")
ein("i,i", (5,), (5,), group="numpy")
ein("mi,mi,mi->m", (3, 4), (3, 4), (3, 4), group="numpy")
ein("im,im,im->m", (4, 3), (4, 3), (4, 3), group="numpy")
ein("i,i->i", (5,), (5,), group="numpy")
ein("i,i->", (5,), (5,), group="numpy")
ein("i,i,i->", (5,), (5,), (5,), group="numpy")
ein("i,i,i,i->", (5,), (5,), (5,), (5,), group="numpy")
ein("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2), group="numpy")
ein("bbcdc->d", (2, 2, 3, 4, 3), group="numpy")
ein("...ft,mf->...mt", (2, 3, 4, 5), (6, 4), group="numpy")
ein("ji,i->", (4, 3), (3,), group="numpy")
ein("i,ij->", (4,), (4, 3), group="numpy")
ein("ij,i->", (4, 3), (4,), group="numpy")
ein("abc,bad->dc", (2, 3, 4), (3, 2, 5), group="numpy")
ein("ba,b", (3, 2), (3,), group="numpy")
ein("ba,b->", (3, 2), (3,), group="numpy")
ein("ab,b", (2, 3), (3,), group="numpy")
ein("...ij,...jk", (2, 3, 4), (2, 4, 5), group="numpy")
ein("Ab,bC->AC", group="numpy")

# --------------------------------------------------------------------------------------------
# einsum: opt_einsum's own test suite (opt_einsum/tests/test_contract.py and friends)

for _spec in [
    "a,->a",
    "ab,->ab",
    ",ab,->ab",
    ",,->",
    "a,ab,abc->abc",
    "a,b,ab->ab",
    "ea,fb,gc,hd,abcd->efgh",
    "ea,fb,abcd,gc,hd->efgh",
    "abcd,ea,fb,gc,hd->efgh",
    "acdf,jbje,gihb,hfac,gfac,gifabc,hfac",
    "cd,bdhe,aidb,hgca,gc,hgibcd,hgac",
    "abhe,hidj,jgba,hiab,gab",
    "bde,cdh,agdb,hica,ibd,hgicd,hiac",
    "chd,bde,agbc,hiad,hgc,hgi,hiad",
    "chd,bde,agbc,hiad,bdi,cgh,agdb",
    "bdhe,acad,hiab,agac,hibd",
    "ab,ab,c->",
    "ab,ab,c->c",
    "ab,ab,cd,cd->",
    "ab,ab,cd,cd->ac",
    "ab,ab,cd,cd->cd",
    "ab,ab,cd,cd,ef,ef->",
    "ab,cd,ef->abcdef",
    "ab,cd,ef->acdf",
    "ab,cd,de->abcde",
    "ab,cd,de->be",
    "ab,bcd,cd->abcd",
    "ab,bcd,cd->abd",
    "eb,cb,fb->cef",
    "dd,fb,be,cdb->cef",
    "bca,cdb,dbf,afc->",
    "dcc,fce,ea,dbf->ab",
    "fdf,cdd,ccd,afe->ae",
    "abcd,ad",
    "ed,fcd,ff,bcf->be",
    "baa,dcf,af,cde->be",
    "bd,db,eac->ace",
    "fff,fae,bef,def->abd",
    "efc,dbc,acf,fd->abe",
    "ab,ab",
    "ab,ba",
    "abc,abc",
    "abc,bac",
    "abc,cba",
    "ab,bc",
    "ab,cb",
    "ba,bc",
    "ba,cb",
    "abcd,cd",
    "abcd,ab",
    "abcd,cdef",
    "abcd,cdef->feba",
    "abcd,efdc",
    "aab,bc->ac",
    "ab,bcc->ac",
    "aab,bcc->ac",
    "baa,bcc->ac",
    "aab,ccb->ac",
    "aab,fa,df,ecc->bde",
    "ecb,fef,bad,ed->ac",
    "bcf,bbb,fbf,fc->",
    "bb,ff,be->e",
    "bcb,bb,fc,fff->",
    "fbb,dfd,fc,fc->",
    "afd,ba,cc,dc->bf",
    "adb,bc,fa,cfc->d",
    "bbd,bda,fc,db->acf",
    "dba,ead,cad->bce",
    "aef,fbc,dca->bde",
    "abc,bdef,fghj,cem,mhk,ljk->adgl",
    "ijk,kl,jl,i->i",
    "abjk,kl,jl,ab->ab",
    "ajk,kbl,jl,ab->ab",
    "ij,ij->j",
]:
    ein(_spec, group="opt_einsum")
ein("obk,ijk->ioj", (3, 3, 3), (3, 3, 3), group="opt_einsum")
ein("...a->...a", (2, 3, 4), group="opt_einsum")
ein("...a->...", (2, 3, 4), group="opt_einsum")
ein("a...->...", (4, 2, 3), group="opt_einsum")
ein("a...a->...a", (3, 2, 3), group="opt_einsum")
ein("...b,...a->...", (2, 3), (2, 4), group="opt_einsum")

# --------------------------------------------------------------------------------------------
# einsum: what users reach for (torch.bmm, torch.matmul broadcasting, attention, ...)

ein("bij,bjk->bik", (2, 3, 4), (2, 4, 5), group="users", reference=lambda a, b: np.matmul(a, b))
ein(
    "bi,bj->bij",
    (2, 3),
    (2, 4),
    group="users",
    reference=lambda a, b: a[:, :, None] * b[:, None, :],
)
ein("bi,bi->b", (3, 4), (3, 4), group="users", reference=lambda a, b: (a * b).sum(1))
ein("ij,j->i", (3, 4), (4,), group="users", reference=lambda a, b: a @ b)
ein("i,j->ij", (3,), (4,), group="users", reference=lambda a, b: np.outer(a, b))
ein("i,i->", (5,), (5,), group="users", reference=lambda a, b: np.dot(a, b))
ein("ii->", (4, 4), group="users", reference=lambda a: np.trace(a))
ein("bii->b", (2, 3, 3), group="users", reference=lambda a: np.trace(a, axis1=1, axis2=2))
ein(
    "bii->bi", (2, 3, 3), group="users", reference=lambda a: np.diagonal(a, axis1=1, axis2=2).copy()
)
ein("ij->", (3, 4), group="users", reference=lambda a: a.sum())
ein("ij->j", (3, 4), group="users", reference=lambda a: a.sum(0))
ein("ij->i", (3, 4), group="users", reference=lambda a: a.sum(1))
ein("...ij->...ji", (2, 3, 4), group="users", reference=lambda a: np.swapaxes(a, -1, -2))
ein(
    "bhid,bhjd->bhij",
    (2, 2, 3, 4),
    (2, 2, 5, 4),
    group="users",
    reference=lambda q, k: np.matmul(q, np.swapaxes(k, -1, -2)),
)
ein(
    "bhij,bhjd->bhid",
    (2, 2, 3, 5),
    (2, 2, 5, 4),
    group="users",
    reference=lambda p, v: np.matmul(p, v),
)
ein(
    "nchw,oc->nohw",
    (2, 3, 4, 5),
    (6, 3),
    group="users",
    reference=lambda x, w: np.tensordot(w, x, axes=([1], [1])).transpose(1, 0, 2, 3),
)
ein(
    "bn,anm,bm->ba",
    (4, 3),
    (2, 3, 5),
    (4, 5),
    group="users",
    reference=lambda x1, w, x2: np.stack([((x1 @ w[a]) * x2).sum(1) for a in range(2)], 1),
)
ein(
    "...ij,...jk->...ik",
    (4, 1, 3, 4),
    (5, 4, 2),
    group="users",
    reference=lambda a, b: np.matmul(a, b),
)
ein("...ij,...j->...i", (2, 3, 4), (4,), group="users", reference=lambda a, b: a @ b)
ein("ij,jk,kl->il", (2, 3), (3, 4), (4, 5), group="users", reference=lambda a, b, c: a @ b @ c)
ein(
    "bij,bkj->bik",
    (2, 3, 4),
    (2, 5, 4),
    group="users",
    reference=lambda a, b: np.matmul(a, np.swapaxes(b, 1, 2)),
)
ein("ij,ij->ij", (3, 4), (3, 4), group="users", reference=lambda a, b: a * b)
ein("ij,ij->", (3, 4), (3, 4), group="users", reference=lambda a, b: (a * b).sum())
ein("i,i,i->", (5,), (5,), (5,), group="users", reference=lambda a, b, c: (a * b * c).sum())
ein("ijk->kji", (2, 3, 4), group="users", reference=lambda a: a.transpose(2, 1, 0))
ein(
    "ij,kl->ijkl",
    (2, 3),
    (4, 2),
    group="users",
    reference=lambda a, b: a[:, :, None, None] * b[None, None, :, :],
)
ein(
    "bij,bjk",
    (2, 3, 4),
    (2, 4, 5),
    group="users",
    # implicit mode: b appears twice, so it is summed too and the output is "ik"
    reference=lambda a, b: np.matmul(a, b).sum(axis=0),
)
ein(
    "ij,jk->ik",
    Arr((3, 4), "int"),
    Arr((4, 2), "int"),
    group="users",
    reference=lambda a, b: a @ b,
    grad=False,
)
ein(",i->i", 2.0, (5,), group="python-scalar-operand", reference=lambda a, b: a * b)
ein("i,->", (5,), 3.0, group="python-scalar-operand", reference=lambda a, b: a.sum() * b)
ein(
    "ij,jk->ik",
    Arr((3, 4), "int"),
    (4, 2),
    group="mixed-int-float",
    reference=lambda a, b: a @ b,
    grad=False,
)
ein(
    "ij,jk->ik",
    Arr((3, 4), "float32"),
    Arr((4, 2), "float32"),
    group="users-float32",
    reference=lambda a, b: a @ b,
    rtol=1e-5,
    atol=1e-6,
)

CASE_IDS: list[str] = [case.id for case in CASES]
CASES_BY_ID: dict[str, Case] = {case.id: case for case in CASES}
PROGRAM_CASES: list[Case] = [case for case in CASES if not case.einsum]


def _jax_representative(position: int, case: Case) -> bool:
    """JAX compiles every generated function (they are jitted), so the checks that repeat the
    named-backend run (backend=None, f.source, f.source_for) run on JAX only for a
    representative subset: every program with keyword sizes, scalar inputs or several
    outputs, every fourth other program and every eighth einsum case.  Set
    TENSORC_EQUIVALENCE_FULL=1 to run them all."""
    if os.environ.get("TENSORC_EQUIVALENCE_FULL"):
        return True
    if case.einsum:
        return position % 8 == 0
    special = (
        bool(case.sizes)
        or any(isinstance(spec, float) for spec in case.inputs.values())
        or "return" in case.src
    )
    return special or position % 4 == 0


JAX_SUBSET_IDS: frozenset[str] = frozenset(
    case.id for position, case in enumerate(CASES) if _jax_representative(position, case)
)
EINSUM_CASES: list[Case] = [case for case in CASES if case.einsum]
# Gradients: every differentiable program, and every third differentiable einsum case.
GRAD_CASES: list[Case] = [case for case in PROGRAM_CASES if case.grad and case.float_inputs] + [
    case for case in EINSUM_CASES if case.grad and case.float_inputs
][::3]
