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

from collections.abc import Sequence
from dataclasses import dataclass

from tensorc.autodiff import expr as ex
from tensorc.autodiff.build import Builder
from tensorc.autodiff.program import Program, Statement
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


class Reverse(Builder):
    def __init__(self, program: Program, wrt: tuple[str, ...]):
        super().__init__(program, program.depends_on(wrt))
        self.wrt = wrt
        self.terms: dict[tuple[str, bool], list[ast.Expr]] = {}
        self._canonical: dict[str, tuple[tuple[str, ...], bool]] = {}
        self.results: dict[str, str] = {}

    # --- the program ------------------------------------------------------------------------

    def run(self, seeds: Sequence[tuple[str, ast.Expr]]) -> list[Gradient]:
        """Seeds are (name, cotangent) for each returned value; returns where each gradient is."""
        self.results = {name: self.names.claim(f"d{name}") for name in self.wrt}
        for statement in self.program.statements:
            self.emit(statement.target, statement.labels, statement.value)
        for target, cotangent in seeds:
            if target in self.active:
                self.add_term(target, cotangent)
        for statement in reversed(self.program.statements):
            if statement.target not in self.active:
                continue
            for batched in (False, True):
                terms = self.terms.pop((statement.target, batched), [])
                if terms:
                    self.statement(statement, self.adjoint(statement, terms, batched))
        return [self.gradient(name) for name in self.wrt]

    def adjoint(self, statement: Statement, terms: list[ast.Expr], batched: bool) -> ast.Expr:
        """The read of the target's adjoint, written as a statement unless it is one read."""
        labels: tuple[str, ...] | None = statement.labels
        if batched:
            labels = (ELLIPSIS, *statement.axes)
        if len(terms) == 1 and self._reads_as(terms[0], labels):
            return terms[0]
        suffix = "_batch" if batched else ""
        target = self.names.claim(self.base(statement, "d", suffix))
        self.emit_sum(target, labels, terms)
        return ex.name(target) if labels is None else ex.access(target, labels)

    @staticmethod
    def _reads_as(term: ast.Expr, labels: tuple[str, ...] | None) -> bool:
        if labels is None or not labels:
            return isinstance(term, ast.Name) or (isinstance(term, ast.Access) and not term.axes)
        return isinstance(term, ast.Access) and ex.labels_of(term.axes) == labels

    def gradient(self, name: str) -> Gradient:
        labels, _ = self.canonical(name)
        plain = self.terms.pop((name, False), [])
        batched = self.terms.pop((name, True), [])
        plain_name = batched_name = None
        target = labels if labels or name not in self.program.scalars else None
        if plain or not batched:
            plain_name = self.results[name]
            self.emit_sum(plain_name, target, plain or [self.zero(name)])
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

    def zero(self, name: str) -> ast.Expr:
        """Zeros in the input's shape and dtype: `0 * X[i, j] ** 0` (nan and inf give 0 too)."""
        labels, _ = self.canonical(name)
        read: ast.Expr = ex.access(name, labels) if labels else self._scalar_read(name)
        return ex.mul(ex.number(0), ex.ones_like(read))

    def _scalar_read(self, name: str) -> ast.Expr:
        return ex.name(name) if name in self.program.scalars else ex.access(name, ())

    # --- axes -------------------------------------------------------------------------------

    def canonical(self, name: str) -> tuple[tuple[str, ...], bool]:
        """The axes `dX` is written with: a target's own; for an input, its first read with
        distinct indices, or its first read with repeats renamed (fresh is then True)."""
        found = self._canonical.get(name)
        if found is not None:
            return found
        statement = self.program.defining(name)
        if statement is not None:
            result: tuple[tuple[str, ...], bool] = (statement.axes, False)
        else:
            reads = self.program.input_reads.get(name) or [()]
            distinct = [r for r in reads if len(set(ex.expanded(r))) == len(ex.expanded(r))]
            result = (distinct[0], False) if distinct else (self._fresh_axes(reads[0]), True)
        self._canonical[name] = result
        return result

    def _fresh_axes(self, labels: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        out = []
        for label in labels:
            if isinstance(label, Composed) and set(label.parts) & seen:
                raise TensorcError(
                    "cannot differentiate a composed axis that repeats an index of its tensor"
                )
            if label in seen:
                out.append(self.names.claim(label))
            else:
                out.append(label)
            seen.update(ex.expanded((label,)))
        return tuple(out)

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
            mapping: dict[str, str] = {}
            equal: list[tuple[str, str]] = []
            for read, written in zip(ex.expanded(labels), ex.expanded(canonical), strict=True):
                if read == ELLIPSIS:
                    continue
                if read in mapping:
                    equal.append((mapping[read], written))
                else:
                    mapping[read] = written
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
        value_indices = self.free(root) - statement.summed
        base = self.base(statement)
        g = self.sum_over(statement.indices - value_indices, cotangent, statement.order, base)
        self.visit(root, g, statement)

    def visit(self, node: ast.Expr, g: ast.Expr, st: Statement) -> None:
        """Adds the contributions of subexpression `node`, whose cotangent is `g`."""
        if not self.is_active(node):
            return
        nominal = self.free(node) | (self.free(g) & {ELLIPSIS})
        if isinstance(node, ast.Access):
            self.read_term(node.tensor, ex.labels_of(node.axes), g, st.order)
        elif isinstance(node, ast.Name):
            self.read_term(node.name, (), g, st.order)
        elif isinstance(node, ast.Unary):
            self.visit(node.operand, ex.neg(g), st)
        elif isinstance(node, ast.Binary):
            self.binary(node, g, st, nominal)
        elif isinstance(node, ast.Call):
            self.call(node, g, st, nominal)
        elif isinstance(node, ast.Along):
            self.along(node, g, st)

    def into(self, child: ast.Expr, g: ast.Expr, st: Statement, nominal: frozenset[str]) -> None:
        """Visits a broadcast operand: the cotangent summed over the indices it lacks."""
        if self.is_active(child):
            summed = nominal - self.free(child)
            self.visit(child, self.sum_over(summed, g, st.order, self.base(st)), st)

    def shared(self, g: ast.Expr, st: Statement) -> ast.Expr:
        """A cotangent that several operands use, stored once if it is not a plain read."""
        return self.simple(g, self.base(st), st.order)

    def binary(self, node: ast.Binary, g: ast.Expr, st: Statement, nominal: frozenset[str]) -> None:
        a, b = node.left, node.right
        if node.op in ("*", "/"):
            self.product(node, g, st, nominal)
        elif node.op in ("+", "-"):
            if self.is_active(a) and self.is_active(b):
                g = self.shared(g, st)
            self.into(a, g, st, nominal)
            self.into(b, ex.neg(g) if node.op == "-" else g, st, nominal)
        elif node.op == "**":
            self.power(node, g, st, nominal)
        # comparisons: no derivative

    def product(self, node: ast.Expr, g: ast.Expr, st: Statement, nominal: frozenset[str]) -> None:
        """d(f1 * f2 / d1) = g * f2 / d1 for f1 (summed over what f1 lacks: a contraction),
        and -g * f1 * f2 / d1 ** 2 for d1."""
        factors, divisors, negate = ast.flatten_product(node)
        live = [f for f in (*factors, *divisors) if self.is_active(f)]
        if len(live) > 1:
            g = self.shared(g, st)
        denominator = ex.mul(*divisors) if divisors else None
        for k, factor in enumerate(factors):
            if not self.is_active(factor):
                continue
            term = ex.mul(g, *factors[:k], *factors[k + 1 :])
            if denominator is not None:
                term = ex.div(term, denominator)
            self.into(factor, ex.neg(term) if negate else term, st, nominal)
        for divisor in divisors:
            if not self.is_active(divisor):
                continue
            if len(divisors) == 1:
                squared: ast.Expr = ex.binary("**", divisor, ex.number(2))
            else:
                squared = ex.mul(*divisors, divisor)
            term = ex.div(ex.mul(g, *factors), squared)
            self.into(divisor, term if negate else ex.neg(term), st, nominal)

    def power(self, node: ast.Binary, g: ast.Expr, st: Statement, nominal: frozenset[str]) -> None:
        a, b = node.left, node.right
        if self.is_active(a) and ex.constant_value(b) != 0:
            self.into(a, ex.mul(g, power_slope(a, b)), st, nominal)
        if self.is_active(b):
            self.into(b, ex.mul(g, self.value_of(node, st), log_base(a)), st, nominal)

    def call(self, node: ast.Call, g: ast.Expr, st: Statement, nominal: frozenset[str]) -> None:
        func, args = node.func, node.args
        zero = ex.number(0)
        if func == "where":
            condition, yes, no = args
            if self.is_active(yes) and self.is_active(no):
                g = self.shared(g, st)
            self.into(yes, ex.where(condition, g, zero), st, nominal)
            self.into(no, ex.where(condition, zero, g), st, nominal)
            return
        if func in ("max", "min"):
            a, b = args
            if self.is_active(a) and self.is_active(b):
                g = self.shared(g, st)
            self.into(a, extreme_share(func, a, b, g), st, nominal)
            self.into(b, extreme_share(func, b, a, g), st, nominal)
            return
        (a,) = args
        if func == "abs":  # where(a >= 0, g, -g) uses g twice
            g = self.shared(g, st)
        self.visit(a, chain(func, a, self.value_of(node, st), g), st)

    def along(self, node: ast.Along, g: ast.Expr, st: Statement) -> None:
        func, a = node.func, node.operand
        reduced = [axis.name for axis in node.indices]
        value = self.value_of(node, st)
        if func == "sum":
            self.visit(a, g, st)
        elif func == "mean":
            self.visit(a, ex.div(g, self.count(reduced, a)), st)
        elif func in ("max", "min"):
            _, hit, hits = self.extreme_hits(node, st)
            self.visit(a, ex.div(ex.where(hit, g, ex.number(0)), hits), st)
        elif func == "prod":
            self.visit(a, ex.mul(g, self.product_factor(node, st)), st)
        elif func == "logsumexp":
            self.visit(a, ex.mul(g, ex.call("exp", ex.binary("-", a, value))), st)
        elif func == "softmax":
            p = self.simple(value, self.base(st, "", "_softmax"), st.order)
            g = self.shared(g, st)
            inner = ex.binary("-", g, ex.along("sum", reduced, ex.mul(g, p)))
            self.visit(a, ex.mul(p, inner), st)
        else:  # cumsum: the reverse cumulative sum, sum - cumsum + g
            g = self.simple(g, self.base(st), st.order, reduced)
            total = ex.along("sum", reduced, g)
            self.visit(a, ex.add([total, ex.neg(ex.along("cumsum", reduced, g)), g]), st)


# --- rules for elementwise functions, shared with forward mode -----------------------------


def chain(func: str, a: ast.Expr, value: ast.Expr, g: ast.Expr) -> ast.Expr:
    """`g` times the derivative of `func` at `a`, whose value is `value`. JAX's choices where
    there is none: abs'(0) = 1, relu'(0) = 0. Written so that no integer array meets `g`
    (NumPy would promote float32 to float64)."""
    one, zero = ex.number(1), ex.number(0)
    if func == "exp":
        return ex.mul(g, value)
    if func == "log":
        return ex.div(g, a)
    if func == "sqrt":
        return ex.div(g, ex.mul(ex.number(2), value))
    if func == "abs":
        return ex.where(ex.binary(">=", a, zero), g, ex.neg(g))
    if func == "tanh":
        return ex.mul(g, ex.binary("-", one, ex.binary("**", value, ex.number(2))))
    if func == "sigmoid":
        return ex.mul(g, value, ex.binary("-", one, value))
    if func == "relu":
        return ex.where(ex.binary(">", a, zero), g, zero)
    if func == "sin":
        return ex.mul(g, ex.call("cos", a))
    if func == "cos":
        return ex.neg(ex.mul(g, ex.call("sin", a)))
    raise TensorcError(f"cannot differentiate '{func}'")


def extreme_share(func: str, a: ast.Expr, b: ast.Expr, g: ast.Expr) -> ast.Expr:
    """The part of `g` that `a` gets in max(a, b) (or min): all where it wins, half on a tie."""
    wins = ex.binary(">" if func == "max" else "<", a, b)
    tie = ex.binary("==", a, b)
    zero = ex.number(0)
    return ex.where(wins, g, ex.where(tie, ex.mul(ex.number(0.5), g), zero))


def power_slope(a: ast.Expr, b: ast.Expr) -> ast.Expr:
    """d(a ** b)/da = b * a ** (b - 1); a constant exponent 0 gives 0 (JAX's integer_pow)."""
    n = ex.constant_value(b)
    if n is not None:
        if n == 0:
            return ex.number(0)
        if n == 1:
            return ex.number(1)
        if n == 2:
            return ex.mul(ex.number(2), a)
        return ex.mul(ex.number(n), ex.binary("**", a, ex.number(n - 1)))
    return ex.mul(b, ex.binary("**", a, ex.binary("-", b, ex.number(1))))


def log_base(a: ast.Expr) -> ast.Expr:
    """log(a) for d(a ** b)/db = a ** b * log(a), with log(1) where a is 0, as in JAX."""
    c = ex.constant_value(a)
    if c is not None:
        return ex.number(0) if c == 0 else ex.call("log", a)
    return ex.call("log", ex.where(ex.binary("==", a, ex.number(0)), ex.number(1), a))


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
