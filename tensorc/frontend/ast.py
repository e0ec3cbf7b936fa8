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


Axis = IndexAxis | EllipsisAxis | ComposedAxis


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
    """`C[i, k] = ...`; `axes` is None for a bare scalar target `s = ...`."""

    target: str
    axes: tuple[Axis, ...] | None
    value: Expr
    text: str = field(default="", compare=False)


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
