"""What forward and reverse mode share: writing statements, storing values under a name,
summing over indices, and counting elements. The derivative rules are in `rules`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tensorc.autodiff import expr as ex
from tensorc.autodiff import positions
from tensorc.autodiff.anchors import anchored
from tensorc.autodiff.program import Program, Statement
from tensorc.errors import TensorcError
from tensorc.frontend import ast, unparse
from tensorc.ir.nodes import ELLIPSIS, display_name

MAX_TERMS = 16  # terms in one statement's sum of contributions


class Builder:
    """Accumulates the lines of the derivative program."""

    def __init__(self, program: Program, active: set[str]):
        self.program = program
        self.indices = program.indices
        self.names = program.names
        self.active = active
        self.anchors: set[str] = set()  # names whose values have a differentiated dtype
        self.lines: list[str] = []
        self._active_cache: dict[int, tuple[ast.Expr, bool]] = {}

    # --- reading the program ----------------------------------------------------------------

    def free(self, expr: ast.Expr) -> frozenset[str]:
        return self.indices.free(expr)

    def is_active(self, expr: ast.Expr) -> bool:
        """Whether an expression depends on an input being differentiated (worked out for
        every subexpression at once, so that deep expressions stay linear)."""
        found = self._active_cache.get(id(expr))
        if found is not None and found[0] is expr:
            return found[1]
        order: list[ast.Expr] = []
        stack = [expr]
        while stack:
            node = stack.pop()
            cached = self._active_cache.get(id(node))
            if cached is not None and cached[0] is node:
                continue
            order.append(node)
            stack.extend(ast.children(node))
        for node in reversed(order):
            if isinstance(node, ast.Access):
                result = node.tensor in self.active
            elif isinstance(node, ast.Name):
                result = node.name in self.active and node.name not in self.indices.names
            else:
                result = any(self._active_cache[id(child)][1] for child in ast.children(node))
            self._active_cache[id(node)] = (node, result)
        return self._active_cache[id(expr)][1]

    def value_of(self, node: ast.Expr, statement: Statement) -> ast.Expr:
        """The primal value of a subexpression: the target itself for a statement's whole
        right-hand side, otherwise the subexpression (which common-subexpression elimination
        shares with the primal statement where the two line up)."""
        if (
            node is statement.value
            and statement.placed is None
            and not statement.summed
            and self.free(node) == statement.indices
        ):
            return statement.read()
        return node

    # --- writing ----------------------------------------------------------------------------

    def emit(self, target: str, labels: Sequence[str] | None, value: ast.Expr) -> None:
        self.lines.append(unparse.statement(target, labels, value))
        self.anchor(target, value)

    def anchor(self, target: str, value: ast.Expr) -> None:
        """Notes that `target` has the differentiated inputs' dtype if `value` does."""
        if self.anchored(value):
            self.anchors.add(target)

    def anchored(self, value: ast.Expr) -> bool:
        """Whether the value has the differentiated inputs' dtype (see `anchors`)."""
        return anchored(value, self.anchors, self.indices.names)

    def emit_primal(self, statement: Statement) -> None:
        """A statement of the program. A write at positions that adds into an earlier array
        starts from a copy of it under its own name (`T_2[i] = T[i]`, then `T_2[...] += ...`),
        so that the derivative can still read the earlier one."""
        if statement.placed is None:
            self.emit(statement.target, statement.labels, statement.value)
            return
        if statement.previous is not None:
            earlier = ex.access(statement.previous, statement.axes)
            self.emit(statement.target, statement.labels, earlier)
        accumulate = statement.accumulate or statement.previous is not None
        self.emit_at(statement.target, statement.placed, [statement.value], accumulate)

    def emit_at(
        self, target: str, axes: Sequence[ast.Axis], terms: Sequence[ast.Expr], accumulate: bool
    ) -> None:
        """`target[axes] = t1 + t2 + ...` (`+=` to add into the target's earlier value), for
        axes with positions; a single `sum[k](product)` is written as the bare product."""
        written = positions.written_indices(axes)
        value = self.einstein(terms[0], written) if len(terms) == 1 else ex.add(terms)
        labels = ex.labels_of(axes)
        self.lines.append(unparse.statement(target, labels, value, accumulate))
        self.anchor(target, value)

    def emit_sum(
        self, target: str, labels: Sequence[str] | None, terms: Sequence[ast.Expr]
    ) -> None:
        """`target[labels] = t1 + t2 + ...`; a single `sum[k](product)` is written as the bare
        product, summed by the Einstein rule."""
        terms = list(terms)
        while len(terms) > MAX_TERMS:  # a long sum is written in parts, not one deep expression
            part = self.names.claim(f"{target}_part")
            self.emit(part, labels, ex.add(terms[:MAX_TERMS]))
            read = ex.name(part) if labels is None else ex.access(part, labels)
            terms = [read, *terms[MAX_TERMS:]]
        if len(terms) == 1:
            self.emit(target, labels, self.einstein(terms[0], labels or ()))
        else:
            self.emit(target, labels, ex.add(terms))

    def einstein(self, term: ast.Expr, labels: Sequence[str]) -> ast.Expr:
        """`sum[k](A[i, k] * B[k, j])` as `A[i, k] * B[k, j]` where the Einstein rule sums the
        same indices for a target with these labels."""
        if not (isinstance(term, ast.Along) and term.func == "sum"):
            return term
        summed = {axis.name for axis in term.indices}
        written = set(ex.expanded(labels))
        operand = term.operand
        factors, divisors, _ = ast.flatten_product(operand)
        if summed & written or len(factors) + len(divisors) < 2:
            return term  # a lone `sum[j](x[i, j])` says what it sums
        if self.free(operand) - summed - written:
            return term
        if any(self.free(d) & summed for d in divisors):
            return term
        return operand

    def store(
        self, base: str, value: ast.Expr, order: Sequence[str], indices: Iterable[str] = ()
    ) -> ast.Expr:
        """Writes `value` as a statement of its own (broadcast to `indices` too) and returns
        the read of its target."""
        wanted = set(self.free(value)) | set(indices)
        if ELLIPSIS in wanted and ELLIPSIS not in self.free(value):
            raise TensorcError("cannot differentiate this program: an '...' value is lost")
        labels = ex.ordered(wanted, order)
        target = self.names.claim(base)
        self.emit(target, labels if labels else None, value)
        return ex.access(target, labels) if labels else ex.name(target)

    def store_as(self, base: str, value: ast.Expr, labels: tuple[str, ...]) -> str:
        target = self.names.claim(base)
        self.emit(target, labels if labels else None, value)
        return target

    def simple(
        self, value: ast.Expr, base: str, order: Sequence[str], indices: Iterable[str] = ()
    ) -> ast.Expr:
        """`value` if it is a name, a read or a number (and has `indices`); otherwise stored."""
        needed = set(indices) - self.free(value)
        bare = value.operand if isinstance(value, ast.Unary) else value
        if not needed and isinstance(bare, ast.Access | ast.Name | ast.Number):
            return value
        return self.store(base, value, order, indices)

    def sum_over(
        self, indices: Iterable[str], value: ast.Expr, order: Sequence[str], base: str
    ) -> ast.Expr:
        """`sum[indices](value)`. An index the value does not use (it is constant along it)
        still counts: the value is stored broadcast along it first. The ellipsis is never
        summed here (the language cannot); see `Reverse` for how it is summed."""
        summed = set(indices) - {ELLIPSIS}
        if not summed:
            return value
        if summed - self.free(value):
            value = self.store(base, value, order, summed)
        return ex.along("sum", ex.ordered(summed, order), value)

    # --- pieces both modes use --------------------------------------------------------------

    def base(self, statement: Statement, prefix: str = "d", suffix: str = "") -> str:
        return f"{prefix}{display_name(statement.target)}{suffix}"

    def count(self, reduced: Sequence[str], operand: ast.Expr) -> ast.Expr:
        """The number of elements along `reduced`, in the operand's dtype: `sum[j](X[i, j] ** 0)`
        over a differentiated read with those indices and no others than the result's (or
        over the operand itself)."""
        kept = self.free(operand) - set(reduced)
        witness = operand
        stack = [operand]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Access) and node.tensor in self.active:
                free = self.free(node)
                if set(reduced) <= free and free - set(reduced) <= kept:
                    witness = node
                    break
            elif isinstance(node, ast.Unary | ast.Along):
                stack.append(node.operand)
            elif isinstance(node, ast.Binary):
                stack.extend((node.right, node.left))
            elif isinstance(node, ast.Call):
                stack.extend(reversed(node.args))
        return ex.along("sum", reduced, ex.ones_like(witness))
