"""Computes each distinct value once, within and across statements.

Two nodes are one value when they are equal, and also when they differ only in the order of
their axes or of the operands of a product (`A @ B` and `(B.T @ A.T).T`): the second becomes
a transpose of the first. A value that is worth more than a pass over memory (it contains a
contraction, a reduction, a normaliser or a read at positions) is shared through a
transpose; a purely elementwise one is recomputed in the order wanted, which costs no more
than reading the first transposed."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace

from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes

COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum", "eq", "ne", "and", "or"})
_WORK = (ir.Contract, ir.MatMul, ir.Reduce, ir.Along, ir.Gather, ir.Scatter, ir.Attention)


def share_common_subexpressions(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Equal subtrees (up to axis order) become one shared node; a subtree equal to an earlier
    statement's value becomes a read of that statement's target. A product's numbers multiply
    the product of its arrays, so that that product is shared with others that have it."""
    values = _Values()
    lets = []
    for let in program.lets:
        value = ir.rewrite(let.value, values.share)
        values.remember(let.name, value)
        lets.append(replace(let, value=value))
    return replace(program, lets=tuple(lets))


class _Values:
    """The values seen so far: by structure, and by `Key` (structure up to axis order)."""

    def __init__(self) -> None:
        self.canonical: dict[ir.Node, ir.Node] = {}
        self.first: dict[Hashable, ir.Node] = {}  # the first node with each key
        self.stored: dict[Hashable, ir.Var] = {}  # statements' values, as reads of targets
        self.keys: dict[int, tuple[ir.Node, Hashable]] = {}
        self.worth: dict[int, bool] = {}

    def share(self, node: ir.Node) -> ir.Node:
        if isinstance(node, ir.Contract) and _scaled(node):
            return self.share(_scale_apart(node, self.share))
        if not node.children or isinstance(node, ir.Permute):
            return self.canonical.setdefault(node, node)
        key = self.key(node)
        target = self.stored.get(key)
        if target is not None and self._may_share(target, node):
            return ir.permuted(target, node.indices)
        found = self.first.get(key)
        if found is not None and self._may_share(found, node):
            return ir.permuted(found, node.indices)
        node = self.canonical.setdefault(node, node)
        self.first.setdefault(key, node)
        return node

    def remember(self, name: str, value: ir.Node) -> None:
        """A statement's value: later repeats of it read the statement's target."""
        if value.children and not isinstance(value, ir.Permute):
            self.stored.setdefault(self.key(value), ir.Var(name, value.indices))

    def _may_share(self, earlier: ir.Node, node: ir.Node) -> bool:
        return earlier.indices == node.indices or self._worth(node)

    def _worth(self, node: ir.Node) -> bool:
        """Whether the value does more than elementwise work (then reading it transposed is
        cheaper than computing it again)."""
        found = self.worth.get(id(node))
        if found is None:
            found = isinstance(node, _WORK) or any(self._worth(c) for c in node.children)
            self.worth[id(node)] = found
        return found

    def key(self, node: ir.Node) -> Hashable:
        """What identifies the value whatever the order of its axes: a node's kind, operation
        and the keys of its operands (sorted for a product or a commutative operation), with
        the set of its labels. Nodes whose meaning depends on the order of axes (reshapes,
        diagonals, matmuls), or that repeat a label, are their own key."""
        memo = self.keys.get(id(node))
        if memo is not None and memo[0] is node:
            return memo[1]
        key = self._key(node)
        self.keys[id(node)] = (node, key)  # keeps the node alive, so that its id stays its own
        return key

    def _key(self, node: ir.Node) -> Hashable:
        labels = frozenset(node.indices)
        if len(labels) != len(node.indices):
            return node
        if isinstance(node, ir.Permute):
            return self.key(node.operand)
        if isinstance(node, ir.Map):
            args = [self.key(arg) for arg in node.args]
            if node.op in COMMUTATIVE:
                args.sort(key=hash)
            return ("map", node.op, tuple(args), labels)
        if isinstance(node, ir.Contract):
            factors = sorted((self.key(factor) for factor in node.factors), key=hash)
            return ("contract", tuple(factors), labels)
        if isinstance(node, ir.Reduce):
            return ("reduce", node.op, self.key(node.operand), labels)
        if isinstance(node, ir.Along):
            return ("along", node.op, self.key(node.operand), node.index)
        if isinstance(node, ir.Expand):
            return ("expand", self.key(node.operand), labels)
        if isinstance(node, ir.Gather):
            return ("gather", node.operand, node.places, labels)
        return node


def _scaled(node: ir.Contract) -> bool:
    """Whether a product has numbers (values with no axes) beside two or more arrays."""
    arrays = sum(1 for factor in node.factors if factor.indices)
    return arrays >= 2 and arrays < len(node.factors)


def _scale_apart(node: ir.Contract, share: Callable[[ir.Node], ir.Node]) -> ir.Node:
    """`(A * B) * s` for the product `A * B * s`: the product of the arrays, then the numbers."""
    arrays = tuple(factor for factor in node.factors if factor.indices)
    scale: ir.Node | None = None
    for factor in node.factors:
        if not factor.indices:
            scale = factor if scale is None else ir.Map("mul", (scale, factor), ())
    assert scale is not None
    product = share(ir.Contract(arrays, node.labels, node.path))
    return ir.Map("mul", (product, scale), node.labels)
