"""Idioms that a backend computes in one kernel of its own: the elementwise formulas that
derivative programs write for `relu` and `softmax`, and products that a backend's own form
computes faster, found in the IR before any code is written, and written as the kernel that
the framework's autograd itself calls or as a helper (`Generator.idioms` spells each, with
its operands' names in braces):

- `threshold_backward`, `where(x > c, g, 0)`: relu's mask ({g}, {x}, {c});
- `softmax_backward`, `P * (g - sum[j](g * P))`: softmax's vjp along the last axis j
  ({g}, {p}, {dim});
- `zeros_like`, `0 * x ** 0`: zeros in x's shape and dtype, where a derivative starts ({x}),
  and `ones_like`, `x ** 0`, a count's ones: written at once, where the formula reads x (a
  power is a transcendental function to XLA, several times the cost of a pass);
- `count`, `sum[j](where(c, x ** 0, 0))`: how many elements c holds for ({c}, {x}, {axes}),
  counted in integers, then in x's dtype: exact, and a float sum over axes that are not the
  last is several times slower under XLA (it may not reorder the additions);
- `sum_of_products`, a dot product of two batches of vectors (a matmul of vectors, its
  operands transposed alike or not at all): the product summed over `{axes}` of the operands
  as stored ({x}, {y}, {axes}); XLA then fuses the product into the sum, where its dot needs
  both operands, transposed, in memory;
- `transposed_times`, `A.T @ B` for 2-D A and B ({a}, {b}): XLA's CPU dot reads a transposed
  left operand slowly where its free axis is the longer, so JAX's helper may swap the sides.

`zeros_like`, `ones_like` and `count` are helpers that check x's dtype when they run (the
plan does not know it): for a bool or an integer x they compute the formula itself, whose
dtype differs (`True ** 0` is an integer, a sum of integers widens); on PyTorch also where x
needs a gradient.

One kernel reads each operand once and writes the result, where the formula takes three or
four passes over memory and as many temporary arrays. The operands must have the dtype that
the program's inputs share; the parts of the formula that nothing else reads are then not
computed at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tensorc.codegen.code import ATOM, Code
from tensorc.codegen.facts import Facts
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, axis_number

_ZERO = ir.Const(0.0, "0")


@dataclass(frozen=True)
class Fusion:
    """One kernel in place of a node: its spelling, the nodes named in it, the numbers in
    it, the nodes of the formula that only it read (so that they are not computed), and which
    operands are boolean masks (arrays, of no float dtype)."""

    kernel: str
    operands: dict[str, ir.Node]
    numbers: dict[str, str]
    inside: tuple[ir.Node, ...]
    masks: tuple[str, ...] = ()

    def fits(self, facts: Facts) -> bool:
        """Whether every operand is an array, in the dtype of the program's inputs (a mask's
        is its own)."""
        return all(
            not facts.python_scalar(node) if key in self.masks else _fits(facts, node)
            for key, node in self.operands.items()
        )


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
            fusion = None
            if isinstance(node, ir.Map):
                fusion = _match(node, kernels, facts)
            elif isinstance(node, ir.Reduce) and node.op == "sum" and "count" in kernels:
                fusion = _count(node, kernels["count"], facts)
            elif isinstance(node, ir.MatMul):
                fusion = _product(node, kernels, facts)
            if fusion is not None and fusion.fits(facts):
                found[id(node)] = fusion
    inside = frozenset(id(node) for fusion in found.values() for node in fusion.inside)
    return Fusions(found, inside)


def _match(node: ir.Map, kernels: dict[str, str], facts: Facts) -> Fusion | None:
    if node.op == "where" and "threshold_backward" in kernels:
        return _threshold(node, kernels["threshold_backward"], facts)
    if node.op == "mul" and "zeros_like" in kernels and _ZERO in node.args:
        return _zeros(node, kernels["zeros_like"], facts)
    if node.op == "pow" and "ones_like" in kernels and node.args[1] == _ZERO:
        x = node.args[0]
        return Fusion(kernels["ones_like"], {"x": x}, {}, ()) if x.indices == node.labels else None
    if node.op == "mul" and "softmax_backward" in kernels:
        return _softmax_backward(node, kernels["softmax_backward"], facts)
    return None


def _zeros(node: ir.Map, kernel: str, facts: Facts) -> Fusion | None:
    """`0 * x ** 0` (either order): zeros, even where x is inf or nan."""
    ones = node.args[1] if node.args[0] == _ZERO else node.args[0]
    if not (isinstance(ones, ir.Map) and ones.op == "pow" and ones.args[1] == _ZERO):
        return None
    x = ones.args[0]
    if x.indices != node.labels:
        return None
    inside = (ones,) if facts.uses.get(id(ones), 0) == 1 else ()
    return Fusion(kernel, {"x": x}, {}, inside)


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


def _count(node: ir.Reduce, kernel: str, facts: Facts) -> Fusion | None:
    """`sum[j](where(c, x ** 0, 0))`, c over all the labels of the `where`."""
    where = node.operand
    if not (isinstance(where, ir.Map) and where.op == "where"):
        return None
    condition, ones, other = where.args
    if other != _ZERO or not (isinstance(ones, ir.Map) and ones.op == "pow"):
        return None
    if ones.args[1] != _ZERO or condition.indices != where.labels:
        return None
    labels = condition.indices  # an ellipsis holds any rank: axes after it count from the back
    axes = tuple(axis_number(labels, k) for k, x in enumerate(labels) if x not in node.labels)
    kept = tuple(label for label in condition.indices if label in node.labels)
    if kept != node.labels or not axes:
        return None
    # `ones` only inside with the `where`: a `where` read elsewhere too is written out, and
    # reads it (the tie indicator of a max's derivative)
    inside: tuple[ir.Node, ...] = ()
    if facts.uses.get(id(where), 0) == 1:
        inside = (where, *([ones] if facts.uses.get(id(ones), 0) == 1 else []))
    operands = {"c": condition, "x": ones.args[0]}
    return Fusion(kernel, operands, {"axes": str(axes)}, inside, masks=("c",))


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


def _product(node: ir.MatMul, kernels: dict[str, str], facts: Facts) -> Fusion | None:
    """The product idiom a matmul is, if the backend has one for it."""
    if "sum_of_products" in kernels and node.left_vector and node.right_vector:
        return _sum_of_products(node, kernels["sum_of_products"], facts)
    if "transposed_times" in kernels:
        return _transposed_times(node, kernels["transposed_times"], facts)
    return None


def _transposed_times(node: ir.MatMul, kernel: str, facts: Facts) -> Fusion | None:
    """`A.T @ B`, both 2-D, B not transposed."""
    left, right = node.left, node.right
    if node.left_vector or node.right_vector or not isinstance(left, ir.Permute):
        return None
    if isinstance(right, ir.Permute) or left.perm != (1, 0) or len(right.indices) != 2:
        return None
    if ELLIPSIS in left.indices or ELLIPSIS in right.indices:
        return None
    inside = (left,) if facts.uses.get(id(left), 0) == 1 else ()
    return Fusion(kernel, {"a": left.operand, "b": right}, {}, inside)


def _sum_of_products(node: ir.MatMul, kernel: str, facts: Facts) -> Fusion | None:
    """A matmul of two vectors whose operands are read alike, as stored or both permuted
    the same way: the product summed over the axes the matmul contracts."""
    left, right = node.left, node.right
    if isinstance(left, ir.Permute) and isinstance(right, ir.Permute) and left.perm == right.perm:
        x, y = left.operand, right.operand
    elif isinstance(left, ir.Permute) or isinstance(right, ir.Permute):
        return None
    else:
        x, y = left, right
    summed = left.indices[-1]
    if x.indices != y.indices or tuple(k for k in x.indices if k != summed) != node.labels:
        return None  # a composed axis (a reshape), or the result's axes in another order
    if ELLIPSIS in x.indices:
        return None  # `x * y` would line up `...` axes of different ranks from the right
    permutes = (left, right) if x is not left else ()
    inside = tuple(p for p in permutes if facts.uses.get(id(p), 0) == 1)
    axes = str((x.indices.index(summed),))
    return Fusion(kernel, {"x": x, "y": y}, {"axes": axes}, inside)


def _fits(facts: Facts, node: ir.Node) -> bool:
    """Whether an operand is an array in the dtype that the program's inputs share."""
    return not facts.dtypes.drifting(node) and not facts.python_scalar(node)


def write(fusion: Fusion, codes: dict[int, Code], use_helper: Callable[[str], str]) -> Code:
    """The kernel's call, given the code of each node the emitter has written; a kernel
    spelled as a call of `_name` is a helper of the backend's, added to the module."""
    called = fusion.kernel.split("(", 1)[0]
    if called.startswith("_"):
        use_helper(called)
    names = {key: codes[id(node)].at(ATOM) for key, node in fusion.operands.items()}
    return Code(fusion.kernel.format(**names, **fusion.numbers))
