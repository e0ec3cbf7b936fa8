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
from tensorc.autodiff.rules import product_terms, rule_at
from tensorc.autodiff.site import Product, Site
from tensorc.frontend import ast
from tensorc.ir.nodes import display_name


class Forward(Builder):
    def __init__(self, program: Program, wrt: tuple[str, ...], tangents: dict[str, str]):
        super().__init__(program, program.depends_on(wrt))
        self.tangents = dict(tangents)  # name -> name of its tangent

    def run(self) -> list[str]:
        """Writes primal and tangent statements; returns the tangent of each returned value."""
        for statement in self.program.statements:
            self.emit_primal(statement)
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
            site = Site(self, st, root, Product.of(root).args)
            tangents = [self.tangent(arg, st) for arg in site.args]
            terms = [ex.along("sum", summed, t) for t in product_terms(site, tangents)]
        else:
            tangent = self.tangent(root, st)
            terms = [] if tangent is None else [tangent]
        self.tangents[st.target] = target
        if st.placed is not None:
            self.written(st, target, terms)
            return
        if not terms:
            terms = [ex.mul(ex.number(0), ex.ones_like(st.read()))]
        self.emit_sum(target, st.labels, terms)

    def written(self, st: Statement, target: str, terms: list[ast.Expr]) -> None:
        """The tangent of a write at positions: the same write of the value's tangent, into
        the tangent of the array that `+=` adds into (zeros where it has none)."""
        assert st.placed is not None
        zero = ex.mul(ex.number(0), ex.ones_like(st.read()))
        accumulate = st.accumulate
        if st.previous is not None:
            earlier = self.tangents.get(st.previous)
            start = zero if earlier is None else ex.access(earlier, st.axes)
            self.emit(target, st.labels, start)
            accumulate = True
        elif not terms:
            self.emit(target, st.labels, zero)
        if terms:
            self.emit_at(target, st.placed, terms, accumulate)

    def tangent(self, node: ast.Expr, st: Statement) -> ast.Expr | None:
        """The tangent of a subexpression, None where it is zero."""
        if not self.is_active(node):
            return None
        if isinstance(node, ast.Access):  # the same read (at the same positions) of the tangent
            return ast.Access(ex.SPAN, self.tangents[node.tensor], node.axes)
        if isinstance(node, ast.Name):
            return ex.name(self.tangents[node.name])
        rule, site = rule_at(self, st, node)
        tangents = [
            self.tangent(arg, st) if rule.has_derivative(k) else None
            for k, arg in enumerate(site.args)
        ]
        if all(t is None for t in tangents):
            return None
        return rule.jvp(site, tangents)
