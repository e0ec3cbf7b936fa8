"""The abstract syntax tree of a tensorc program: frozen dataclasses, each with the span it came from."""

from __future__ import annotations

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
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (`+ - * / **`) and comparisons (`< <= > >= == !=`)."""

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
