"""Forward mode: after each statement, the statement of its tangent.

`dX` is the tangent of `X` (the directional derivative along the given input tangents). A
tangent reads the input tangents exactly as the primal reads the inputs (same axes, so
diagonals, composed axes and `...` need nothing special), and a product's tangent is the sum
of the products with one factor replaced by its tangent.
"""

from __future__ import annotations

from tensorc.autodiff import expr as ex
from tensorc.autodiff.build import Builder
from tensorc.autodiff.program import Program, Statement
from tensorc.autodiff.reverse import chain, extreme_share, log_base, power_slope
from tensorc.frontend import ast
from tensorc.ir.nodes import display_name


class Forward(Builder):
    def __init__(self, program: Program, wrt: tuple[str, ...], tangents: dict[str, str]):
        super().__init__(program, program.depends_on(wrt))
        self.tangents = dict(tangents)  # name -> name of its tangent

    def run(self) -> list[str]:
        """Writes primal and tangent statements; returns the tangent of each returned value."""
        for statement in self.program.statements:
            self.emit(statement.target, statement.labels, statement.value)
            if statement.target in self.active:
                self.statement(statement)
        results = []
        for name in self.program.outputs:
            if name not in self.tangents:
                zero = ex.mul(ex.number(0), ex.ones_like(self._read(name)))
                target = self.names.claim(f"d{display_name(name)}")
                self.emit(target, self._labels(name), zero)
                self.tangents[name] = target
            results.append(self.tangents[name])
        return results

    def _labels(self, name: str) -> tuple[str, ...] | None:
        statement = self.program.defining(name)
        if statement is not None:
            return statement.labels
        reads = self.program.input_reads.get(name) or []
        if name in self.program.scalars or not reads:
            return None
        return reads[0]

    def _read(self, name: str) -> ast.Expr:
        labels = self._labels(name)
        return ex.name(name) if labels is None else ex.access(name, labels)

    def statement(self, st: Statement) -> None:
        root = st.value
        target = self.names.claim(self.base(st))  # before any helper statement takes the name
        if st.summed:  # an Einstein product: each term of its tangent is summed alike
            summed = ex.ordered(st.summed, st.order)
            terms = [ex.along("sum", summed, t) for t in self.product(root, st)]
        else:
            tangent = self.tangent(root, st)
            terms = [] if tangent is None else [tangent]
        if not terms:
            terms = [ex.mul(ex.number(0), ex.ones_like(st.read()))]
        self.emit_sum(target, st.labels, terms)
        self.tangents[st.target] = target

    def tangent(self, node: ast.Expr, st: Statement) -> ast.Expr | None:
        """The tangent of a subexpression, None where it is zero."""
        if not self.is_active(node):
            return None
        if isinstance(node, ast.Access):
            return ex.access(self.tangents[node.tensor], ex.labels_of(node.axes))
        if isinstance(node, ast.Name):
            return ex.name(self.tangents[node.name])
        if isinstance(node, ast.Unary):
            inner = self.tangent(node.operand, st)
            return None if inner is None else ex.neg(inner)
        if isinstance(node, ast.Binary):
            return self.binary(node, st)
        if isinstance(node, ast.Call):
            return self.call(node, st)
        if isinstance(node, ast.Along):
            return self.along(node, st)
        return None

    def binary(self, node: ast.Binary, st: Statement) -> ast.Expr | None:
        if node.op in ("*", "/"):
            return _sum(self.product(node, st))
        a, b = node.left, node.right
        if node.op in ("+", "-"):
            ta, tb = self.tangent(a, st), self.tangent(b, st)
            if tb is not None and node.op == "-":
                tb = ex.neg(tb)
            return _sum([t for t in (ta, tb) if t is not None])
        if node.op == "**":
            terms = []
            ta, tb = self.tangent(a, st), self.tangent(b, st)
            if ta is not None and ex.constant_value(b) != 0:
                terms.append(ex.mul(ta, power_slope(a, b)))
            if tb is not None:
                terms.append(ex.mul(tb, self.value_of(node, st), log_base(a)))
            return _sum(terms)
        return None  # comparisons

    def product(self, node: ast.Expr, st: Statement) -> list[ast.Expr]:
        """The terms of a product's tangent: each factor (or divisor) in turn replaced."""
        factors, divisors, negate = ast.flatten_product(node)
        denominator = ex.mul(*divisors) if divisors else None
        terms = []
        for k, factor in enumerate(factors):
            t = self.tangent(factor, st)
            if t is not None:
                term = ex.mul(*factors[:k], t, *factors[k + 1 :])
                terms.append(term if denominator is None else ex.div(term, denominator))
        for divisor in divisors:
            t = self.tangent(divisor, st)
            if t is not None:
                if len(divisors) == 1:
                    squared: ast.Expr = ex.binary("**", divisor, ex.number(2))
                else:
                    squared = ex.mul(*divisors, divisor)
                terms.append(ex.neg(ex.div(ex.mul(*factors, t), squared)))
        return [ex.neg(term) for term in terms] if negate else terms

    def call(self, node: ast.Call, st: Statement) -> ast.Expr | None:
        func, args = node.func, node.args
        zero = ex.number(0)
        if func == "where":
            condition, yes, no = args
            ty, tn = self.tangent(yes, st), self.tangent(no, st)
            if ty is None and tn is None:
                return None
            return ex.where(condition, ty or zero, tn or zero)
        if func in ("max", "min"):
            a, b = args
            ta, tb = self.tangent(a, st), self.tangent(b, st)
            terms = []
            if ta is not None:
                terms.append(extreme_share(func, a, b, ta))
            if tb is not None:
                terms.append(extreme_share(func, b, a, tb))
            return _sum(terms)
        (a,) = args
        t = self.tangent(a, st)
        if t is None:
            return None
        if func == "abs":
            t = self.simple(t, self.base(st), st.order)
        return chain(func, a, self.value_of(node, st), t)

    def along(self, node: ast.Along, st: Statement) -> ast.Expr | None:
        func, a = node.func, node.operand
        t = self.tangent(a, st)
        if t is None:
            return None
        reduced = [axis.name for axis in node.indices]
        value = self.value_of(node, st)
        base = self.base(st)
        if func == "sum":
            return self.sum_over(reduced, t, st.order, base)
        if func == "mean":
            return ex.along("mean", [i for i in reduced if i in self.free(t)], t)
        if func in ("max", "min"):
            _, hit, hits = self.extreme_hits(node, st)
            return ex.div(ex.along("sum", reduced, ex.where(hit, t, ex.number(0))), hits)
        if func == "prod":
            factor = self.product_factor(node, st)
            return self.sum_over(reduced, ex.mul(t, factor), st.order, base)
        if func == "logsumexp":
            weight = ex.call("exp", ex.binary("-", a, value))
            return self.sum_over(reduced, ex.mul(t, weight), st.order, base)
        if func == "softmax":
            p = self.simple(value, self.base(st, "", "_softmax"), st.order)
            t = self.simple(t, base, st.order)
            return ex.mul(p, ex.binary("-", t, ex.along("sum", reduced, ex.mul(t, p))))
        # cumsum
        t = self.simple(t, base, st.order, reduced)
        return ex.along("cumsum", reduced, t)


def _sum(terms: list[ast.Expr]) -> ast.Expr | None:
    return ex.add(terms) if terms else None
