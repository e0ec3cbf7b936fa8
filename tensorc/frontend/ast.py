"""The abstract syntax tree of a tensorc program: frozen dataclasses, each with the span it came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tensorc.errors import Span


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False, repr=False)


# --- axes: what stands between the brackets of an access or a target ------------------------


@dataclass(frozen=True)
class IndexAxis(Node):
    name: str


@dataclass(frozen=True)
class EllipsisAxis(Node):
    pass


@dataclass(frozen=True)
class ComposedAxis(Node):
    """`(h d)`: one stored axis that is the row-major merge of several indices."""

    names: tuple[str, ...]


BOUNDARIES = ("pad", "clamp", "wrap")  # the rules for reading outside a tensor, by name


@dataclass(frozen=True)
class PositionAxis(Node):
    """An axis read or written at a computed position: `2*h + kh - 1`, `0`, `ids[b, t] + 1`.

    The position is `sum(coefficient * index) + offset`, plus the value of `lookup` (an integer
    tensor: a tensor-valued index). `boundary` says what a read outside the tensor gives:
    "error" (none may), or `pad(e)` zeros, `clamp(e)` the edge, `wrap(e)` wrapped around;
    `padding` is `pad(e, p)`'s p."""

    terms: tuple[tuple[int, str], ...]  # (coefficient, index): in written order, each index once
    offset: int
    lookup: Access | None = None
    boundary: str = "error"
    padding: int = 0

    @property
    def indices(self) -> tuple[str, ...]:
        """The indices the position uses: its terms', then its lookup's."""
        looked_up = _axes_indices(self.lookup.axes) if self.lookup is not None else ()
        return tuple(dict.fromkeys((*(index for _, index in self.terms), *looked_up)))


Axis = IndexAxis | EllipsisAxis | ComposedAxis | PositionAxis


def _axes_indices(axes: tuple[Axis, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for axis in axes:
        if isinstance(axis, IndexAxis):
            found.append(axis.name)
        elif isinstance(axis, ComposedAxis):
            found.extend(axis.names)
        elif isinstance(axis, PositionAxis):
            found.extend(axis.indices)
    return tuple(found)


# --- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Number(Node):
    value: float | int
    text: str


@dataclass(frozen=True)
class Name(Node):
    """A bare name: an index's value, a constant (`inf`, `pi`) or a scalar."""

    name: str


@dataclass(frozen=True)
class Access(Node):
    """`A[i, j]`: a tensor read with its axes labelled."""

    tensor: str
    axes: tuple[Axis, ...]

    @property
    def lookups(self) -> tuple[Access, ...]:
        """The integer tensors read as positions of its axes (`ids` in `W[ids[b, t], d]`)."""
        return lookups(self.axes)


@dataclass(frozen=True)
class Unary(Node):
    """`-x` or `not c`."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (`+ - * / // % **`), comparisons (`< <= > >= == !=`), `and`, `or`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call(Node):
    """An elementwise function: `exp(x)`, `max(a, b)`, `where(c, a, b)`."""

    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Along(Node):
    """A reduction or normaliser along indices: `sum[j](...)`, `softmax[j](...)`."""

    func: str
    indices: tuple[IndexAxis, ...]
    operand: Expr


Expr = Number | Name | Access | Unary | Binary | Call | Along


# --- statements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Assign(Node):
    """`C[i, k] = ...` (or `+=`, with `accumulate`); `axes` is None for a bare scalar target."""

    target: str
    axes: tuple[Axis, ...] | None
    value: Expr
    text: str = field(default="", compare=False)
    accumulate: bool = False


def lookups(axes: tuple[Axis, ...]) -> tuple[Access, ...]:
    """The integer tensors that axes read as positions."""
    return tuple(
        axis.lookup for axis in axes if isinstance(axis, PositionAxis) and axis.lookup is not None
    )


@dataclass(frozen=True)
class Return(Node):
    names: tuple[Name, ...]


@dataclass(frozen=True)
class Program:
    statements: tuple[Assign, ...]
    returns: Return | None
    source: str = field(compare=False, repr=False)


# --- walking expressions, without recursion (programs may nest thousands deep) -------------


def children(node: Expr) -> tuple[Expr, ...]:
    """The subexpressions of an expression, left to right."""
    if isinstance(node, Unary | Along):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Access):
        return node.lookups
    return ()


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of an expression, each before its subexpressions, left to right."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def flatten_product(expr: Expr) -> tuple[list[Expr], list[Expr], bool]:
    """Factors, divisors and sign of a chain of `*`, `/` and unary minus:
    `-a * b / c` is ([a, b], [c], True)."""
    factors: list[Expr] = []
    divisors: list[Expr] = []
    negate = False
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, inverted = stack.pop()
        if isinstance(node, Binary) and node.op in ("*", "/"):
            stack.append((node.right, inverted != (node.op == "/")))
            stack.append((node.left, inverted))
        elif isinstance(node, Unary) and node.op == "-":
            negate = not negate
            stack.append((node.operand, inverted))
        else:
            (divisors if inverted else factors).append(node)
    return factors, divisors, negate
