"""The derivative of every operation, once: one rule per operation serves both modes.

`Rule.jvp(site, tangents)` is the tangent of an operation's result given its arguments'
tangents (forward mode); `Rule.vjp(site, g, k)` is the cotangent of its argument `k` given
its result's cotangent `g` (reverse mode). Both return None for zero. Most rules are written
once as a linear map and the constructors below make both modes from it:

- `elementwise(*partials)`: partial k maps a tangent of argument k to its share of the
  result's tangent; the Jacobian is diagonal, so the same map takes the result's cotangent to
  argument k's.
- `reduction(share)`: vjp is `share(g)`, broadcast back along the reduced indices, and jvp is
  `sum[reduced](share(t))`.

Where there is no derivative, the rules make JAX's choices (see docs/language.md). Every
operation of `tensorc.ops` has a rule here, `zero(...)` where its derivative is zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from tensorc import ops
from tensorc.autodiff import expr as ex
from tensorc.autodiff import reductions
from tensorc.autodiff.build import Builder
from tensorc.autodiff.program import Statement
from tensorc.autodiff.site import Product, Site, operation
from tensorc.frontend import ast

Linear = Callable[[Site, ast.Expr], ast.Expr | None]  # linear in its second argument


@dataclass(frozen=True)
class Rule:
    """How one operation differentiates (see the module's docstring). `zero` lists the
    arguments along which the derivative is zero everywhere (a `where`'s condition)."""

    jvp: Callable[[Site, Sequence[ast.Expr | None]], ast.Expr | None]
    vjp: Callable[[Site, ast.Expr, int], ast.Expr | None]
    zero: frozenset[int] = frozenset()
    operands: Callable[[ast.Expr], tuple[ast.Expr, ...]] = field(default=ast.children)

    def has_derivative(self, position: int) -> bool:
        return position not in self.zero


def rule_at(builder: Builder, statement: Statement, node: ast.Expr) -> tuple[Rule, Site]:
    """The rule of the operation `node` applies, and the site the rule reads it through."""
    rule = RULES[operation(node).name]
    return rule, Site(builder, statement, node, rule.operands(node))


# --- the constructors ---------------------------------------------------------------------


def elementwise(*partials: Linear | None) -> Rule:
    """The rule of an elementwise operation from its partial derivatives as linear maps
    (None: zero along that argument)."""

    def jvp(site: Site, tangents: Sequence[ast.Expr | None]) -> ast.Expr | None:
        terms = [
            partial(site, t)
            for partial, t in zip(partials, tangents, strict=True)
            if partial is not None and t is not None
        ]
        present = [term for term in terms if term is not None]
        return ex.add(present) if present else None

    def vjp(site: Site, g: ast.Expr, position: int) -> ast.Expr | None:
        partial = partials[position]
        return None if partial is None else partial(site, g)

    return Rule(jvp, vjp, frozenset(k for k, p in enumerate(partials) if p is None))


def zero(arity: int) -> Rule:
    """No derivative: a step function (zero almost everywhere, and zero where JAX defines it)
    or a boolean result."""
    return elementwise(*([None] * arity))


def reduction(share: Linear) -> Rule:
    """The rule of a reduction whose cotangent, broadcast back, is `share(g)`."""

    def jvp(site: Site, tangents: Sequence[ast.Expr | None]) -> ast.Expr | None:
        (t,) = tangents
        shared = None if t is None else share(site, t)
        return None if shared is None else site.summed(shared)

    return Rule(jvp, lambda site, g, position: share(site, g))


def normaliser(jvp: Linear, vjp: Linear) -> Rule:
    """The rule of a normaliser, whose Jacobian along its index is not diagonal."""
    return Rule(
        lambda site, tangents: None if tangents[0] is None else jvp(site, tangents[0]),
        lambda site, g, position: vjp(site, g),
    )


def _same(site: Site, x: ast.Expr) -> ast.Expr:
    return x


def _negated(site: Site, x: ast.Expr) -> ast.Expr:
    return ex.neg(x)


# --- products and powers -------------------------------------------------------------------


def product_terms(site: Site, tangents: Sequence[ast.Expr | None]) -> list[ast.Expr]:
    """The terms of a product's tangent: each factor (or divisor) in turn replaced by its
    tangent. Forward mode sums each term alike where the Einstein rule sums the product."""
    factors, divisors = site.product.factors, site.product.divisors
    denominator = ex.mul(*divisors) if divisors else None
    terms = []
    for k, t in enumerate(tangents[: len(factors)]):
        if t is not None:
            term = ex.mul(*factors[:k], t, *factors[k + 1 :])
            terms.append(term if denominator is None else ex.div(term, denominator))
    for divisor, t in zip(divisors, tangents[len(factors) :], strict=True):
        if t is not None:
            terms.append(ex.neg(ex.div(ex.mul(*factors, t), _squared(divisors, divisor))))
    return [ex.neg(term) for term in terms] if site.product.negate else terms


def _product_vjp(site: Site, g: ast.Expr, position: int) -> ast.Expr:
    """d(f1 * f2 / d1) = g * f2 / d1 for f1, and -g * f1 * f2 / d1 ** 2 for d1."""
    factors, divisors = site.product.factors, site.product.divisors
    if position < len(factors):
        term = ex.mul(g, *factors[:position], *factors[position + 1 :])
        if divisors:
            term = ex.div(term, ex.mul(*divisors))
        return ex.neg(term) if site.product.negate else term
    divisor = site.args[position]
    term = ex.div(ex.mul(g, *factors), _squared(divisors, divisor))
    return term if site.product.negate else ex.neg(term)


def _squared(divisors: Sequence[ast.Expr], divisor: ast.Expr) -> ast.Expr:
    """The denominator of a divisor's derivative: the divisors' product times that divisor."""
    if len(divisors) == 1:
        return ex.binary("**", divisor, ex.number(2))
    return ex.mul(*divisors, divisor)


PRODUCT = Rule(
    lambda site, tangents: ex.add(terms) if (terms := product_terms(site, tangents)) else None,
    _product_vjp,
    operands=lambda node: Product.of(node).args,
)


def _remainder_divisor(site: Site, g: ast.Expr) -> ast.Expr:
    """d(a % b)/db = -floor(a / b); d(a % b)/da = 1 (as JAX and PyTorch)."""
    a, b = site.args
    return ex.neg(ex.mul(g, ex.call("floor", ex.binary("/", a, b))))


def _power_base(site: Site, g: ast.Expr) -> ast.Expr | None:
    """d(a ** b)/da = b * a ** (b - 1); a constant exponent 0 gives 0 (JAX's integer_pow)."""
    a, b = site.args
    n = ex.constant_value(b)
    if n is None:
        return ex.mul(g, b, ex.binary("**", a, ex.binary("-", b, ex.number(1))))
    if n == 0:
        return None
    if n == 1:
        return g
    if n == 2:
        return ex.mul(g, ex.number(2), a)
    return ex.mul(g, ex.number(n), ex.binary("**", a, ex.number(n - 1)))


def _power_exponent(site: Site, g: ast.Expr) -> ast.Expr:
    """d(a ** b)/db = a ** b * log(a), with log(1) where a is 0, as in JAX."""
    a = site.args[0]
    c = ex.constant_value(a)
    if c is not None:
        log = ex.number(0) if c == 0 else ex.call("log", a)
    else:
        log = ex.call("log", ex.where(ex.binary("==", a, ex.number(0)), ex.number(1), a))
    return ex.mul(g, site.value, log)


# --- elementwise functions -----------------------------------------------------------------
# Written so that no integer array meets `g` (NumPy would promote float32 to float64).


def _abs(site: Site, g: ast.Expr) -> ast.Expr:
    """abs'(0) = 1, as in JAX."""
    g = site.once(g)
    return ex.where(ex.binary(">=", site.args[0], ex.number(0)), g, ex.neg(g))


def _relu(site: Site, g: ast.Expr) -> ast.Expr:
    """relu'(0) = 0, as in JAX. The mask reads the result (relu(x) > 0 where x > 0), which
    the program keeps anyway, so that the argument need not be kept or computed again."""
    return ex.where(ex.binary(">", site.value, ex.number(0)), g, ex.number(0))


def _tanh(site: Site, g: ast.Expr) -> ast.Expr:
    square = ex.binary("**", site.value, ex.number(2))
    return ex.mul(g, ex.binary("-", ex.number(1), square))


def _sigmoid(site: Site, g: ast.Expr) -> ast.Expr:
    return ex.mul(g, site.value, ex.binary("-", ex.number(1), site.value))


def _erf(site: Site, g: ast.Expr) -> ast.Expr:
    """erf'(x) = 2 / sqrt(pi) * exp(-x ** 2)."""
    gaussian = ex.call("exp", ex.neg(ex.binary("**", site.args[0], ex.number(2))))
    return ex.mul(g, ex.number(2 / math.sqrt(math.pi)), gaussian)


def _softplus(site: Site, g: ast.Expr) -> ast.Expr:
    return ex.mul(g, ex.call("sigmoid", site.args[0]))


def _silu(site: Site, g: ast.Expr) -> ast.Expr:
    """silu'(x) = s * (1 + x * (1 - s)), s = sigmoid(x)."""
    x = site.args[0]
    s = ex.call("sigmoid", x)
    return ex.mul(g, s, ex.add([ex.number(1), ex.mul(x, ex.binary("-", ex.number(1), s))]))


def _gelu(site: Site, g: ast.Expr) -> ast.Expr:
    """gelu'(x) = Phi(x) + x * phi(x), the normal distribution's cdf and density."""
    x = site.args[0]
    root_half = ex.number(math.sqrt(0.5))
    cdf = ex.mul(ex.number(0.5), ex.add([ex.number(1), ex.call("erf", ex.mul(x, root_half))]))
    half_square = ex.mul(ex.number(0.5), ex.binary("**", x, ex.number(2)))
    density = ex.mul(ex.number(1 / math.sqrt(2 * math.pi)), ex.call("exp", ex.neg(half_square)))
    return ex.mul(g, ex.add([cdf, ex.mul(x, density)]))


def _share(winner: str, mine: ast.Expr, other: ast.Expr, g: ast.Expr) -> ast.Expr:
    """The part of `g` that `mine` gets in max(mine, other) (winner ">") or min ("<"): all
    where it wins, half on a tie (as JAX)."""
    wins = ex.binary(winner, mine, other)
    tie = ex.where(ex.binary("==", mine, other), ex.mul(ex.number(0.5), g), ex.number(0))
    return ex.where(wins, g, tie)


def _extreme_share(winner: str, position: int) -> Linear:
    """The part of `g` that argument `position` of max(a, b) (or min) gets."""

    def share(site: Site, g: ast.Expr) -> ast.Expr:
        return _share(winner, site.args[position], site.args[1 - position], g)

    return share


def _clip(position: int) -> Linear:
    """clip(x, lo, hi) differentiates as JAX's jnp.clip, min(max(x, lo), hi): on a tie each
    side gets half, at each of the two steps."""

    def share(site: Site, g: ast.Expr) -> ast.Expr:
        x, low, high = site.args
        clipped_below = ex.call("max", x, low)
        if position == 2:
            return _share("<", high, clipped_below, g)
        g = site.once(_share("<", clipped_below, high, g))
        mine, other = (x, low) if position == 0 else (low, x)
        return _share(">", mine, other, g)

    return share


def _where(branch: int) -> Linear:
    def share(site: Site, g: ast.Expr) -> ast.Expr:
        chosen = (g, ex.number(0)) if branch == 1 else (ex.number(0), g)
        return ex.where(site.args[0], *chosen)

    return share


def _where_jvp(site: Site, tangents: Sequence[ast.Expr | None]) -> ast.Expr | None:
    _, yes, no = tangents
    if yes is None and no is None:
        return None
    return ex.where(site.args[0], yes or ex.number(0), no or ex.number(0))


# --- the table -----------------------------------------------------------------------------

RULES: dict[str, Rule] = {
    "neg": elementwise(_negated),
    "add": elementwise(_same, _same),
    "sub": elementwise(_same, _negated),
    "mul": PRODUCT,
    "div": PRODUCT,
    "floordiv": zero(2),
    "mod": elementwise(_same, _remainder_divisor),
    "pow": elementwise(_power_base, _power_exponent),
    **{name: zero(2) for name in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or")},
    "not": zero(1),
    "exp": elementwise(lambda site, g: ex.mul(g, site.value)),
    "log": elementwise(lambda site, g: ex.div(g, site.args[0])),
    "sqrt": elementwise(lambda site, g: ex.div(g, ex.mul(ex.number(2), site.value))),
    "abs": elementwise(_abs),
    "tanh": elementwise(_tanh),
    "sigmoid": elementwise(_sigmoid),
    "relu": elementwise(_relu),
    "sin": elementwise(lambda site, g: ex.mul(g, ex.call("cos", site.args[0]))),
    "cos": elementwise(lambda site, g: ex.neg(ex.mul(g, ex.call("sin", site.args[0])))),
    "erf": elementwise(_erf),
    **{name: zero(1) for name in ("floor", "ceil", "round", "sign")},
    "log1p": elementwise(lambda site, g: ex.div(g, ex.add([ex.number(1), site.args[0]]))),
    "expm1": elementwise(lambda site, g: ex.mul(g, ex.add([site.value, ex.number(1)]))),
    "softplus": elementwise(_softplus),
    "silu": elementwise(_silu),
    "gelu": elementwise(_gelu),
    "maximum": elementwise(_extreme_share(">", 0), _extreme_share(">", 1)),
    "minimum": elementwise(_extreme_share("<", 0), _extreme_share("<", 1)),
    "where": replace(elementwise(None, _where(1), _where(2)), jvp=_where_jvp),
    "clip": elementwise(_clip(0), _clip(1), _clip(2)),
    "sum": reduction(_same),
    "prod": reduction(reductions.prod),
    "max": reduction(reductions.extreme),
    "min": reduction(reductions.extreme),
    "mean": replace(reduction(lambda site, g: ex.div(g, site.count())), jvp=reductions.mean_jvp),
    "logsumexp": reduction(reductions.logsumexp),
    "var": reduction(reductions.var),
    "std": reduction(reductions.std),
    "any": zero(1),
    "all": zero(1),
    "argmax": zero(1),  # a position: no derivative
    "argmin": zero(1),
    "softmax": normaliser(reductions.softmax, reductions.softmax),
    "cumsum": normaliser(reductions.cumsum_jvp, reductions.cumsum_vjp),
    "log_softmax": normaliser(reductions.log_softmax_jvp, reductions.log_softmax_vjp),
    "cumprod": normaliser(reductions.cumprod_jvp, reductions.cumprod_vjp),
    # positions (integers) have no derivative
    **{name: zero(1) for name in ("argmax", "argmin") if name in ops.OPS},
}
