"""IR nodes: frozen dataclasses for indexed array values.

Every node has `indices`, the labels of the axes of the array it stands for, in storage order.
Labels are index names, the ellipsis group `"..."` or composed axes (see `tensorc.ir.labels`).
Nodes compare structurally, which is what common-subexpression elimination relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

from tensorc.errors import Span
from tensorc.ir import labels
from tensorc.ir.labels import ELLIPSIS as ELLIPSIS  # re-exported, as before labels had a module
from tensorc.ir.labels import axis_number as axis_number

composed_label = labels.composed
label_parts = labels.parts


@dataclass(frozen=True)
class Node:
    """An IR value: `indices` labels its axes, `children` are the nodes it is computed from."""

    @property
    def indices(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def children(self) -> tuple[Node, ...]:
        return ()


class Labelled(Node):
    """A node whose axes are its `labels` field (declared by each subclass, in its place)."""

    labels: tuple[str, ...]

    @property
    def indices(self) -> tuple[str, ...]:
        return self.labels


class OneOperand(Node):
    """A node computed from one `operand` (a field declared by each subclass, in its place)."""

    operand: Node

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Var(Labelled):
    """A program tensor (an input or an earlier statement's target), axes labelled as accessed."""

    name: str
    labels: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Const(Node):
    """A number, `inf` or `pi`; `text` is how it prints in generated code."""

    value: float
    text: str

    @property
    def indices(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class IndexValue(Node):
    """The value of an index along its own axis: 0, 1, ..., size - 1."""

    index: str

    @property
    def indices(self) -> tuple[str, ...]:
        return (self.index,)


@dataclass(frozen=True)
class Diagonal(OneOperand):
    """The diagonal of two axes with the same label; the merged axis moves to the end."""

    operand: Node
    first: int
    second: int

    @property
    def indices(self) -> tuple[str, ...]:
        labels = self.operand.indices
        rest = tuple(label for k, label in enumerate(labels) if k not in (self.first, self.second))
        return (*rest, labels[self.first])


@dataclass(frozen=True)
class Permute(OneOperand):
    """The same array with its axes reordered: axis k of the result is axis perm[k] of the operand."""

    operand: Node
    perm: tuple[int, ...]

    @property
    def indices(self) -> tuple[str, ...]:
        labels = self.operand.indices
        return tuple(labels[k] for k in self.perm)


def permuted(node: Node, wanted: tuple[str, ...]) -> Node:
    """`node` with its axes in the order of `wanted` (a permutation of its labels)."""
    if node.indices == wanted:
        return node
    return Permute(node, labels.permutation(node.indices, wanted))


@dataclass(frozen=True)
class Reshape(OneOperand, Labelled):
    """Merges adjacent axes into composed ones or splits composed axes, row-major."""

    operand: Node
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Expand(OneOperand, Labelled):
    """Broadcasts the operand to more indices: its labels are an ordered subsequence of these."""

    operand: Node
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Map(Labelled):
    """An elementwise operation; each argument's labels are an ordered subsequence of `labels`."""

    op: str
    args: tuple[Node, ...]
    labels: tuple[str, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return self.args


@dataclass(frozen=True)
class Reduce(OneOperand, Labelled):
    """A reduction (`sum prod max min mean logsumexp`) over the operand's labels not in `labels`."""

    op: str
    operand: Node
    labels: tuple[str, ...]

    @property
    def reduced(self) -> tuple[str, ...]:
        return tuple(label for label in self.operand.indices if label not in self.labels)


@dataclass(frozen=True)
class Along(OneOperand):
    """A normaliser along one index that keeps its shape: `softmax`, `cumsum`."""

    op: str
    operand: Node
    index: str

    @property
    def indices(self) -> tuple[str, ...]:
        return self.operand.indices


@dataclass(frozen=True)
class Contract(Labelled):
    """A sum of products: multiply the factors, sum every index not in `labels`.

    `path` records the contraction planner's report when it split a larger product.
    """

    factors: tuple[Node, ...]
    labels: tuple[str, ...]
    path: PathReport | None = field(default=None, compare=False, repr=False)

    @property
    def summed(self) -> tuple[str, ...]:
        seen: list[str] = []
        for factor in self.factors:
            for label in factor.indices:
                if label not in self.labels and label not in seen:
                    seen.append(label)
        return tuple(seen)

    @property
    def children(self) -> tuple[Node, ...]:
        return self.factors


@dataclass(frozen=True)
class MatMul(Labelled):
    """`left @ right` with numpy matmul semantics: (*batch, m, k) @ (*batch, k, n) -> (*batch, m, n).

    `left_vector`/`right_vector` mark an operand that has no m (or n) axis: it is (*batch, k).
    """

    left: Node
    right: Node
    labels: tuple[str, ...]
    left_vector: bool = False
    right_vector: bool = False

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Attention(Labelled):
    """softmax(q·k * scale [+ causal mask]) · v along (query, key) indices: a fused kernel."""

    query: Node
    key: Node
    value: Node
    scale: Node
    causal: bool
    labels: tuple[str, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.query, self.key, self.value, self.scale)


def _remember_hash(cls: type) -> None:
    """Caches a node class's structural hash: trees are hashed by CSE at every level, and
    recomputing a deep tree's hash each time would make that quadratic."""
    structural: Callable[[Node], int] = cls.__hash__  # type: ignore[assignment]

    def cached(self: Node) -> int:
        found: int | None = self.__dict__.get("_hash")
        if found is None:
            found = structural(self)
            object.__setattr__(self, "_hash", found)
        return found

    cls.__hash__ = cached  # type: ignore[assignment,method-assign]


def _node_classes(base: type[Node]) -> dict[type[Node], None]:
    """Every dataclass among the subclasses of `base`, however deep, each once, in order."""
    found: dict[type[Node], None] = {}
    for cls in base.__subclasses__():
        if "__dataclass_fields__" in cls.__dict__:
            found[cls] = None
        found.update(_node_classes(cls))
    return found


for _node_class in _node_classes(Node):  # every node class above
    _remember_hash(_node_class)


def walk(root: Node) -> list[Node]:
    """Every node under `root` (root included), each once, children before parents."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.children))
    return order


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def with_children(node: Node, children: tuple[Node, ...]) -> Node:
    """A copy of `node` with new children, in the order `node.children` lists them."""
    if all(a is b for a, b in zip(children, node.children, strict=True)):
        return node
    kind = type(node)
    if isinstance(node, Map):
        return Map(node.op, children, node.labels)
    if isinstance(node, Contract):
        return Contract(children, node.labels, node.path)
    rebuilt = getattr(node, "rebuilt", None)  # a node whose children are not its fields
    if rebuilt is not None:
        result: Node = rebuilt(children)
        return result
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        names = tuple(f.name for f in fields(node) if f.type in ("Node", Node))
        _CHILD_FIELDS[kind] = names
    return replace(node, **dict(zip(names, children, strict=True)))


def rewrite(
    root: Node, change: Callable[[Node], Node | None], done: dict[int, Node] | None = None
) -> Node:
    """Rebuilds `root` bottom-up, replacing each node by `change(node)` where that is not None.
    `done` maps nodes already rebuilt (by identity) to what they became."""
    done = {} if done is None else done
    for node in walk(root):
        if id(node) in done:
            continue
        children = tuple(done[id(child)] for child in node.children)
        rebuilt = with_children(node, children)
        replacement = change(rebuilt)
        done[id(node)] = rebuilt if replacement is None else replacement
    return done[id(root)]


def rewrite_program(program: Program, change: Callable[[Node], Node | None]) -> Program:
    """`rewrite` applied to every statement of a program. A node that several statements
    share (common-subexpression elimination made it one) stays one node."""
    done: dict[int, Node] = {}
    lets = tuple(replace(let, value=rewrite(let.value, change, done)) for let in program.lets)
    return replace(program, lets=lets)


def display_name(let_name: str) -> str:
    """The user's name for an IR variable: a redefinition "C#2" is still "C"."""
    return let_name.split("#", 1)[0]


@dataclass(frozen=True)
class PathReport:
    """What the contraction planner found, in opt_einsum's terms."""

    equation: str
    naive_flops: float
    optimized_flops: float
    largest_intermediate: float
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Let:
    """One statement: `name` holds `value`; `source` is the statement's text, kept for comments."""

    name: str
    value: Node
    source: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Input:
    """A program input: a tensor (rank known from its accesses) or a scalar."""

    name: str
    is_scalar: bool
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SizeParam:
    """An index size given by keyword at call time, because no input determines it."""

    index: str


@dataclass(frozen=True)
class Program:
    """A whole program: inputs in positional order, statements in order, the returned names."""

    inputs: tuple[Input, ...]
    lets: tuple[Let, ...]
    outputs: tuple[str, ...]
    size_params: tuple[SizeParam, ...]
    source: str = field(compare=False, repr=False)
    tuple_output: bool = False
    subscripts: tuple[str, ...] | None = None  # an einsum's operand subscripts, for messages


# Nodes with a module of their own, re-exported so that `ir.Gather` reads like `ir.Map`.
from tensorc.ir.counts import Size  # noqa: E402, F401
from tensorc.ir.kernels import CrossEntropy, Normalise  # noqa: E402, F401
from tensorc.ir.positioned import (  # noqa: E402, F401
    BOUNDARIES,
    Gather,
    Place,
    Position,
    Scatter,
    placed_indices,
    read_var,
)
