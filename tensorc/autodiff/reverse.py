"""Reverse mode: the primal statements, then one adjoint statement per target in reverse order.

`dX` holds the derivative of the result with respect to `X` (for `tc.vjp`, of the result
contracted with the given cotangents). Each read of `X` adds one term to `dX`; the terms
are written in `X`'s own index names once every read of `X` has been seen.

The language cannot sum over `...`, so where a tensor without `...` is read by a statement
with `...` (a bias broadcast over batch axes), its adjoint keeps the batch axes: it is
written `dX_batch[..., i]`, and the function that `tc.grad` returns sums them out, as it
sums a gradient over the batch axes along which an input was broadcast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tensorc.autodiff import expr as ex
from tensorc.autodiff import positions
from tensorc.autodiff.program import Program, Statement
from tensorc.autodiff.rules import rule_at
from tensorc.autodiff.standardised import Standardisations
from tensorc.autodiff.writes import Placed, Writes
from tensorc.errors import TensorcError
from tensorc.frontend import ast
from tensorc.ir.labels import ELLIPSIS, Composed, parts
from tensorc.ir.nodes import display_name


@dataclass(frozen=True)
class Gradient:
    """Where the derivative with respect to one input is in the program's results."""

    input: str
    plain: str | None  # a result with the input's axes
    batched: str | None  # a result with extra leading '...' axes, to be summed
    before: int  # stored axes before the input's '...' (0 if it has none)
    after: int  # stored axes after it (all of them if it has none)
    has_ellipsis: bool

    @property
    def results(self) -> tuple[str, ...]:
        return tuple(name for name in (self.plain, self.batched) if name is not None)


class Reverse(Writes):
    def __init__(self, program: Program, wrt: tuple[str, ...], standardised: Standardisations):
        super().__init__(program, program.depends_on(wrt))
        self.wrt = wrt
        self.standardised = standardised  # each xhat of `standardised.hoist`
        self.terms: dict[tuple[str, bool], list[ast.Expr]] = {}
        self._canonical: dict[str, tuple[tuple[str, ...], bool]] = {}
        self.results: dict[str, str] = {}

    # --- the program ------------------------------------------------------------------------

    def run(self, seeds: Sequence[tuple[str, ast.Expr]]) -> list[Gradient]:
        """Seeds are (name, cotangent) for each returned value; returns where each gradient is."""
        self.results = {name: self.names.claim(f"d{name}") for name in self.wrt}
        self.anchors.update(self.wrt)
        for statement in self.program.statements:
            self.emit_primal(statement)
        for target, cotangent in seeds:
            self.anchors.update(ex.names_read(cotangent))  # a cotangent has the result's dtype
            if target in self.active:
                self.add_term(target, cotangent)
        for statement in reversed(self.program.statements):
            if statement.target not in self.active:
                continue
            placed = self.placed.pop(statement.target, [])
            for batched in (False, True):
                terms = self.terms.pop((statement.target, batched), [])
                if terms or (placed and not batched):
                    adjoint = self.adjoint(statement, terms, batched, [] if batched else placed)
                    if not self.closed_form(statement, adjoint, batched):
                        self.statement(statement, adjoint)
        return [self.gradient(name) for name in self.wrt]

    def adjoint(
        self, statement: Statement, terms: list[ast.Expr], batched: bool, placed: list[Placed]
    ) -> ast.Expr:
        """The read of the target's adjoint, written as a statement unless it is one read."""
        labels: tuple[str, ...] | None = statement.labels
        if batched:
            labels = (ELLIPSIS, *statement.axes)
        if len(terms) == 1 and _reads_as(terms[0], labels) and not placed:
            return terms[0]
        suffix = "_batch" if batched else ""
        target = self.names.claim(self.base(statement, "d", suffix))
        self.emit_adjoint(target, labels, terms, statement.target, placed)
        return ex.name(target) if labels is None else ex.access(target, labels)

    def gradient(self, name: str) -> Gradient:
        labels, _ = self.canonical(name)
        plain = self.terms.pop((name, False), [])
        batched = self.terms.pop((name, True), [])
        placed = self.placed.pop(name, [])
        plain_name = batched_name = None
        target = labels if labels or name not in self.program.scalars else None
        plain, batched = self.in_dtype(name, plain), self.in_dtype(name, batched)
        if plain or placed or not batched:
            plain_name = self.results[name]
            self.emit_adjoint(plain_name, target, plain, name, placed)
        if batched:
            batched_name = self.names.claim(f"d{name}_batch")
            self.emit_sum(batched_name, (ELLIPSIS, *labels), batched)
        position = labels.index(ELLIPSIS) if ELLIPSIS in labels else None
        return Gradient(
            input=name,
            plain=plain_name,
            batched=batched_name,
            before=position or 0,
            after=len(labels) - position - 1 if position is not None else len(labels),
            has_ellipsis=position is not None,
        )

    # --- axes -------------------------------------------------------------------------------

    def canonical(self, name: str) -> tuple[tuple[str, ...], bool]:
        """The axes `dX` is written with: a target's own; for an input, its first read with
        distinct indices, or its first read with repeats renamed (fresh is then True)."""
        found = self._canonical.get(name)
        if found is not None:
            return found
        statement = self.program.defining(name)
        placed = self.program.placed_reads.get(name)
        if statement is not None:
            result: tuple[tuple[str, ...], bool] = (statement.axes, False)
        elif placed and not self.program.input_reads.get(name):
            result = (positions.stored_labels(placed[0], self.names.claim), False)
        else:
            reads = self.program.input_reads.get(name) or [()]
            distinct = [r for r in reads if len(set(ex.expanded(r))) == len(ex.expanded(r))]
            result = (
                (distinct[0], False)
                if distinct
                else (_fresh_axes(reads[0], self.names.claim), True)
            )
        self._canonical[name] = result
        return result

    def add_term(self, name: str, term: ast.Expr) -> None:
        labels, _ = self.canonical(name)
        batched = ELLIPSIS in self.free(term) and ELLIPSIS not in labels
        self.terms.setdefault((name, batched), []).append(term)

    def read_term(
        self, tensor: str, labels: tuple[str, ...], g: ast.Expr, order: Sequence[str]
    ) -> None:
        """Adds the cotangent `g` of the read `tensor[labels]` to `d tensor`, in its axes."""
        if tensor not in self.active:
            return
        canonical, fresh = self.canonical(tensor)
        self.add_term(tensor, self.relabel(tensor, g, labels, canonical, fresh, order))

    def relabel(
        self,
        tensor: str,
        g: ast.Expr,
        labels: tuple[str, ...],
        canonical: tuple[str, ...],
        fresh: bool,
        order: Sequence[str],
    ) -> ast.Expr:
        """`g`, the cotangent of a read with these labels, under the canonical labels: indices
        renamed, and a repeated index (a diagonal) as `where(i == i_2, g, 0)`."""
        if labels == canonical:
            return g
        if _compatible(labels, canonical):
            mapping, equal = _renaming(labels, canonical)
            renamed = self.indices.rename(g, mapping)
            if renamed is not None:
                zero: ast.Expr = ex.number(0)
                if fresh:  # `X[i, i_2] ** 0` also tells the size of the new index i_2
                    zero = ex.mul(zero, ex.ones_like(ex.access(tensor, canonical)))
                for first, second in reversed(equal):
                    same = ex.binary("==", ex.name(first), ex.name(second))
                    renamed = ex.where(same, renamed, zero)
                return renamed
        if len(set(ex.expanded(labels))) != len(ex.expanded(labels)):
            raise TensorcError(
                f"cannot differentiate the read {tensor}[{', '.join(labels)}]: it repeats an "
                "index and its axes differ from the other reads"
            )
        extra: tuple[str, ...] = ()
        if ELLIPSIS in self.free(g) and ELLIPSIS not in labels:
            extra = (ELLIPSIS,)
        stored = self.store_as(f"d{display_name(tensor)}", g, (*extra, *labels))
        return ex.access(stored, (*extra, *canonical))

    # --- one statement ----------------------------------------------------------------------

    def statement(self, statement: Statement, cotangent: ast.Expr) -> None:
        root = statement.value
        if statement.placed is not None:
            cotangent = self.written(statement, cotangent)
        value_indices = self.free(root) - statement.summed
        base = self.base(statement)
        g = self.sum_over(statement.indices - value_indices, cotangent, statement.order, base)
        self.visit(root, g, statement)

    def closed_form(self, statement: Statement, cotangent: ast.Expr, batched: bool) -> bool:
        """Gives the cotangent of a standardisation to X at once (`standardised`), if the
        statement is one, its cotangent has no batch axes and nothing differentiates eps."""
        found = None if batched else self.standardised.get(statement.target)
        if found is None or (found.eps is not None and self.is_active(found.eps)):
            return False
        c = self.simple(cotangent, self.base(statement), statement.order)
        term = found.derivative(statement.read(), c)
        self.read_term(found.x.tensor, ex.labels_of(found.x.axes), term, statement.order)
        return True

    def visit(self, node: ast.Expr, g: ast.Expr, st: Statement) -> None:
        """Adds the contributions of subexpression `node`, whose cotangent is `g`."""
        if not self.is_active(node):
            return
        if isinstance(node, ast.Access) and positions.has_positions(node.axes):
            self.placed_term(node, g)
        elif isinstance(node, ast.Access):
            self.read_term(node.tensor, ex.labels_of(node.axes), g, st.order)
        elif isinstance(node, ast.Name):
            self.read_term(node.name, (), g, st.order)
        else:
            self.apply(node, g, st)

    def apply(self, node: ast.Expr, g: ast.Expr, st: Statement) -> None:
        """Passes the cotangent of an operation to its arguments, by the operation's rule."""
        rule, site = rule_at(self, st, node)
        live = [
            k for k, arg in enumerate(site.args) if rule.has_derivative(k) and self.is_active(arg)
        ]
        if len(live) > 1:  # several arguments read the cotangent: stored once
            g = self.simple(g, self.base(st), st.order)
        nominal = self.free(node) | (self.free(g) & {ELLIPSIS})
        for k in live:
            cotangent = rule.vjp(site, g, k)
            if cotangent is not None:
                self.into(site.args[k], cotangent, st, nominal)

    def into(self, child: ast.Expr, g: ast.Expr, st: Statement, nominal: frozenset[str]) -> None:
        """Visits an operand that may be broadcast: the cotangent summed over the indices it
        lacks (for a factor of a product, a contraction)."""
        summed = nominal - self.free(child)
        self.visit(child, self.sum_over(summed, g, st.order, self.base(st)), st)


def _fresh_axes(labels: tuple[str, ...], claim: Callable[[str], str]) -> tuple[str, ...]:
    """Axes for a read that repeats an index (a diagonal): each repeat gets a fresh name."""
    seen: set[str] = set()
    out = []
    for label in labels:
        if isinstance(label, Composed) and set(label.parts) & seen:
            raise TensorcError(
                "cannot differentiate a composed axis that repeats an index of its tensor"
            )
        out.append(claim(label) if label in seen else label)
        seen.update(ex.expanded((label,)))
    return tuple(out)


def _reads_as(term: ast.Expr, labels: tuple[str, ...] | None) -> bool:
    """Whether `term` is already a plain read of a tensor with these labels (or a scalar's)."""
    if labels is None or not labels:
        return isinstance(term, ast.Name) or (isinstance(term, ast.Access) and not term.axes)
    return isinstance(term, ast.Access) and ex.labels_of(term.axes) == labels


def _renaming(
    read: tuple[str, ...], written: tuple[str, ...]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """How a read's indices become the written ones, for axis lists that are `_compatible`:
    each index renamed at its first place, and the pairs of written indices that a repeated
    read index makes equal (a diagonal)."""
    mapping: dict[str, str] = {}
    equal: list[tuple[str, str]] = []
    for old, new in zip(ex.expanded(read), ex.expanded(written), strict=True):
        if old == ELLIPSIS:
            continue
        if old in mapping:
            equal.append((mapping[old], new))
        else:
            mapping[old] = new
    return mapping, equal


def _compatible(read: tuple[str, ...], written: tuple[str, ...]) -> bool:
    """Whether two axis lists have the same shape of entries (so indices can be renamed)."""
    if len(read) != len(written):
        return False
    for a, b in zip(read, written, strict=True):
        if (a == ELLIPSIS) != (b == ELLIPSIS):
            return False
        if (isinstance(a, Composed), len(parts(a))) != (isinstance(b, Composed), len(parts(b))):
            return False
    return True
