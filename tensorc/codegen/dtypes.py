"""What is known of each value's dtype before the code runs, for the few places where the
generated code must set a dtype itself:

- a *constant* tensor, made from numbers in the program only (`where(i == j, 1.0, 0.0)`),
  takes the dtype of what it meets, as the Python numbers it is made of would;
- an *integral* value, known to hold integers or booleans (index values, comparisons), is
  made floating before a float-only operation (`softmax`, `mean`), as the backends' own
  `exp` and `mean` make integers floating;
- a *drifting* value may not have the dtype the program's inputs share: a boolean, a tensor
  made without inputs, or one that a sum or index values (int64) may have widened from
  small integers. Frameworks whose matrix products do not mix dtypes must make the two
  sides one dtype there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from tensorc.codegen.code import Code
from tensorc.ir import nodes as ir
from tensorc.ops import OPS

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator
    from tensorc.codegen.facts import Facts


class Known(NamedTuple):
    """The facts of one value."""

    constant: bool  # its numbers come from the program's constants only
    integral: bool  # it holds integers or booleans
    anchored: bool  # its dtype is the promotion of the input tensors it reads
    widened: bool  # it may hold integers a sum or index values widened (until made floating)


_CONSTANT = Known(constant=True, integral=False, anchored=False, widened=False)
_INPUT = Known(constant=False, integral=False, anchored=True, widened=False)
_UNKNOWN = Known(constant=False, integral=False, anchored=False, widened=False)
_BOOLEAN = Known(constant=False, integral=True, anchored=False, widened=False)
_INDEX = _BOOLEAN._replace(widened=True)  # int64, wider than small integer inputs


@dataclass(frozen=True)
class Dtypes:
    """Dtype facts of one program's values, by node identity."""

    known: dict[int, Known]

    @classmethod
    def of(cls, program: ir.Program) -> Dtypes:
        tensors = {spec.name for spec in program.inputs if not spec.is_scalar}
        known: dict[int, Known] = {}
        targets: dict[str, Known] = {}
        for let in program.lets:
            for node in ir.walk(let.value):
                if id(node) not in known:
                    children = [known[id(child)] for child in node.children]
                    known[id(node)] = _describe(node, children, tensors, targets)
            targets[let.name] = known[id(let.value)]
        return cls(known)

    def constant(self, node: ir.Node) -> bool:
        """Whether the value is made from the program's numbers only."""
        return self.known[id(node)].constant

    def integral(self, node: ir.Node) -> bool:
        """Whether the value is known to hold integers or booleans."""
        return self.known[id(node)].integral

    def anchored(self, node: ir.Node) -> bool:
        """Whether the value's dtype is the promotion of the input tensors it reads."""
        return self.known[id(node)].anchored

    def drifting(self, node: ir.Node) -> bool:
        """Whether the value may have a dtype other than the one its input tensors share."""
        facts = self.known[id(node)]
        return facts.widened or not facts.anchored


def _describe(
    node: ir.Node, children: list[Known], tensors: set[str], targets: dict[str, Known]
) -> Known:
    """The facts of `node`, from those of its children."""
    if isinstance(node, ir.Const):
        return _CONSTANT._replace(integral=node.text.lstrip("-").isdigit())
    if isinstance(node, ir.Size):
        return _CONSTANT._replace(integral=True)
    if isinstance(node, ir.IndexValue):
        return _INDEX
    if isinstance(node, ir.Var) and node.name in targets:
        return targets[node.name]
    if isinstance(node, ir.Var):
        return _INPUT if node.name in tensors else _UNKNOWN
    if isinstance(node, ir.Attention | ir.Normalise):
        return _INPUT
    if isinstance(node, ir.CrossEntropy):  # floating, in the logits' dtype where they are
        return children[0]._replace(constant=False, integral=False, widened=False)
    op = OPS[node.op] if isinstance(node, ir.Map | ir.Reduce | ir.Along) else None
    if op is not None and op.boolean:
        return _BOOLEAN
    if op is not None and op.positional:
        return _INDEX  # int64 positions, as index values are
    values = children[1:] if isinstance(node, ir.Map) and node.op == "where" else children
    if isinstance(node, ir.Gather | ir.Scatter):  # positions do not make the values' dtype
        values = children = children[: 2 if isinstance(node, ir.Scatter) and node.into else 1]
    return Known(
        constant=all(value.constant for value in values),
        integral=all(value.integral for value in values) and not (op and op.floating),
        anchored=any(value.anchored for value in values),
        widened=(any(child.widened for child in children) or bool(op and op.widens))
        and not (op and op.floating),
    )


class DtypeCare:
    """The few places where generated code sets a dtype itself, for the emitter (which has
    `facts`, `dialect` and `name_of`)."""

    facts: Facts
    dialect: Generator

    def name_of(self, code: Code) -> str:
        raise NotImplementedError

    def floating(self, op: str, operand: ir.Node, code: Code) -> Code:
        """The operand of a float-only function, reduction or normaliser, made floating
        first where it holds integers (Python's `/` makes its operands floating itself)."""
        if OPS[op].floating and OPS[op].infix is None and self.facts.dtypes.integral(operand):
            return self.dialect.as_float(code, self.dialect.python_number(operand))
        return code

    def follow(self, operands: tuple[ir.Node, ...], codes: list[Code]) -> list[Code]:
        """The operands' codes, with each tensor made from the program's numbers only in the
        dtype those numbers take beside the first operand read from the inputs."""
        facts = self.facts
        constant = [
            facts.dtypes.constant(node) and not facts.python_scalar(node) for node in operands
        ]
        other = next((k for k, node in enumerate(operands) if facts.dtypes.anchored(node)), None)
        if other is None or not any(constant):
            return codes
        name = self.name_of(codes[other])
        codes = [Code(name) if k == other else code for k, code in enumerate(codes)]
        return [
            self.dialect.like(code, name, facts.dtypes.integral(node)) if made else code
            for node, code, made in zip(operands, codes, constant, strict=True)
        ]
