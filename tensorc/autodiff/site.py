"""An operation being differentiated, as a derivative rule sees it: its arguments, its primal
value, and what the builder of the derivative program can do for the rule (store a value under
a name, sum over the reduced indices, count elements)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from tensorc import ops
from tensorc.autodiff.build import Builder
from tensorc.autodiff.program import Statement
from tensorc.errors import TensorcError
from tensorc.frontend import ast, unparse


@dataclass(frozen=True)
class Product:
    """A chain of `*`, `/` and unary minus, differentiated whole: a factor's cotangent is summed
    by the Einstein rule over what the factor lacks, a contraction."""

    factors: tuple[ast.Expr, ...]
    divisors: tuple[ast.Expr, ...]
    negate: bool

    @staticmethod
    def of(node: ast.Expr) -> Product:
        factors, divisors, negate = ast.flatten_product(node)
        return Product(tuple(factors), tuple(divisors), negate)

    @property
    def args(self) -> tuple[ast.Expr, ...]:
        return (*self.factors, *self.divisors)


class Site:
    """One operation being differentiated: its node in a statement, and the builder that
    writes the derivative program (for values that must be stored under a name)."""

    def __init__(
        self, builder: Builder, statement: Statement, node: ast.Expr, args: tuple[ast.Expr, ...]
    ):
        self.builder = builder
        self.statement = statement
        self.node = node
        self.args = args  # the operands the rule differentiates along

    @cached_property
    def product(self) -> Product:
        return Product.of(self.node)

    @cached_property
    def value(self) -> ast.Expr:
        """The operation's primal value."""
        return self.builder.value_of(self.node, self.statement)

    @property
    def reduced(self) -> list[str]:
        """The indices a reduction or normaliser works along."""
        assert isinstance(self.node, ast.Along)
        return [axis.name for axis in self.node.indices]

    def once(self, x: ast.Expr) -> ast.Expr:
        """`x`, stored under a name unless it is one already: for a rule that uses it twice."""
        return self.builder.simple(x, self.builder.base(self.statement), self.statement.order)

    def along_reduced(self, x: ast.Expr) -> ast.Expr:
        """`x` as `once` gives it, broadcast along the reduced indices if it lacks them."""
        builder, order = self.builder, self.statement.order
        return builder.simple(x, builder.base(self.statement), order, self.reduced)

    def stored(self, value: ast.Expr, suffix: str) -> ast.Expr:
        """A primal value stored as `<target><suffix>` unless it is a plain read."""
        base = self.builder.base(self.statement, "", suffix)
        return self.builder.simple(value, base, self.statement.order)

    def named(self, value: ast.Expr, suffix: str) -> ast.Expr:
        """A primal value stored as `<target><suffix>`, and read back."""
        base = self.builder.base(self.statement, "", suffix)
        return self.builder.store(base, value, self.statement.order)

    def summed(self, x: ast.Expr) -> ast.Expr:
        """`sum[reduced](x)`, also along reduced indices that `x` does not use."""
        base = self.builder.base(self.statement)
        return self.builder.sum_over(self.reduced, x, self.statement.order, base)

    def count(self) -> ast.Expr:
        """How many elements a reduction reduces, in the operand's dtype."""
        return self.builder.count(self.reduced, self.args[0])


def operation(node: ast.Expr) -> ops.Op:
    """The operation an expression applies (the parser and lowering have checked it exists)."""
    if isinstance(node, ast.Unary | ast.Binary):
        found = ops.operator(node.op, len(ast.children(node)))
    elif isinstance(node, ast.Call):
        found = ops.function(node.func)
    elif isinstance(node, ast.Along):
        found = ops.along(node.func)
    else:
        found = None
    if found is None:
        raise TensorcError(f"cannot differentiate {unparse.expression(node)}")
    return found
