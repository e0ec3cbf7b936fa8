"""The derivatives of reductions and normalisers, for the table in `rules`: a reduction's
share of the cotangent (linear in `g`), and a normaliser's jvp and vjp."""

from __future__ import annotations

from collections.abc import Sequence

from tensorc.autodiff import expr as ex
from tensorc.autodiff.site import Site
from tensorc.frontend import ast


def mean_jvp(site: Site, tangents: Sequence[ast.Expr | None]) -> ast.Expr | None:
    (t,) = tangents
    if t is None:
        return None
    return ex.along("mean", [i for i in site.reduced if i in site.builder.free(t)], t)


def extreme(site: Site, g: ast.Expr) -> ast.Expr:
    """max[j](a) (or min): ties share the derivative equally, as in JAX: g divided by the
    number of tied elements, times 1 at each of them and 0 elsewhere (JAX's own product, so a
    nonfinite g gives what JAX's own gradient gives, NaN beside the extreme)."""
    operand = site.stored(site.args[0], "_arg")
    hit = ex.binary("==", operand, site.value)
    tied = ex.where(hit, ex.ones_like(operand), ex.number(0))
    return ex.mul(ex.div(g, ex.along("sum", site.reduced, tied)), tied)


def prod(site: Site, g: ast.Expr) -> ast.Expr:
    """d prod[j](a) / d a[j]: the product of the others, correct where some are zero."""
    operand = site.stored(site.args[0], "_arg")
    is_zero = ex.binary("==", operand, ex.number(0))
    one, nothing = ex.number(1), ex.number(0)
    safe = ex.where(is_zero, one, operand)
    others = site.named(ex.along("prod", site.reduced, safe), "_nonzero")
    zeros = site.named(ex.along("sum", site.reduced, ex.where(is_zero, one, nothing)), "_zeros")
    no_zero = ex.where(ex.binary("==", zeros, nothing), ex.div(others, safe), nothing)
    one_zero = ex.where(ex.binary("==", zeros, one), others, nothing)
    return ex.mul(g, ex.where(is_zero, one_zero, no_zero))


def logsumexp(site: Site, g: ast.Expr) -> ast.Expr:
    """g * exp(x - L): 0 where x is -inf."""
    return ex.mul(g, ex.call("exp", ex.binary("-", site.args[0], site.value)))


def centred(site: Site) -> ast.Expr:
    """The operand minus its mean along the reduced indices."""
    operand = site.stored(site.args[0], "_arg")
    return ex.binary("-", operand, ex.along("mean", site.reduced, operand))


def var(site: Site, g: ast.Expr) -> ast.Expr:
    """d var[j](a) / d a = 2 * (a - mean[j](a)) / n."""
    return ex.div(ex.mul(g, ex.number(2), centred(site)), site.count())


def std(site: Site, g: ast.Expr) -> ast.Expr:
    """d std[j](a) / d a = (a - mean[j](a)) / (n * std): nan where std is 0, as JAX."""
    return ex.div(ex.mul(g, centred(site)), ex.mul(site.count(), site.value))


def softmax(site: Site, x: ast.Expr) -> ast.Expr:
    """P * (x - sum[j](x * P)): the same map for tangents and cotangents (it is symmetric)."""
    p = site.stored(site.value, "softmax")
    x = site.once(x)
    return ex.mul(p, ex.binary("-", x, ex.along("sum", site.reduced, ex.mul(x, p))))


def cumsum_jvp(site: Site, t: ast.Expr) -> ast.Expr:
    return ex.along("cumsum", site.reduced, site.along_reduced(t))


def cumsum_vjp(site: Site, g: ast.Expr) -> ast.Expr:
    """The reverse cumulative sum, written sum - cumsum + g."""
    return _reverse_cumsum(site, g)


def _reverse_cumsum(site: Site, u: ast.Expr) -> ast.Expr:
    """sum[j](u) - cumsum[j](u) + u: the sum of u from each position to the end."""
    u = site.along_reduced(u)
    total = ex.along("sum", site.reduced, u)
    return ex.add([total, ex.neg(ex.along("cumsum", site.reduced, u)), u])


def log_softmax_jvp(site: Site, t: ast.Expr) -> ast.Expr:
    """t - sum[j](P * t), with P = exp(log_softmax) the softmax."""
    p = site.stored(ex.call("exp", site.value), "_softmax")
    t = site.once(t)
    return ex.binary("-", t, ex.along("sum", site.reduced, ex.mul(p, t)))


def log_softmax_vjp(site: Site, g: ast.Expr) -> ast.Expr:
    """g - P * sum[j](g)."""
    p = site.stored(ex.call("exp", site.value), "_softmax")
    g = site.along_reduced(g)
    return ex.binary("-", g, ex.mul(p, ex.along("sum", site.reduced, g)))


def _cumprod_parts(site: Site) -> tuple[ast.Expr, ast.Expr, ast.Expr, ast.Expr]:
    """For cumprod[j](x): where x is zero, x with ones for zeros, the running product of
    the nonzero elements and the running count of zeros. dy_k/dx_j (j <= k) is the product
    of the others up to k: nonzero_k / x_j where no zero came yet, nonzero_k at the one zero
    so far, and 0 after two zeros; so the derivative is exact where x has zeros too."""
    operand = site.stored(site.args[0], "_arg")
    is_zero = ex.binary("==", operand, ex.number(0))
    safe = ex.where(is_zero, ex.number(1), operand)
    nonzero = site.named(ex.along("cumprod", site.reduced, safe), "_nonzero")
    ones = ex.where(is_zero, ex.number(1), ex.number(0))
    zeros = site.named(ex.along("cumsum", site.reduced, ones), "_zeros")
    return is_zero, safe, nonzero, zeros


def _up_to(zeros: ast.Expr, count: int, nonzero: ast.Expr) -> ast.Expr:
    """The running product of the nonzero elements where `count` zeros came so far, else 0."""
    return ex.where(ex.binary("==", zeros, ex.number(count)), nonzero, ex.number(0))


def cumprod_jvp(site: Site, t: ast.Expr) -> ast.Expr:
    is_zero, safe, nonzero, zeros = _cumprod_parts(site)
    none_yet = ex.mul(_up_to(zeros, 0, nonzero), ex.along("cumsum", site.reduced, ex.div(t, safe)))
    at_zero = ex.where(is_zero, t, ex.number(0))
    one_so_far = ex.mul(_up_to(zeros, 1, nonzero), ex.along("cumsum", site.reduced, at_zero))
    return ex.add([none_yet, one_so_far])


def cumprod_vjp(site: Site, g: ast.Expr) -> ast.Expr:
    is_zero, safe, nonzero, zeros = _cumprod_parts(site)
    before_zeros = ex.div(_reverse_cumsum(site, ex.mul(g, _up_to(zeros, 0, nonzero))), safe)
    at_first_zero = _reverse_cumsum(site, ex.mul(g, _up_to(zeros, 1, nonzero)))
    return ex.where(is_zero, at_first_zero, before_zeros)
