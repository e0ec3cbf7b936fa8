"""Recognises attention, softmax(q·k * scale [causal mask]) · v, and makes it one Attention node.

The backends print Attention as their fused kernel (PyTorch's scaled_dot_product_attention)
or as the plain formula. The pattern may span statements (`S = ...; P = softmax[j](S);
O = P * V`): a target that is read exactly once, with the labels it was stored with, is
looked through, and the statements it came from are then dead.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ir import nodes as ir
from tensorc.ir.labels import ellipsis_first
from tensorc.ir.shapes import Sizes


def fuse_attention(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces each attention-shaped pair of contractions by an Attention node."""
    inlinable = _single_use_values(program)
    return ir.rewrite_program(program, lambda node: _fuse(node, inlinable))


def _single_use_values(program: ir.Program) -> dict[str, ir.Node]:
    """Values of targets read exactly once and not returned, by target name."""
    reads: dict[str, int] = {}
    for let in program.lets:
        for node in ir.walk(let.value):
            if isinstance(node, ir.Var):
                reads[node.name] = reads.get(node.name, 0) + 1
    return {
        let.name: let.value
        for let in program.lets
        if reads.get(let.name) == 1 and let.name not in program.outputs
    }


@dataclass(frozen=True)
class _Scores:
    """q·k * scale along `feature`, with optional causal mask, as found."""

    query: ir.Node
    key: ir.Node
    scale: tuple[ir.Node, ...]
    feature: str
    causal: bool


def _fuse(node: ir.Node, inlinable: dict[str, ir.Node]) -> ir.Node | None:
    if not isinstance(node, ir.Contract) or len(node.factors) != 2 or len(node.summed) != 1:
        return None
    key_index = node.summed[0]
    for weights, value in (node.factors, node.factors[::-1]):
        softmax = _look_through(weights, inlinable)
        if not (isinstance(softmax, ir.Along) and softmax.op == "softmax"):
            continue
        if softmax.index != key_index:
            continue
        query_index = _query_index(softmax.indices, value.indices, key_index)
        if query_index is None:
            continue
        scores = _scores(
            _look_through(softmax.operand, inlinable), inlinable, query_index, key_index
        )
        if scores is None:
            continue
        built = _build(node, scores, value, softmax.indices, (query_index, key_index))
        if built is not None:
            return built
    return None


def _look_through(node: ir.Node, inlinable: dict[str, ir.Node]) -> ir.Node:
    """The node itself, or the value of a single-use target read with its stored labels."""
    if isinstance(node, ir.Var) and node.name in inlinable:
        value = inlinable[node.name]
        if value.indices == node.labels:
            return value
    return node


def _query_index(weights: tuple[str, ...], value: tuple[str, ...], key: str) -> str | None:
    """The one label of the weights that the value lacks (besides the key index)."""
    only = [label for label in weights if label not in value and label != key]
    return only[0] if len(only) == 1 else None


def _scores(node: ir.Node, inlinable: dict[str, ir.Node], query: str, key: str) -> _Scores | None:
    causal = False
    if isinstance(node, ir.Map) and node.op == "where":
        condition, kept, filler = node.args
        if not (_is_causal(condition, query, key) and _is_minus_inf(filler)):
            return None
        causal = True
        node = _look_through(kept, inlinable)
    node, outer_scale = _strip_scale(node)
    if not isinstance(node, ir.Contract) or len(node.summed) != 1:
        return None
    tensors = [f for f in node.factors if f.indices]
    scale = tuple(f for f in node.factors if not f.indices) + outer_scale
    if len(tensors) != 2:
        return None
    feature = node.summed[0]
    for q, k in (tensors, tensors[::-1]):
        if query in q.indices and key in k.indices and key not in q.indices:
            return _Scores(q, k, scale, feature, causal)
    return None


def _strip_scale(node: ir.Node) -> tuple[ir.Node, tuple[ir.Node, ...]]:
    """`x * s`, `s * x` and `x / s` with a scalar s: x, and the factors that scale it."""
    factors: list[ir.Node] = []
    while isinstance(node, ir.Map) and node.op in ("mul", "div") and node.indices:
        left, right = node.args
        if not right.indices:
            scale = right if node.op == "mul" else ir.Map("div", (ir.Const(1.0, "1"), right), ())
            factors.append(scale)
            node = left
        elif not left.indices and node.op == "mul":
            factors.append(left)
            node = right
        else:
            break
    return node, tuple(factors)


def _is_causal(condition: ir.Node, query: str, key: str) -> bool:
    """`key <= query` or `query >= key` on index values: the top-left aligned causal mask."""
    if not isinstance(condition, ir.Map) or condition.op not in ("le", "ge"):
        return False
    left, right = condition.args
    if not (isinstance(left, ir.IndexValue) and isinstance(right, ir.IndexValue)):
        return False
    if condition.op == "le":
        return (left.index, right.index) == (key, query)
    return (left.index, right.index) == (query, key)


def _is_minus_inf(node: ir.Node) -> bool:
    return isinstance(node, ir.Const) and node.value == float("-inf")


def _build(
    node: ir.Contract,
    scores: _Scores,
    value: ir.Node,
    weights: tuple[str, ...],
    positions: tuple[str, str],
) -> ir.Node | None:
    query, key = positions
    output = node.labels
    features = [label for label in value.indices if label not in weights]
    if len(features) != 1:
        return None
    batch = [label for label in output if label not in (query, features[0])]
    expected = {
        "query": {*batch, query, scores.feature},
        "key": {*batch, key, scores.feature},
        "value": {*batch, key, features[0]},
    }
    actual = {
        "query": set(scores.query.indices),
        "key": set(scores.key.indices),
        "value": set(value.indices),
    }
    if actual != expected:
        return None
    batch = list(ellipsis_first(batch))
    q = ir.permuted(scores.query, (*batch, query, scores.feature))
    k = ir.permuted(scores.key, (*batch, key, scores.feature))
    v = ir.permuted(value, (*batch, key, features[0]))
    scale: ir.Node = ir.Const(1.0, "1")
    for factor in scores.scale:
        scale = factor if scale == ir.Const(1.0, "1") else ir.Map("mul", (scale, factor), ())
    fused = ir.Attention(q, k, v, scale, scores.causal, (*batch, query, features[0]))
    return ir.permuted(fused, output)
