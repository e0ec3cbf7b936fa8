"""A layer norm's standardisation, `(X - mean[f](X)) / sqrt(var[f](X) + eps)`, as statements
of its own in reverse mode, so that its derivative is the closed form of the frameworks' kernels.

Read by read, the derivative goes through the mean and the variance: a dozen passes over the
full-size array, and under XLA two full-size temporaries. `hoist` writes each standardisation
that a statement holds as

    rstd[b] = 1 / sqrt(v[b] + eps)
    xhat[b, f] = (X[b, f] + -m[b]) * rstd[b]

and reverse mode gives xhat's cotangent c to X at once (`Reverse.closed_form`):

    dX[b, f] = rstd[b] * (c[b, f] - mean[f](c[b, f]))
               - xhat[b, f] * (rstd[b] * mean[f](c[b, f] * xhat[b, f]))

That is the whole derivative along the path through m and v, so xhat gives them nothing (their
other reads, if any, differentiate as usual). `X + -m` is `X - m` to the bit; written so, XLA
does not share it with the variance's reduction, which would keep the centred values in
memory (16 MiB more at 4096 x 1024, with every call page-faulting them in; docs/benchmarks.md).

Found: the centre, `m[b]` of a statement `m[b] = mean[f](X[b, f])` or that mean inline; the
variance `var[f](X[b, f])` or `mean[f]((X[b, f] - m[b]) ** 2)`, likewise; under `sqrt(...)` or
`(...) ** 0.5` as a divisor, or `(...) ** -0.5` as a factor, with `+ eps` (a number or a scalar
input) or not; anywhere in a product, such as `g[f] * (X[b, f] - m[b]) / sqrt(v[b] + eps)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tensorc.autodiff import expr as ex
from tensorc.autodiff.program import Program, Statement
from tensorc.frontend import ast
from tensorc.ir.labels import ELLIPSIS

Renaming = Mapping[str, str]  # a statement's free indices -> the reader's names


@dataclass(frozen=True)
class Standardised:
    """What the closed form reads: X, the indices it is standardised along, and rstd; and
    eps, which must not be differentiated (xhat then differentiates read by read)."""

    x: ast.Access
    over: tuple[str, ...]
    rstd: ast.Expr
    eps: ast.Expr | None

    def derivative(self, xhat: ast.Expr, c: ast.Expr) -> ast.Expr:
        """X's share of xhat's cotangent c: `rstd * (c - mean(c)) - xhat * (rstd * mean(c *
        xhat))` along the standardised indices."""
        rstd, over = self.rstd, self.over
        centred = ex.add([c, ex.neg(ex.along("mean", over, c))])
        correlated = ex.along("mean", over, ex.binary("*", c, xhat))
        spread = ex.binary("*", xhat, ex.binary("*", rstd, correlated))
        return ex.add([ex.binary("*", rstd, centred), ex.neg(spread)])


Standardisations = dict[str, Standardised]  # by the name of each xhat


def hoist(program: Program) -> tuple[Program, Standardisations]:
    """The program with each standardisation written as `rstd` and `xhat` statements before
    the statement that held it, and what each `xhat` standardises."""
    hoisting = _Hoisting(program)
    statements: list[Statement] = []
    for statement in program.statements:
        value = statement.value
        if statement.placed is None:
            value = hoisting.rebuild(value, statement.order)
        statements += hoisting.added
        hoisting.added = []
        statements.append(
            statement if value is statement.value else replace(statement, value=value)
        )
    if not hoisting.found:
        return program, {}
    return replace(program, statements=statements, _by_target={}), hoisting.found


class _Hoisting:
    """Finds standardisations in statements and writes their statements (`added`)."""

    def __init__(self, program: Program):
        self.program = program
        self.added: list[Statement] = []
        self.found: Standardisations = {}

    def rebuild(self, node: ast.Expr, order: tuple[str, ...]) -> ast.Expr:
        """`node` with each standardisation in it read from its own statement."""
        if isinstance(node, ast.Binary) and node.op in ("*", "/"):
            hoisted = self.standardise(node, order)
            if hoisted is not None:
                return hoisted
        if isinstance(node, ast.Unary | ast.Along):
            operand = self.rebuild(node.operand, order)
            return node if operand is node.operand else replace(node, operand=operand)
        if isinstance(node, ast.Binary):
            left, right = self.rebuild(node.left, order), self.rebuild(node.right, order)
            same = left is node.left and right is node.right
            return node if same else replace(node, left=left, right=right)
        if isinstance(node, ast.Call):
            args = tuple(self.rebuild(arg, order) for arg in node.args)
            same = all(new is old for new, old in zip(args, node.args, strict=True))
            return node if same else replace(node, args=args)
        return node

    def standardise(self, product: ast.Binary, order: tuple[str, ...]) -> ast.Expr | None:
        """The product with its standardisation, if it has one, read from `xhat`."""
        factors, divisors, negate = ast.flatten_product(product)
        for scale, inverted in [(d, True) for d in divisors] + [(f, False) for f in factors]:
            under = _variance_under(scale, inverted, self.program.scalars)
            if under is None:
                continue
            variance, eps = under
            for centred in factors:
                read = self.found_in(centred, (variance, eps), scale, inverted, order)
                if read is None:
                    continue
                factors = [read if f is centred else f for f in factors if f is not scale]
                divisors = [d for d in divisors if d is not scale]
                result = ex.mul(*factors)
                result = ex.div(result, ex.mul(*divisors)) if divisors else result
                return self.rebuild(ex.neg(result) if negate else result, order)  # the others
        return None

    def found_in(
        self,
        centred: ast.Expr,
        under: tuple[ast.Expr, ast.Expr | None],
        scale: ast.Expr,
        inverted: bool,
        order: tuple[str, ...],
    ) -> ast.Expr | None:
        """The read of a new `xhat` where `centred` is X less its mean along the indices that
        the variance `under` the root (with its eps) is X's variance along; None otherwise."""
        variance, eps = under
        if not (isinstance(centred, ast.Binary) and centred.op == "-"):
            return None
        x, centre = centred.left, centred.right
        if not (isinstance(x, ast.Access) and _plain(x)):
            return None
        over, spread = self.mean_of(centre, x, {}), self.variance_of(variance, x)
        if over is None or spread is None or set(spread) != set(over):
            return None
        labels = ex.labels_of(x.axes)
        kept = tuple(label for label in labels if label not in over)
        free = self.program.indices.free
        if set(free(centre)) != set(kept) or set(free(variance)) != set(kept):
            return None
        names = self.program.names
        rstd_value = ex.div(ex.number(1), scale) if inverted else scale
        rstd = Statement(
            names.claim("rstd"), kept or None, rstd_value, frozenset(), _first(kept, order)
        )
        xhat_value = ex.binary("*", ex.binary("+", x, ast.Unary(ex.SPAN, "-", centre)), rstd.read())
        xhat = Statement(
            names.claim("xhat"), labels, xhat_value, frozenset(), _first(labels, order)
        )
        self.added += [rstd, xhat]
        self.found[xhat.target] = Standardised(x, over, rstd.read(), eps)
        return xhat.read()

    def mean_of(self, node: ast.Expr, x: ast.Access, names: Renaming) -> tuple[str, ...] | None:
        """The indices (in x's names) along which `node` is the mean of x."""
        found = self.reduction(node, names)
        if found is None or found[0].func != "mean":
            return None
        return _aligned(*found, x)

    def variance_of(self, node: ast.Expr, x: ast.Access) -> tuple[str, ...] | None:
        """The indices (in x's names) along which `node` is the variance of x: `var`, or the
        mean of the squares of x less its mean."""
        found = self.reduction(node, {})
        if found is None:
            return None
        along, names = found
        if along.func == "var":
            return _aligned(along, names, x)
        square = along.operand
        if along.func != "mean" or not _is_power(square, 2):
            return None
        difference = square.left  # type: ignore[union-attr]
        if not (isinstance(difference, ast.Binary) and difference.op == "-"):
            return None
        if self.program.indices.free(difference.right) & set(_bound(along)):
            return None  # a centre that varies along the indices the spread is taken over
        over = _aligned(replace(along, operand=difference.left), names, x)
        centre = self.mean_of(difference.right, x, names)
        return (
            over if over is not None and centre is not None and set(centre) == set(over) else None
        )

    def reduction(self, node: ast.Expr, names: Renaming) -> tuple[ast.Along, Renaming] | None:
        """The reduction `node` is, inline or as the read of a statement, with the renaming of
        its free indices into the reader's."""
        if isinstance(node, ast.Along):
            return node, names
        if isinstance(node, ast.Name):  # a scalar's
            node = ex.access(node.name, ())
        if not (isinstance(node, ast.Access) and _plain(node)):
            return None
        statement = self.program.defining(node.tensor)
        if statement is None or statement.placed is not None or statement.summed:
            return None
        if not isinstance(statement.value, ast.Along) or len(statement.axes) != len(node.axes):
            return None
        read = ex.labels_of(node.axes)
        return statement.value, {
            own: names.get(label, label) for own, label in zip(statement.axes, read, strict=True)
        }


def _aligned(along: ast.Along, names: Renaming, x: ast.Access) -> tuple[str, ...] | None:
    """The indices in x's names that `along` reduces, where its operand is a read of x's
    tensor with the same indices elsewhere (after `names`)."""
    read, bound = along.operand, _bound(along)
    if not (isinstance(read, ast.Access) and read.tensor == x.tensor and _plain(read)):
        return None
    if len(read.axes) != len(x.axes) or ELLIPSIS in bound:
        return None
    over: dict[str, str] = {}
    for own, theirs in zip(ex.labels_of(read.axes), ex.labels_of(x.axes), strict=True):
        if own in bound:
            over[own] = theirs
        elif names.get(own, own) != theirs:
            return None
    if set(over) != set(bound):
        return None
    return tuple(over[index] for index in bound)


def _variance_under(
    scale: ast.Expr, inverted: bool, scalars: frozenset[str]
) -> tuple[ast.Expr, ast.Expr | None] | None:
    """The variance and eps in `sqrt(v + eps)` or `(v + eps) ** 0.5` as a divisor, or in
    `(v + eps) ** -0.5` as a factor."""
    if inverted and isinstance(scale, ast.Call) and scale.func == "sqrt" and len(scale.args) == 1:
        under = scale.args[0]
    elif _is_power(scale, 0.5 if inverted else -0.5):
        under = scale.left  # type: ignore[union-attr]
    else:
        return None
    if isinstance(under, ast.Binary) and under.op == "+":
        for variance, eps in ((under.left, under.right), (under.right, under.left)):
            if isinstance(eps, ast.Number) or (isinstance(eps, ast.Name) and eps.name in scalars):
                return variance, eps
        return None
    return under, None


def _is_power(node: ast.Expr, exponent: float) -> bool:
    return (
        isinstance(node, ast.Binary)
        and node.op == "**"
        and ex.constant_value(node.right) == exponent
    )


def _plain(access: ast.Access) -> bool:
    """Whether a read's axes are distinct plain indices (or `...`)."""
    axes = access.axes
    if not all(isinstance(axis, ast.IndexAxis | ast.EllipsisAxis) for axis in axes):
        return False
    return len(set(ex.labels_of(axes))) == len(axes)


def _bound(along: ast.Along) -> tuple[str, ...]:
    return tuple(axis.name for axis in along.indices)


def _first(labels: tuple[str, ...], order: tuple[str, ...]) -> tuple[str, ...]:
    """A statement's order of indices: its target's, then the others."""
    named = tuple(label for label in labels if label != ELLIPSIS)
    return (*named, *(index for index in order if index not in named))
