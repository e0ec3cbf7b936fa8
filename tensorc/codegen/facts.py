"""Facts about a program that code generation needs, all computed before a line is written:
how often each value is read, which values may be plain Python numbers, which may be
overwritten in place, which inputs meet in a matrix product, and what is known of each
value's dtype (`tensorc.codegen.dtypes`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tensorc.codegen.dtypes import Dtypes
from tensorc.ir import nodes as ir
from tensorc.ir.kernels import Convolution, ConvolutionTranspose


@dataclass(frozen=True)
class Facts:
    """Facts about one program's values, by node identity."""

    uses: Mapping[int, int]  # how many parents read each node
    scalars: frozenset[int]  # values computed from constants and scalar inputs only
    fresh: frozenset[int]  # new arrays that only one parent reads
    tensor_inputs: tuple[str, ...]  # in input order
    matmul_inputs: tuple[str, ...]  # tensor inputs that flow into a matmul or attention
    kernel_inputs: tuple[str, ...]  # tensor inputs that flow into a convolution
    dtypes: Dtypes

    @classmethod
    def of(cls, program: ir.Program) -> Facts:
        uses = count_uses(program)
        return cls(
            uses=uses,
            scalars=python_scalars(program),
            fresh=frozenset(
                key
                for let in program.lets
                for node in ir.walk(let.value)
                if uses.get(key := id(node), 0) == 1 and _fresh(node)
            ),
            tensor_inputs=tuple(spec.name for spec in program.inputs if not spec.is_scalar),
            matmul_inputs=matmul_inputs(program),
            kernel_inputs=matmul_inputs(program, (Convolution, ConvolutionTranspose)),
            dtypes=Dtypes.of(program),
        )

    def shared(self, node: ir.Node) -> bool:
        """Whether more than one parent reads the value."""
        return self.uses.get(id(node), 0) > 1

    def python_scalar(self, node: ir.Node) -> bool:
        """Whether a value is computed from constants and scalar inputs only, so that it may be
        a plain Python number when the generated code runs."""
        return id(node) in self.scalars

    def owned(self, node: ir.Node) -> bool:
        """Whether a value is a fresh array that only one parent reads: one that parent may
        overwrite (unless the emitter gave it a name, which others might read)."""
        return id(node) in self.fresh


def _fresh(node: ir.Node) -> bool:
    """A new array whose producer does not need its own result for gradients (an eager
    framework's autograd may keep it): only matmuls and arithmetic qualify."""
    return isinstance(node, ir.MatMul) or (
        isinstance(node, ir.Map) and node.op in ("add", "sub", "mul", "div") and bool(node.indices)
    )


def count_uses(program: ir.Program) -> dict[int, int]:
    """How many distinct parents read each node, over all statements; a statement whose
    whole value is also part of another counts as one more (it is computed once, and named)."""
    uses: dict[int, int] = {}
    seen: set[int] = set()
    for let in program.lets:
        uses[id(let.value)] = uses.get(id(let.value), 0) + 1
        for node in ir.walk(let.value):
            if id(node) in seen:
                continue
            seen.add(id(node))
            for child in node.children:
                uses[id(child)] = uses.get(id(child), 0) + 1
    return uses


def python_scalars(program: ir.Program) -> frozenset[int]:
    """The values made of constants and scalar inputs only (children before parents)."""
    scalar_names = {spec.name for spec in program.inputs if spec.is_scalar}
    known: set[int] = set()
    for let in program.lets:
        for node in ir.walk(let.value):
            if node.children:  # (a number broadcast along axes is a tensor: `full`)
                if all(id(c) in known for c in node.children) and not isinstance(node, ir.Expand):
                    known.add(id(node))
            elif isinstance(node, ir.Const | ir.Size) or (
                isinstance(node, ir.Var) and node.name in scalar_names
            ):
                known.add(id(node))
        if id(let.value) in known and not let.value.indices:  # `s = 0`: a Python number
            scalar_names.add(let.name)
    return frozenset(known)


def matmul_inputs(
    program: ir.Program,
    kinds: tuple[type[ir.Node], ...] = (ir.MatMul, ir.Attention, Convolution, ConvolutionTranspose),
) -> tuple[str, ...]:
    """The tensor inputs that flow into a node of `kinds` (by default the kernels that take
    operands of one dtype: matmuls, attention, convolutions), directly or through targets."""
    tensors = {spec.name for spec in program.inputs if not spec.is_scalar}
    values = {let.name: let.value for let in program.lets}
    found: set[str] = set()
    pending: list[ir.Node] = [
        node for let in program.lets for node in ir.walk(let.value) if isinstance(node, kinds)
    ]
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for leaf in _values(node):
            if isinstance(leaf, ir.Var) and leaf.name in tensors:
                found.add(leaf.name)
            elif isinstance(leaf, ir.Var) and leaf.name in values:
                pending.append(values[leaf.name])
    return tuple(spec.name for spec in program.inputs if spec.name in found)


def _values(root: ir.Node) -> list[ir.Node]:
    """The nodes whose numbers flow into `root`'s: not the integer positions that a read or
    a write at positions looks up (`ids` in `W[ids[b], d]` keeps its integer dtype)."""
    found: list[ir.Node] = []
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        lookups = node.lookups if isinstance(node, ir.Gather | ir.Scatter) else ()
        stack.extend(c for c in node.children if not any(c is lookup for lookup in lookups))
    return found
