"""Derivative idioms that a backend computes in one kernel of its own: the elementwise
formulas that derivative programs write for `relu` and `softmax`, found in the IR before
any code is written, and written as the kernel that the framework's autograd itself calls
(`Generator.idioms` spells each, with its operands' names in braces):

- `threshold_backward`, `where(x > c, g, 0)`: relu's mask ({g}, {x}, {c});
- `softmax_backward`, `P * (g - sum[j](g * P))`: softmax's vjp along the last axis j
  ({g}, {p}, {dim}).

One kernel reads each operand once and writes the result, where the formula takes three or
four passes over memory and as many temporary arrays. The operands must have the dtype that
the program's inputs share; the parts of the formula that nothing else reads are then not
computed at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.codegen.code import Code
from tensorc.codegen.facts import Facts
from tensorc.ir import nodes as ir

_ZERO = ir.Const(0.0, "0")


@dataclass(frozen=True)
class Fusion:
    """One kernel in place of a node: its spelling, the nodes named in it, the numbers in
    it, and the nodes of the formula that only it read (so that they are not computed)."""

    kernel: str
    operands: dict[str, ir.Node]
    numbers: dict[str, str]
    inside: tuple[ir.Node, ...]


@dataclass(frozen=True)
class Fusions:
    """The nodes that a kernel computes (by identity), and those of their formulas that are
    then not computed at all."""

    found: dict[int, Fusion]
    inside: frozenset[int]


def plan(program: ir.Program, kernels: dict[str, str], facts: Facts) -> Fusions:
    """The nodes of `program` that a kernel computes."""
    found: dict[int, Fusion] = {}
    for let in program.lets if kernels else ():
        for node in ir.walk(let.value):
            fusion = _match(node, kernels, facts) if isinstance(node, ir.Map) else None
            if fusion is not None and all(_fits(facts, n) for n in fusion.operands.values()):
                found[id(node)] = fusion
    inside = frozenset(id(node) for fusion in found.values() for node in fusion.inside)
    return Fusions(found, inside)


def _match(node: ir.Map, kernels: dict[str, str], facts: Facts) -> Fusion | None:
    if node.op == "where" and "threshold_backward" in kernels:
        return _threshold(node, kernels["threshold_backward"], facts)
    if node.op == "mul" and "softmax_backward" in kernels:
        return _softmax_backward(node, kernels["softmax_backward"], facts)
    return None


def _threshold(node: ir.Map, kernel: str, facts: Facts) -> Fusion | None:
    """`where(x > c, g, 0)` for a constant c."""
    condition, g, other = node.args
    if other != _ZERO or not (isinstance(condition, ir.Map) and condition.op == "gt"):
        return None
    x, bound = condition.args
    if not isinstance(bound, ir.Const) or not x.indices == g.indices == node.labels:
        return None
    inside = (condition,) if facts.uses.get(id(condition), 0) == 1 else ()
    return Fusion(kernel, {"x": x, "g": g}, {"c": bound.text}, inside)


def _softmax_backward(node: ir.Map, kernel: str, facts: Facts) -> Fusion | None:
    """`P * (g - dot_j(g, P))`: the dot product along the last axis, broadcast back."""
    for p, difference in (node.args, node.args[::-1]):
        if not (isinstance(difference, ir.Map) and difference.op == "sub"):
            continue
        g, dot = difference.args
        if not (isinstance(dot, ir.MatMul) and dot.left_vector and dot.right_vector):
            continue
        if {dot.left, dot.right} != {g, p} or dot.left == dot.right:
            continue
        if not p.indices == g.indices == node.labels or dot.labels != p.indices[:-1]:
            continue
        alone = facts.uses.get(id(difference), 0) == 1
        inside = (difference, *([dot] if facts.uses.get(id(dot), 0) == 1 else [])) if alone else ()
        return Fusion(kernel, {"p": p, "g": g}, {"dim": "-1"}, inside)
    return None


def _fits(facts: Facts, node: ir.Node) -> bool:
    """Whether an operand is an array in the dtype that the program's inputs share."""
    return not facts.dtypes.drifting(node) and not facts.python_scalar(node)


def write(fusion: Fusion, codes: dict[int, Code]) -> Code:
    """The kernel's call, given the code of each node the emitter has written."""
    names = {key: codes[id(node)].text for key, node in fusion.operands.items()}
    return Code(fusion.kernel.format(**names, **fusion.numbers))
