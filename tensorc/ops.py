"""Every operation of the language, once: its IR name, how programs spell it, its kind and
arity, what its arguments must be, how it folds when its arguments are constants, and how it
is written between its operands where it is an operator.

Lowering, constant folding, the code generators, the derivative rules
(`tensorc.autodiff.rules`) and the printer of derivative programs look operations up here;
each backend spells every entry once in its own dialect table (`backends/<framework>.py`).
`tests/ops` checks that every backend and every derivative rule covers every entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import numpy as np


class Kind(Enum):
    OPERATOR = "operator"  # arithmetic, written infix or prefix: + - * / // % ** and unary -
    COMPARISON = "comparison"  # < <= > >= == !=
    LOGICAL = "logical"  # and or not, on booleans
    FUNCTION = "function"  # elementwise calls: exp(x), max(a, b), where(c, a, b)
    REDUCTION = "reduction"  # sum[j](x): the bracketed indices are reduced away
    NORMALISER = "normaliser"  # softmax[j](x): along one index, the shape kept


ELEMENTWISE = frozenset({Kind.OPERATOR, Kind.COMPARISON, Kind.LOGICAL, Kind.FUNCTION})


class Value(Enum):
    """What an argument must be, or what a result is."""

    NUMBER = "number"  # a boolean argument becomes 1 or 0
    BOOLEAN = "boolean"  # a number argument is tested against zero
    ANY = "any"  # taken as it is (comparisons compare booleans as booleans)
    FLOAT = "float"  # a result in a floating dtype, whatever the arguments' (integers and
    # booleans become the backend's default float, as its own exp and mean make them)
    POSITION = "position"  # an int64 position along the one index reduced (argmax)


class Precedence(IntEnum):
    """How tightly an operator binds, loosest first, on Python's scale: the language follows
    Python, so program text and generated code need parentheses in the same places."""

    OR = 2
    AND = 3
    NOT = 4
    COMPARE = 5
    SUM = 8
    PRODUCT = 9
    UNARY = 10
    POWER = 11
    ATOM = 13


@dataclass(frozen=True)
class Infix:
    """How an operator is written before or between its operands: the weakest operand that
    needs no parentheses on each side (`right` alone for a prefix operator)."""

    symbol: str
    precedence: Precedence
    left: Precedence
    right: Precedence
    python: bool = True  # generated code writes it so too (`and` of arrays is a call instead)

    def write(self, operands: list[str]) -> str:
        """The operator applied to operand texts already parenthesised as needed."""
        if len(operands) == 1:
            space = " " if self.symbol.isalpha() else ""
            return f"{self.symbol}{space}{operands[0]}"
        return f"{operands[0]} {self.symbol} {operands[1]}"


@dataclass(frozen=True)
class Op:
    """One operation. `fold` evaluates an elementwise operation on float64 NumPy scalars,
    as the backends compute it (1/0 is inf, log(-1) is nan); reductions and normalisers never
    meet constants alone and have none."""

    name: str  # the IR name: ir.Map/Reduce/Along.op
    spelling: str  # how programs write it
    kind: Kind
    arity: int = 1
    fold: Callable[..., Any] | None = None
    infix: Infix | None = None
    takes: tuple[Value, ...] = ()  # per argument; numbers where not given
    gives: Value = Value.NUMBER
    inplace: bool = False  # the result has its operand's shape and dtype for every dtype
    widens: bool = False  # smaller integers and booleans give 64-bit integers, as np.sum does

    @property
    def operands(self) -> tuple[Value, ...]:
        return self.takes or (Value.NUMBER,) * self.arity

    @property
    def boolean(self) -> bool:
        return self.gives is Value.BOOLEAN

    @property
    def positional(self) -> bool:
        """Whether the result is a position along the one index it reduces (`argmax`)."""
        return self.gives is Value.POSITION

    @property
    def floating(self) -> bool:
        """Whether the result is floating point even for integer arguments (`exp`, `mean`)."""
        return self.gives is Value.FLOAT


# --- float64 evaluations for constant folding ------------------------------------------------


def _sigmoid(x: Any) -> Any:
    return np.exp(-np.logaddexp(0.0, -x))


# --- the table ---------------------------------------------------------------------------


# The operands' precedences of each binary operator level: left-associative, except that
# comparisons do not chain.
_SIDES = {
    Precedence.SUM: (Precedence.SUM, Precedence.PRODUCT),
    Precedence.PRODUCT: (Precedence.PRODUCT, Precedence.UNARY),
    Precedence.COMPARE: (Precedence.SUM, Precedence.SUM),
    Precedence.POWER: (Precedence.ATOM, Precedence.UNARY),
    Precedence.AND: (Precedence.AND, Precedence.NOT),
    Precedence.OR: (Precedence.OR, Precedence.AND),
    Precedence.NOT: (Precedence.NOT, Precedence.NOT),  # prefix: only the right side counts
}


def _binary(
    name: str,
    symbol: str,
    precedence: Precedence,
    fold: Callable[..., Any],
    gives: Value = Value.NUMBER,
) -> Op:
    comparison = precedence is Precedence.COMPARE
    left, right = _SIDES[precedence]
    return Op(
        name,
        symbol,
        Kind.COMPARISON if comparison else Kind.OPERATOR,
        2,
        fold,
        Infix(symbol, precedence, left, right),
        takes=(Value.ANY, Value.ANY) if comparison else (),
        gives=Value.BOOLEAN if comparison else gives,
    )


def _logical(name: str, precedence: Precedence, fold: Callable[..., Any]) -> Op:
    """`and`, `or`, `not`: booleans in, a boolean out; generated code calls a function, since
    Python's keywords do not work on arrays."""
    arity = 1 if precedence is Precedence.NOT else 2
    left, right = _SIDES[precedence]
    infix = Infix(name, precedence, left, right, python=False)
    return Op(name, name, Kind.LOGICAL, arity, fold, infix, (Value.BOOLEAN,) * arity, Value.BOOLEAN)


def _function(
    name: str, fold: Callable[..., Any], arity: int = 1, spelling: str | None = None, **more: Any
) -> Op:
    return Op(name, spelling or name, Kind.FUNCTION, arity, fold, **more)


def _reduction(name: str, **more: Any) -> Op:
    return Op(name, name, Kind.REDUCTION, **more)


def _normaliser(name: str, **more: Any) -> Op:
    return Op(name, name, Kind.NORMALISER, **more)


_FLOAT = Value.FLOAT


_P = Precedence
TABLE: tuple[Op, ...] = (
    Op("neg", "-", Kind.OPERATOR, 1, np.negative, Infix("-", _P.UNARY, _P.UNARY, _P.UNARY)),
    _binary("add", "+", _P.SUM, np.add),
    _binary("sub", "-", _P.SUM, np.subtract),
    _binary("mul", "*", _P.PRODUCT, np.multiply),
    _binary("div", "/", _P.PRODUCT, np.divide, Value.FLOAT),  # true division
    _binary("floordiv", "//", _P.PRODUCT, np.floor_divide),  # numpy's floor semantics
    _binary("mod", "%", _P.PRODUCT, np.remainder),  # the sign of the divisor, as Python
    _binary("pow", "**", _P.POWER, np.power),
    _binary("lt", "<", _P.COMPARE, np.less),
    _binary("le", "<=", _P.COMPARE, np.less_equal),
    _binary("gt", ">", _P.COMPARE, np.greater),
    _binary("ge", ">=", _P.COMPARE, np.greater_equal),
    _binary("eq", "==", _P.COMPARE, np.equal),
    _binary("ne", "!=", _P.COMPARE, np.not_equal),
    _logical("not", _P.NOT, np.logical_not),
    _logical("and", _P.AND, np.logical_and),
    _logical("or", _P.OR, np.logical_or),
    _function("exp", np.exp, gives=_FLOAT),
    _function("log", np.log, gives=_FLOAT),
    _function("sqrt", np.sqrt, gives=_FLOAT),
    _function("abs", np.abs),
    _function("tanh", np.tanh, gives=_FLOAT),
    _function("sigmoid", _sigmoid, gives=_FLOAT),
    _function("relu", lambda x: np.maximum(x, 0.0), inplace=True),
    _function("sin", np.sin, gives=_FLOAT),
    _function("cos", np.cos, gives=_FLOAT),
    _function("erf", math.erf, gives=_FLOAT),
    _function("floor", np.floor),
    _function("ceil", np.ceil),
    _function("round", np.round),  # half to even, on every backend
    _function("sign", np.sign),
    _function("log1p", np.log1p, gives=_FLOAT),
    _function("expm1", np.expm1, gives=_FLOAT),
    _function("softplus", lambda x: np.logaddexp(0.0, x), gives=_FLOAT),
    _function("silu", lambda x: x * _sigmoid(x), gives=_FLOAT),
    _function("gelu", lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))), gives=_FLOAT),
    _function("maximum", np.maximum, 2, "max"),
    _function("minimum", np.minimum, 2, "min"),
    _function("where", np.where, 3, takes=(Value.BOOLEAN, Value.ANY, Value.ANY)),
    _function("clip", lambda x, low, high: np.minimum(np.maximum(x, low), high), 3),
    _reduction("sum", widens=True),
    _reduction("prod", widens=True),
    _reduction("max"),
    _reduction("min"),
    _reduction("mean", gives=_FLOAT),
    _reduction("logsumexp", gives=_FLOAT),
    _reduction("var", gives=_FLOAT),  # population variance (ddof=0), as NumPy, on every backend
    _reduction("std", gives=_FLOAT),
    _reduction("any", takes=(Value.BOOLEAN,), gives=Value.BOOLEAN),
    _reduction("all", takes=(Value.BOOLEAN,), gives=Value.BOOLEAN),
    _reduction("argmax", gives=Value.POSITION),  # the first on ties; NaN counts as largest
    _reduction("argmin", gives=Value.POSITION),
    _normaliser("softmax", gives=_FLOAT),
    _normaliser("cumsum", widens=True),
    _normaliser("log_softmax", gives=_FLOAT),
    _normaliser("cumprod", widens=True),
)

OPS: dict[str, Op] = {op.name: op for op in TABLE}


def _by_spelling(kinds: frozenset[Kind]) -> dict[tuple[str, int], Op]:
    return {(op.spelling, op.arity): op for op in TABLE if op.kind in kinds}


_OPERATORS = _by_spelling(frozenset({Kind.OPERATOR, Kind.COMPARISON, Kind.LOGICAL}))
_FUNCTIONS = {op.spelling: op for op in TABLE if op.kind is Kind.FUNCTION}
_ALONG = {op.spelling: op for op in TABLE if op.kind in (Kind.REDUCTION, Kind.NORMALISER)}

# The bare names that are numbers.
CONSTANTS: dict[str, float] = {"inf": math.inf, "pi": math.pi}

# Every spelling that is a word, and the constants: derivative programs never pick these as
# fresh names.
WORDS: frozenset[str] = frozenset(
    {op.spelling for op in TABLE if op.spelling.isidentifier()} | set(CONSTANTS)
)


def operator(symbol: str, arity: int) -> Op | None:
    """The operator written `symbol` with this many operands: ("-", 1) is "neg"."""
    return _OPERATORS.get((symbol, arity))


def function(spelling: str) -> Op | None:
    """The elementwise function a call `spelling(...)` names: "max" is "maximum"."""
    return _FUNCTIONS.get(spelling)


def along(spelling: str) -> Op | None:
    """The reduction or normaliser that `spelling[i](...)` names: "max" is the reduction."""
    return _ALONG.get(spelling)


def keeps_index(spelling: str) -> bool:
    """Whether `spelling[i](...)` keeps the index it works along (a normaliser such as
    softmax) rather than reducing it away."""
    op = _ALONG.get(spelling)
    return op is not None and op.kind is Kind.NORMALISER
