"""The derivative programs' form of a max or min pool's derivative, found for
`recognise_kernels` (which passes each write at positions here):

    dX[windows] += G / sum[window](T) * T,  T = where(X[windows] == M, X[windows] ** 0, 0)

is one `ir.kernels.PoolDerivative`, which backends compute one window offset at a time: a
comparison, a count and a product on arrays the size of the pool's result, where the formula
broadcasts over window axes two long, several passes of short inner loops."""

from __future__ import annotations

from typing import TypeGuard

from tensorc.ir import nodes as ir
from tensorc.ir.kernels import PoolDerivative
from tensorc.ir.labels import ELLIPSIS
from tensorc.ir.shapes import Sizes
from tensorc.ir.windows import plain_axes, stored, window_places


def pool_derivative(node: ir.Scatter, zeros: dict[str, str], sizes: Sizes) -> ir.Node | None:
    """`dX[windows] += G / sum[window](T) * T` with `T = where(X[windows] == M, X[windows] **
    0, 0)`, the derivative that programs give a max or min M over windows, as one
    `PoolDerivative`: where it adds into zeros like X (`zeros` names the targets that are,
    with the tensor each is like), or into an array of X's known shape; not where the
    target's shape may differ from X's (written by hand, `Y[2*y + p] += ...`)."""
    if node.lookups or not node.accumulate:
        return None
    parts = _shared_out(stored(node.operand))
    if parts is None:
        return None
    cotangent, count, tied = parts
    if not (_is(tied, "where") and _zero(tied.args[2])):
        return None
    if not (isinstance(count, ir.Reduce) and count.op == "sum" and _alike(count.operand, tied)):
        return None
    hit, one = stored(tied.args[0]), stored(tied.args[1])
    if not (_is(hit, "eq") and _is(one, "pow") and _zero(one.args[1])):
        return None
    read, extreme = stored(hit.args[0]), hit.args[1]
    if not isinstance(read, ir.Gather) or stored(one.args[0]) != read:
        return None
    if read.places != node.places or read.lookups or ELLIPSIS in read.operand.indices:
        return None
    windows = window_places(
        read.places, read.operand.indices, set(extreme.indices), set(count.reduced)
    )
    if windows is None or {w.kernel for w in windows} != set(count.reduced):
        return None
    if not all(w.inside for w in windows):
        return None  # windows that reach outside x: the general scatter drops those writes
    outer = set(plain_axes(read.places)) | {w.index for w in windows}
    if not set(extreme.indices) | set(cotangent.indices) <= outer:
        return None
    by_extent = {w.extent: w.index for w in windows}
    order = tuple(by_extent.get(label, label) for label in read.operand.indices)
    x, into = read.operand, node.into
    spread = (_spread(extreme, order), _spread(cotangent, order))
    like = zeros.get(into.name) if isinstance(into, ir.Var) else None
    if like is not None and isinstance(x, ir.Var) and like == x.name:  # sized as x
        return PoolDerivative(x, *spread, windows, x.indices)
    if into is None or not _known_alike(node.labels, x.indices, sizes):
        return None
    found = PoolDerivative(x, *spread, windows, node.labels)
    return ir.Map("add", (into, found), node.labels)


def _known_alike(labels: tuple[str, ...], others: tuple[str, ...], sizes: Sizes) -> bool:
    """Whether two arrays' axes have the same sizes, known when the plan is made."""
    if len(labels) != len(others) or any(label not in sizes.of for label in labels + others):
        return False
    return all(sizes.of[a] == sizes.of[b] for a, b in zip(labels, others, strict=True))


def _is(node: ir.Node, op: str) -> TypeGuard[ir.Map]:
    """Whether `node` applies `op` elementwise."""
    return isinstance(node, ir.Map) and node.op == op


def _zero(node: ir.Node) -> bool:
    """Whether `node` is the constant 0."""
    return isinstance(node, ir.Const) and node.value == 0


def _shared_out(value: ir.Node) -> tuple[ir.Node, ir.Node, ir.Node] | None:
    """(g, c, t) for `g / c * t` or `g * t / c` (the passes reorder the product, and may
    make it a `Contract` that sums nothing), the `where` as t; else None."""
    factors = _factors(value)
    if factors is not None:
        quotient, tied = (stored(f) for f in factors)
        if _is(tied, "div"):
            quotient, tied = tied, quotient
        if _is(quotient, "div"):
            return quotient.args[0], stored(quotient.args[1]), tied
    if not _is(value, "div"):
        return None
    numerator, count = stored(value.args[0]), stored(value.args[1])
    if _is(_alone(numerator), "where"):  # the cotangent 1 (`sum(P)`): `T / count`
        return ir.Const(1.0, "1"), count, _alone(numerator)
    factors = _factors(numerator)
    if factors is None:
        return None
    g, tied = (stored(f) for f in factors)
    return (tied, count, g) if _is(g, "where") else (g, count, tied)


def _alone(node: ir.Node) -> ir.Node:
    """The factor of a product of one factor that sums nothing (`sum(P)`'s `T / count`)."""
    if isinstance(node, ir.Contract) and len(node.factors) == 1 and not node.summed:
        return stored(node.factors[0])
    return node


def _factors(node: ir.Node) -> tuple[ir.Node, ir.Node] | None:
    """The two factors of an elementwise product, or None."""
    if _is(node, "mul"):
        return node.args[0], node.args[1]
    if isinstance(node, ir.Contract) and len(node.factors) == 2 and not node.summed:
        return node.factors[0], node.factors[1]
    return None


def zeros_of(program: ir.Program) -> dict[str, str]:
    """The targets that are `0 * X ** 0` (zeros in X's dtype, where a derivative program
    starts a sum), each with the name of its X. Adding a pool's derivative to them changes
    nothing: its dtype is X's promoted with the cotangent's."""
    found = {}
    for let in program.lets:
        factors = _factors(let.value)
        if factors is None or not any(_zero(f) for f in factors):
            continue
        power = stored(factors[1] if _zero(factors[0]) else factors[0])
        if _is(power, "pow") and _zero(power.args[1]) and isinstance(power.args[0], ir.Var):
            found[let.name] = power.args[0].name
    return found


def _alike(a: ir.Node, b: ir.Node) -> bool:
    """Whether two values are the same elementwise computation, whatever their axes' order."""
    a, b = stored(a), stored(b)
    if isinstance(a, ir.Map) and isinstance(b, ir.Map):
        pairs = zip(a.args, b.args, strict=True)
        return a.op == b.op and len(a.args) == len(b.args) and all(_alike(x, y) for x, y in pairs)
    return a == b


def _spread(node: ir.Node, order: tuple[str, ...]) -> ir.Node:
    """`node` with axes in `order`, broadcast along those it lacks."""
    if set(node.indices) != set(order):
        node = ir.Expand(ir.permuted(node, tuple(x for x in order if x in node.indices)), order)
    return ir.permuted(node, order)
