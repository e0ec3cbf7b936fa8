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
from typing import NamedTuple

from tensorc.ir import nodes as ir
from tensorc.ops import OPS


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
    if isinstance(node, ir.Attention):
        return _INPUT
    op = OPS[node.op] if isinstance(node, ir.Map | ir.Reduce | ir.Along) else None
    if op is not None and op.boolean:
        return _BOOLEAN
    values = children[1:] if isinstance(node, ir.Map) and node.op == "where" else children
    if isinstance(node, ir.Gather | ir.Scatter):  # positions do not make the values' dtype
        values = children[: 2 if isinstance(node, ir.Scatter) and node.into else 1]
    return Known(
        constant=all(value.constant for value in values),
        integral=all(value.integral for value in values) and not (op and op.floating),
        anchored=any(value.anchored for value in values),
        widened=(any(child.widened for child in children) or bool(op and op.widens))
        and not (op and op.floating),
    )
