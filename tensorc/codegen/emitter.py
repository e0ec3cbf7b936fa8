"""The emitter: writes the function's body, one statement after another.

Each IR node is written by the method named after its class (`emit_map` for `ir.Map`), which
does the axis bookkeeping and asks the backend's dialect (`Generator`) for the text of the
array operation. A value that several parents read, or whose text grows long, gets a name of
its own on a line before the statement that uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorc.codegen import idioms, places, slices
from tensorc.codegen import lookups as fast_lookups
from tensorc.codegen.code import Code, align, comment
from tensorc.codegen.dtypes import DtypeCare
from tensorc.codegen.lifetimes import free_dead
from tensorc.ir import nodes as ir
from tensorc.ir.kernels import Windowed
from tensorc.ir.labels import ELLIPSIS, axis_number
from tensorc.ir.nodes import display_name
from tensorc.ir.shapes import reads
from tensorc.ops import OPS

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator

INLINE_LIMIT = 72  # longer single-use expressions get a name of their own, for readability


class Emitter(DtypeCare):
    """Writes the body of one function for one dialect."""

    def __init__(self, dialect: Generator):
        self.dialect = dialect
        self.facts = dialect.facts
        self.names = dialect.page.names
        self.lines: list[str] = []
        self.bound: dict[int, Code] = {}  # nodes already computed under a name
        self.fusions = idioms.plan(dialect.program, dialect.idioms, self.facts)
        self.let_names: dict[str, str] = {}

    def body(self) -> list[str]:
        """A comment and an assignment per statement, then the return."""
        program = self.dialect.program
        self.lay_out_inputs()
        for let in program.lets:
            self.lines += comment(let.source)
            name = self.names.claim(display_name(let.name))
            code = self.expression(let.value)
            self.lines.append(f"{name} = {code.text}")
            self.lines += self.dialect.lay_out(name, let.value.indices)
            self.let_names[let.name] = name
        values = {let.name: let.value for let in program.lets}
        outputs = []
        for name in program.outputs:
            text = self.let_names.get(name) or self.dialect.params[name]
            value = values.get(name)
            if value is None or self.facts.python_scalar(value):
                text = self.dialect.as_array(text)  # Python numbers in, an array of the backend out
            outputs.append(text)
        self.lines.append(f"return {', '.join(outputs)}")
        if not self.dialect.frees_dead_arrays:
            return self.lines
        return free_dead(self.lines, {*outputs, *self.dialect.params.values()})

    def lay_out_inputs(self) -> None:
        """The lines that lay each input out over the device mesh as its first read says."""
        first: dict[str, tuple[str, ...]] = {}
        for _, var in reads(self.dialect.program):
            first.setdefault(var.name, var.labels)
        for spec in self.dialect.program.inputs:
            if spec.name in first:
                self.lines += self.dialect.lay_out(self.dialect.params[spec.name], first[spec.name])

    def expression(self, root: ir.Node) -> Code:
        """The expression for `root`; shared or long subexpressions become named lines first."""
        codes: dict[int, Code] = {}
        for node in ir.walk(root):
            if id(node) in self.bound:
                codes[id(node)] = self.bound[id(node)]
                continue
            if id(node) in self.fusions.inside:  # part of a formula that one kernel computes
                continue
            fusion = self.fusions.found.get(id(node))
            if fusion is not None:
                code = idioms.write(fusion, codes, self.dialect.use_helper)
            else:
                code = self.node(node, [codes[id(child)] for child in node.children])
            if (
                node is not root
                and (self.facts.shared(node) or len(code.text) > INLINE_LIMIT)
                and not isinstance(node, ir.Var | ir.Const | ir.Size)
            ):
                code = self._named(code)
                self.bound[id(node)] = code
            codes[id(node)] = code
        return codes[id(root)]

    def name_of(self, code: Code) -> str:
        """A plain name for a value: its own where it is one, else a new line that names it."""
        return code.text if code.text.isidentifier() else self._named(code).text

    def _named(self, code: Code) -> Code:
        """A new line that computes `code` into a new name."""
        name = self.names.claim("t")
        self.lines.append(f"{name} = {code.text}")
        return Code(name)

    def owned(self, node: ir.Node) -> bool:
        """Whether the value is a fresh array that nothing else reads: one to overwrite."""
        return self.facts.owned(node) and id(node) not in self.bound

    # --- one node: the method named after its class ------------------------------------------

    def node(self, node: ir.Node, args: list[Code]) -> Code:
        """The expression for one node, given its children's expressions."""
        if isinstance(node, Windowed):  # a framework's kernel (`tensorc.codegen.kernels`)
            return self.dialect.kernels.write(node, args)
        emit = getattr(self, f"emit_{type(node).__name__.lower()}", None)
        if emit is None:  # pragma: no cover - the lowering passes leave no other node
            raise TypeError(f"no code for {type(node).__name__}")
        code: Code = emit(node, *args)
        return code

    def emit_var(self, node: ir.Var) -> Code:
        return Code(self.let_names.get(node.name) or self.dialect.params[node.name])

    def emit_const(self, node: ir.Const) -> Code:
        return self.dialect.constant(node)

    def emit_indexvalue(self, node: ir.IndexValue) -> Code:
        return self.dialect.arange(self.dialect.sizes.axis(node.index))

    def emit_size(self, node: ir.Size) -> Code:
        return self.dialect.sizes.count(node.axes)

    def emit_map(self, node: ir.Map, *args: Code) -> Code:
        codes = [
            self.floating(node.op, child, arg) for child, arg in zip(node.args, args, strict=True)
        ]
        op = OPS[node.op]
        if op.arity > 1 and not op.boolean:  # a number made of its arguments' numbers
            values = slice(1, None) if node.op == "where" else slice(None)
            codes[values] = self.follow(node.args[values], codes[values])
        aligned = [
            align(code, child.indices, node.labels)
            for code, child in zip(codes, node.args, strict=True)
        ]
        scalars = [self.dialect.python_number(child) for child in node.args]
        # an operation whose result has its operand's shape and dtype for every dtype
        # may overwrite an owned operand: that changes nothing but memory traffic
        if op.inplace and self.owned(node.args[0]):
            found = self.dialect.inplace_function(node.op, aligned[0])
            if found is not None:
                return found
        return self.dialect.map(node.op, aligned, scalars)

    def emit_permute(self, node: ir.Permute, operand: Code) -> Code:
        labels = node.operand.indices
        if ELLIPSIS not in labels:
            return self.dialect.transpose(operand, node.perm)
        result = node.indices
        named = [label for label in labels if label != ELLIPSIS]
        source = [axis_number(labels, labels.index(label)) for label in named]
        destination = [axis_number(result, result.index(label)) for label in named]
        moves = [(s, d) for s, d in zip(source, destination, strict=True) if s != d]
        if not moves:
            return operand
        return self.dialect.moveaxis(operand, [s for s, _ in moves], [d for _, d in moves])

    def emit_reshape(self, node: ir.Reshape, operand: Code) -> Code:
        labels = node.operand.indices
        if ELLIPSIS not in labels:
            shape = self.dialect.sizes.shape(node.labels)
            return self.dialect.reshape(operand, shape, node)
        name = self.name_of(operand)
        k = labels.index(ELLIPSIS)
        shape = self.dialect.sizes.shape(node.labels, (name, k, len(labels) - k - 1))
        return self.dialect.reshape(Code(name), shape, node)

    def emit_diagonal(self, node: ir.Diagonal, operand: Code) -> Code:
        labels = node.operand.indices
        first, second = axis_number(labels, node.first), axis_number(labels, node.second)
        return self.dialect.diagonal(operand, first, second)

    def emit_expand(self, node: ir.Expand, operand: Code) -> Code:
        shape = self.dialect.sizes.shape(node.labels)
        if isinstance(node.operand, ir.Const) or self.dialect.python_number(node.operand):
            return self.dialect.full(shape, operand)
        expanded = align(operand, node.operand.indices, node.labels)
        return self.dialect.broadcast_to(expanded, shape)

    def emit_reduce(self, node: ir.Reduce, operand: Code) -> Code:
        labels = node.operand.indices
        axes = tuple(axis_number(labels, labels.index(label)) for label in node.reduced)
        return self.dialect.reduce(node.op, self.floating(node.op, node.operand, operand), axes)

    def emit_along(self, node: ir.Along, operand: Code) -> Code:
        labels = node.operand.indices
        axis = axis_number(labels, labels.index(node.index))
        return self.dialect.along(node.op, self.floating(node.op, node.operand, operand), axis)

    def emit_matmul(self, node: ir.MatMul, left: Code, right: Code) -> Code:
        left, right = self.follow((node.left, node.right), [left, right])
        return self.dialect.matmul(node, left, right)

    def emit_attention(self, node: ir.Attention, *args: Code) -> Code:
        return self.dialect.attention(node, *args)

    def emit_normalise(self, node: ir.Normalise, x: Code, gain: Code, bias: Code) -> Code:
        return self.dialect.normalise(node, self.floating("mean", node.operand, x), gain, bias)

    def emit_gather(self, node: ir.Gather, operand: Code, *lookups: Code) -> Code:
        """A fast form where one fits (`tensorc.codegen.lookups`), else the general one."""
        fast = fast_lookups.gather(self.dialect, node, operand, list(lookups))
        return fast or places.gather(self.dialect, node, operand, list(lookups))

    def emit_scatter(self, node: ir.Scatter, operand: Code, *rest: Code) -> Code:
        """A fast form where one fits (`tensorc.codegen.lookups`, then `slices`), else the
        general one. A start made of the program's numbers (`S[s, d] = 0`, then `+=`) takes
        the values' dtype, as the Python number 0 would beside them."""
        if node.into is not None:
            operand, start = self.follow((node.operand, node.into), [operand, rest[0]])
            rest = (start, *rest[1:])
        forms = (fast_lookups.scatter, slices.scatter, places.scatter)
        return next(c for form in forms if (c := form(self.dialect, node, operand, list(rest))))

    def emit_crossentropy(self, node: ir.CrossEntropy, logits: Code, target: Code) -> Code:
        return self.dialect.cross_entropy(node, logits, target)
