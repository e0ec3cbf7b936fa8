"""Recognises, in the IR, the normalisations and activations that libraries have kernels for.

- layer norm over trailing axes, `(x - mean[c](x)) / sqrt(var + eps)`, the variance written
  as `var[c](x)` or `mean[c]((x - mean) ** 2)`, times a gain and plus a bias or not:
  an `ir.Normalise` node of kind "layer";
- RMS norm, `x / sqrt(mean[c](x ** 2) + eps)` [* g] [+ b]: a `Normalise` of kind "rms";
- `x - logsumexp[j](x)` and `log(softmax[j](x))`: `log_softmax[j](x)`;
- `x * sigmoid(x)` and `x / (1 + exp(-x))`: `silu(x)`; `0.5 * x * (1 + erf(x / sqrt(2)))`:
  `gelu(x)`; `log(1 + exp(x))` and `log1p(exp(x))`: `softplus(x)`.

Each backend writes an operation as is fastest there (PyTorch: `F.layer_norm`, `F.rms_norm`,
`F.gelu`, ...; measured in docs/graph-compilers.md); `written_out` turns a `Normalise` back into
its formula for a backend without that kernel. Other statements' values are looked through,
so a norm spelt out one statement per step (`mu[n] = mean[c](X[n, c])` ...) is found too; the
statements nothing reads any more are dropped by `drop_dead_statements`, which runs after.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TypeGuard

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes

ONE = ir.Const(1.0, "1")
ZERO = ir.Const(0.0, "0")
Factors = list[tuple[ir.Node, int]]  # a product: each factor with its power, 1 or -1
Labelled = ir.Map | ir.Contract  # what the rules look at: operations, and products


def fuse_normalisations(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Each recognised pattern made one node (or one library operation)."""
    look = _Look(program)
    lets = []
    for let in program.lets:
        value = ir.rewrite(let.value, look.recognise)
        look.values[let.name] = value
        lets.append(replace(let, value=value))
    return replace(program, lets=tuple(lets))


class _Look:
    """Sees through the statements of a program: a read of a target stands for its value."""

    def __init__(self, program: ir.Program):
        self.values: dict[str, ir.Node] = {}  # each statement's value, once recognised
        reads: dict[str, int] = {}
        for let in program.lets:
            for node in ir.walk(let.value):
                if isinstance(node, ir.Var):
                    reads[node.name] = reads.get(node.name, 0) + 1
        kept = set(program.outputs)
        self.single = {let.name for let in program.lets if reads.get(let.name) == 1} - kept

    def value(self, node: ir.Node, carried: bool = False) -> ir.Node:
        """The value behind a read of a target stored with these labels, or the node itself.
        A value `carried` into the result is looked up only where nothing else reads it:
        the result then computes it once."""
        while isinstance(node, ir.Var) and node.name in self.values:
            found = self.values[node.name]
            if found.indices != node.labels or (carried and node.name not in self.single):
                break
            node = found
        return node

    def same(self, a: ir.Node, b: ir.Node) -> bool:
        return a == b or self.value(a) == self.value(b)

    def recognise(self, node: ir.Node) -> ir.Node | None:
        """The node as a kernel, or None where it is none of the patterns."""
        if not isinstance(node, ir.Map | ir.Contract):
            return None
        op = node.op if isinstance(node, ir.Map) else "mul" if not node.summed else ""
        for rule in _RULES.get(op, ()):
            found = rule(self, node)
            if found is not None:
                return found
        return None

    def factors(self, node: ir.Node, power: int = 1) -> Factors:
        """A product (and quotient) as its factors, through values only it reads. Lowering
        makes products `Contract`s that sum nothing."""
        node = self.value(node, carried=True)
        if isinstance(node, ir.Map) and node.op in ("mul", "div"):
            left, right = node.args
            second = power if node.op == "mul" else -power
            return self.factors(left, power) + self.factors(right, second)
        if _is_product(node):
            return [found for factor in node.children for found in self.factors(factor, power)]
        return [(node, power)]


# --- normalisations -------------------------------------------------------------------------


def _normalise(look: _Look, node: Labelled) -> ir.Node | None:
    """`centred * [gain] / sqrt(variance + eps)` (or the same for RMS), or a norm times a gain."""
    factors = [(f, p) for f, p in look.factors(node) if not _is_const(f, 1.0)]
    if len(factors) == 2 and all(p == 1 for _, p in factors):  # a norm times a gain?
        for (first, _), (second, _) in (factors, factors[::-1]):
            norm = _norm(look, first)
            if norm is not None and norm.gain == ONE and norm.bias == ZERO:
                gain = _over(second, norm.normalised)
                if gain is not None:
                    return ir.permuted(replace(norm, gain=gain), node.labels)
    for k, (scale, power) in enumerate(factors):
        found = _inverse_deviation(look, scale, power)
        if found is None:
            continue
        kind, statistic_of, normalised, eps = found
        rest = factors[:k] + factors[k + 1 :]
        for j, (candidate, p) in enumerate(rest):
            x = _operand(look, kind, candidate, normalised) if p == 1 else None
            if x is None or not look.same(x, statistic_of):
                continue
            gains = rest[:j] + rest[j + 1 :]
            if len(gains) > 1 or any(p != 1 for _, p in gains):
                return None
            return _built(kind, x, normalised, eps, [f for f, _ in gains], node.labels)
    return None


def _norm(look: _Look, node: ir.Node) -> ir.Normalise | None:
    """The Normalise that node is (laid out in some order), or None."""
    node = look.value(node, carried=True)
    if isinstance(node, ir.Permute):
        node = look.value(node.operand, carried=True)
    return node if isinstance(node, ir.Normalise) else None


def _inverse_deviation(
    look: _Look, node: ir.Node, power: int
) -> tuple[str, ir.Node, tuple[str, ...], float] | None:
    """`sqrt(s + eps)` to the power -1 (or `(s + eps) ** -0.5`) where s is a variance or a
    mean square over some axes: the norm's kind, the x it is of, those axes and eps."""
    node = look.value(node)
    root = power == -1 and _is_map(node, "sqrt")
    if not (root or (power == 1 and _is_map(node, "pow") and _is_const(node.args[1], -0.5))):
        return None
    inside = node.children[0]
    statistic, eps = look.value(inside), 0.0
    if _is_map(statistic, "add"):
        for s, e in (statistic.args, statistic.args[::-1]):
            if isinstance(e, ir.Const) and e.value >= 0:
                statistic, eps = look.value(s), e.value
                break
    if not isinstance(statistic, ir.Reduce) or statistic.op not in ("var", "mean"):
        return None
    normalised = statistic.reduced
    if statistic.op == "var":
        return "layer", statistic.operand, normalised, eps
    square = _square_of(look, statistic.operand)
    if square is None:
        return None
    centred = _centred(look, square, normalised)
    if centred is not None:
        return "layer", centred, normalised, eps
    return "rms", square, normalised, eps


def _square_of(look: _Look, node: ir.Node) -> ir.Node | None:
    """y for `y ** 2` or `y * y`."""
    node = look.value(node)
    if _is_map(node, "pow") and _is_const(node.args[1], 2.0):
        return node.args[0]
    factors = look.factors(node)
    if (
        len(factors) == 2
        and all(p == 1 for _, p in factors)
        and look.same(*(f for f, _ in factors))
    ):
        return factors[0][0]
    return None


def _centred(look: _Look, node: ir.Node, normalised: tuple[str, ...]) -> ir.Node | None:
    """x for `x - mean(x)` with the mean over `normalised`."""
    node = look.value(node)
    if not _is_map(node, "sub"):
        return None
    x, mean = node.args[0], look.value(node.args[1])
    if isinstance(mean, ir.Reduce) and mean.op == "mean" and mean.reduced == normalised:
        return x if look.same(mean.operand, x) else None
    return None


def _operand(look: _Look, kind: str, node: ir.Node, normalised: tuple[str, ...]) -> ir.Node | None:
    """The x of what a norm divides, `x - mean(x)` over the normalised axes (layer) or x
    (RMS), where `node` is that. An x found in a value that others read too is taken only
    if it is a plain read: the result must not compute again what that value computes."""
    if kind == "rms":
        return node
    for carried in (True, False):
        x = _centred(look, look.value(node, carried=carried), normalised)
        if x is not None and (carried or isinstance(x, ir.Var)):
            return x
    return None


def _built(
    kind: str,
    x: ir.Node,
    normalised: tuple[str, ...],
    eps: float,
    gains: list[ir.Node],
    labels: tuple[str, ...],
) -> ir.Node | None:
    """The Normalise node, its axes in the order `labels` has them; None where the gain is
    not over exactly the normalised axes, or the result has other axes than x."""
    if set(labels) != set(x.indices) or not set(normalised) <= set(labels):
        return None
    order = tuple(label for label in x.indices if label in normalised)
    gain = _over(gains[0], order) if gains else ONE
    if gain is None:
        return None
    rest = tuple(label for label in x.indices if label not in normalised)
    operand = ir.permuted(x, rest + order)
    norm = ir.Normalise(kind, operand, gain, ZERO, eps, len(order), rest + order)
    return ir.permuted(norm, labels)


def _over(node: ir.Node, normalised: tuple[str, ...]) -> ir.Node | None:
    """A gain or a bias laid out along the normalised axes, or None for one over others."""
    if len(node.indices) != len(normalised) or set(node.indices) != set(normalised):
        return None
    return ir.permuted(node, normalised)


def _bias(look: _Look, node: Labelled) -> ir.Node | None:
    """A norm plus a bias over its normalised axes."""
    for left, right in (node.children, node.children[::-1]):
        norm = _norm(look, left)
        if norm is not None and norm.bias == ZERO:
            bias = _over(right, norm.normalised)
            if bias is not None and set(node.labels) == set(norm.labels):
                return ir.permuted(replace(norm, bias=bias), node.labels)
    return None


# --- log_softmax and activations ------------------------------------------------------------


def _log_softmax(look: _Look, node: Labelled) -> ir.Node | None:
    """`x - logsumexp[j](x)`, or `log(softmax[j](x))`: log_softmax[j](x)."""
    if _is_map(node, "log"):
        inner = look.value(node.children[0], carried=True)
        if isinstance(inner, ir.Along) and inner.op == "softmax":
            return ir.permuted(ir.Along("log_softmax", inner.operand, inner.index), node.labels)
        return None
    x, total = node.children[0], look.value(node.children[1])
    if not (isinstance(total, ir.Reduce) and total.op == "logsumexp"):
        return None
    if len(total.reduced) != 1 or set(node.labels) != set(x.indices):
        return None
    if not look.same(total.operand, x):
        return None
    return ir.permuted(ir.Along("log_softmax", x, total.reduced[0]), node.labels)


def _silu(look: _Look, node: Labelled) -> ir.Node | None:
    """`x * sigmoid(x)` or `x / (1 + exp(-x))`: silu(x)."""
    if not _is_map(node, "div"):
        factors = look.factors(node)
        if len(factors) != 2 or any(p != 1 for _, p in factors):
            return None
        (a, _), (b, _) = factors
        for x, gate in ((a, b), (b, a)):
            gate = look.value(gate)
            if _is_map(gate, "sigmoid") and look.same(gate.args[0], x):
                return _activation("silu", x, node)
        return None
    a, b = node.children
    exp = _one_plus(look, b)
    if _is_map(exp, "exp") and _is_negated(look, exp.args[0], a):
        return _activation("silu", a, node)
    return None


def _gelu(look: _Look, node: Labelled) -> ir.Node | None:
    """`0.5 * x * (1 + erf(x / sqrt(2)))`, factors in any order: gelu(x)."""
    factors = look.factors(node)
    constants = [(f, p) for f, p in factors if isinstance(f, ir.Const)]
    others = [f for f, p in factors if not isinstance(f, ir.Const) and p == 1]
    if len(others) != 2 or len(others) + len(constants) != len(factors):
        return None
    if any(isinstance(f, ir.Const) and f.value == 0 for f, _ in constants):
        return None
    scale = math.prod(f.value**p for f, p in constants if isinstance(f, ir.Const))
    if not math.isclose(scale, 0.5, rel_tol=1e-12):
        return None
    for x, bracket in (others, others[::-1]):
        if _is_erf_of_scaled(look, _one_plus(look, bracket), x):
            return _activation("gelu", x, node)
    return None


def _softplus(look: _Look, node: Labelled) -> ir.Node | None:
    """`log(1 + exp(x))` or `log1p(exp(x))`: softplus(x)."""
    inner = look.value(node.children[0])
    exp = inner if _is_map(node, "log1p") else _one_plus(look, inner)
    if _is_map(exp, "exp"):
        return _activation("softplus", exp.args[0], node)
    return None


def _activation(op: str, x: ir.Node, node: Labelled) -> ir.Node | None:
    """`op(x)` in place of node, where it has x's axes."""
    if set(node.labels) != set(x.indices) or len(node.labels) != len(x.indices):
        return None
    return ir.permuted(ir.Map(op, (x,), x.indices), node.labels)


def _one_plus(look: _Look, node: ir.Node) -> ir.Node | None:
    """e, where node is `1 + e` (or `e + 1`)."""
    node = look.value(node)
    if _is_map(node, "add"):
        for one, e in (node.args, node.args[::-1]):
            if _is_const(one, 1.0):
                return look.value(e)
    return None


def _is_negated(look: _Look, node: ir.Node, x: ir.Node) -> bool:
    node = look.value(node)
    return _is_map(node, "neg") and look.same(node.args[0], x)


def _is_erf_of_scaled(look: _Look, node: ir.Node | None, x: ir.Node) -> bool:
    """Whether node is `erf(x / sqrt(2))` (or `erf(x * sqrt(1/2))`)."""
    if node is None or not _is_map(node, "erf"):
        return False
    factors = look.factors(node.args[0])
    if len(factors) != 2:
        return False
    (value, one), (scale, power) = sorted(factors, key=lambda f: isinstance(f[0], ir.Const))
    if not (isinstance(scale, ir.Const) and one == 1 and look.same(value, x)):
        return False
    return math.isclose(scale.value**power, math.sqrt(0.5), rel_tol=1e-9)


def _is_product(node: ir.Node) -> bool:
    """Whether node is a Contract that multiplies and sums nothing."""
    return isinstance(node, ir.Contract) and not node.summed


def _is_map(node: ir.Node | None, op: str) -> TypeGuard[ir.Map]:
    return isinstance(node, ir.Map) and node.op == op


def _is_const(node: ir.Node, value: float) -> bool:
    return isinstance(node, ir.Const) and node.value == value


_RULES = {
    "mul": (_normalise, _silu, _gelu),
    "div": (_normalise, _silu, _gelu),
    "add": (_bias,),
    "sub": (_log_softmax,),
    "log": (_log_softmax, _softplus),
    "log1p": (_softplus,),
}


# --- the formula, for backends without the kernel -------------------------------------------


def written_out(program: ir.Program, kernels: frozenset[str]) -> ir.Program:
    """The program with each Normalise whose kind is not in `kernels` as its formula."""

    def write(node: ir.Node) -> ir.Node | None:
        if isinstance(node, ir.Normalise) and node.kind not in kernels:
            return formula(node)
        return None

    if not any(isinstance(n, ir.Normalise) for let in program.lets for n in ir.walk(let.value)):
        return program
    return ir.rewrite_program(program, write)


def formula(node: ir.Normalise) -> ir.Node:
    """A Normalise as plain operations: `(x - mean) * g / sqrt(mean((x - mean) ** 2) + eps) + b`
    for a layer norm (x in place of `x - mean` for an RMS norm)."""
    labels, x = node.labels, node.operand
    rest = labels[: len(labels) - node.over]
    if node.kind == "layer":
        x = ir.Map("sub", (x, ir.Reduce("mean", x, rest)), labels)
    square = ir.Reduce("mean", ir.Map("mul", (x, x), labels), rest)
    eps = ir.Map("add", (square, ir.Const(node.eps, repr(node.eps))), rest)
    scaled = x if node.gain == ONE else ir.Map("mul", (x, node.gain), labels)
    value = ir.Map("div", (scaled, ir.Map("sqrt", (eps,), rest)), labels)
    return value if node.bias == ZERO else ir.Map("add", (value, node.bias), labels)
