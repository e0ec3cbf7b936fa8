"""Program text to AST: runs the Lark parser and turns its tree, or its errors, into tensorc terms."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from tensorc.errors import ParseError, Span
from tensorc.frontend import ast
from tensorc.frontend.grammar import lark_parser

# Friendly names for the grammar's terminals, for "expected ..." hints.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "EQUAL": "'='",
    "ELLIPSIS": "'...'",
    "NEWLINE": "a new line",
    "SEMICOLON": "';'",
    "MUL_OP": "'*', '/' or '%'",
    "FLOOR_DIV": "'//'",
    "ADD_OP": "'+' or '-'",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "COMPARE": "a comparison",
    "RETURN": "'return'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "$END": "the end of the program",
    "_ARROW": "'->'",
    "LETTER": "an index letter",
}

# Known mistakes, recognised by the parser state they leave it in (lark's match_examples).
_MISTAKES: dict[str, list[str]] = {
    "missing ']' to close the index list": [
        "C[i, k = A[i, k]",
        "C[i, k] = A[i, k",
        "C[i] = A[i, k\n",
        "C[i] = A[i] + B[i",
    ],
    "indices must be separated by commas": ["C[i k] = A[i, k]", "C[i] = A[i k]"],
    "missing ')'": ["x = exp(A[i]", "x = (a + b", "y[i] = sum[j](A[i, j]"],
    "a statement must be an assignment `NAME[indices] = expression`": [
        "C[i] A[i]",
        "A[i] * 2",
        "C[i] + 1",
        "3 = x",
    ],
    "missing the expression after '='": ["C[i] = ", "C[i] =\n", "C[i] = ;"],
    "an operator needs an operand on both sides": ["C[i] = A[i] *", "C[i] = A[i] + * B[i]"],
}


FLOAT_DIGITS = 309  # the digits of the largest float, 1.8e308: longer integers overflow


def _span_of(meta: Any) -> Span:
    length = meta.end_column - meta.column if meta.end_line == meta.line else 1
    return Span(meta.line, meta.column, max(1, length))


def _token_span(token: Token) -> Span:
    return Span(token.line or 1, token.column or 1, max(1, len(str(token))))


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Lark tree to AST nodes, bottom-up and without recursion (deep programs stay safe)."""

    def program(self, meta: Any, items: list[Any]) -> tuple[list[Any], None]:
        return [item for item in items if not isinstance(item, Token)], None

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def assign(self, meta: Any, items: list[Any]) -> ast.Assign:
        (name, axes), operator, value = items
        text = self.source[meta.start_pos : meta.end_pos]
        accumulate = str(operator) == "+="
        return ast.Assign(_span_of(meta), str(name), axes, value, text, accumulate)

    def target(self, meta: Any, items: list[Any]) -> tuple[Token, tuple[ast.Axis, ...] | None]:
        return items[0], (items[1] if len(items) > 1 else None)

    def return_stmt(self, meta: Any, items: list[Token]) -> ast.Return:
        return ast.Return(_span_of(meta), tuple(ast.Name(_token_span(t), str(t)) for t in items))

    def axes(self, meta: Any, items: list[ast.Axis]) -> tuple[ast.Axis, ...]:
        return tuple(items)

    def position(self, meta: Any, items: list[ast.Expr]) -> ast.Axis:
        return position_axis(items[0])

    def ellipsis(self, meta: Any, items: list[Token]) -> ast.EllipsisAxis:
        return ast.EllipsisAxis(_token_span(items[0]))

    def composed(self, meta: Any, items: list[Token]) -> ast.ComposedAxis:
        return ast.ComposedAxis(_span_of(meta), tuple(str(t) for t in items))

    def compare(self, meta: Any, items: list[Any]) -> ast.Binary:
        left, op, right = items
        return ast.Binary(_span_of(meta), str(op), left, right)

    binary = compare

    def negate(self, meta: Any, items: list[Any]) -> ast.Unary:
        return ast.Unary(_span_of(meta), "-", items[0])

    def logical_not(self, meta: Any, items: list[Any]) -> ast.Unary:
        return ast.Unary(_span_of(meta), "not", items[0])

    def logical_and(self, meta: Any, items: list[Any]) -> ast.Binary:
        return ast.Binary(_span_of(meta), "and", items[0], items[1])

    def logical_or(self, meta: Any, items: list[Any]) -> ast.Binary:
        return ast.Binary(_span_of(meta), "or", items[0], items[1])

    def power(self, meta: Any, items: list[Any]) -> ast.Binary:
        return ast.Binary(_span_of(meta), "**", items[0], items[1])

    def number(self, meta: Any, items: list[Token]) -> ast.Number:
        text = str(items[0])
        if not text.isdigit():
            return ast.Number(_token_span(items[0]), float(text), text)
        if len(text.lstrip("0")) > FLOAT_DIGITS or float(text) == float("inf"):
            shown = text if len(text) <= 20 else f"{text[:8]}...{text[-4:]} ({len(text)} digits)"
            raise ParseError(
                f"the number {shown} is too large: numbers are computed as floats, "
                "which end near 1.8e308",
                _token_span(items[0]),
            )
        return ast.Number(_token_span(items[0]), int(text), text)

    def name(self, meta: Any, items: list[Token]) -> ast.Name:
        return ast.Name(_token_span(items[0]), str(items[0]))

    def access(self, meta: Any, items: list[Any]) -> ast.Access:
        return ast.Access(_span_of(meta), str(items[0]), items[1])

    def along(self, meta: Any, items: list[Any]) -> ast.Along:
        func, axes, operand = items
        indices = []
        for axis in axes:
            if not isinstance(axis, ast.IndexAxis):
                raise ParseError(f"{func}[...] takes plain index names", axis.span)
            indices.append(axis)
        if not indices:
            raise ParseError(f"{func}[...] needs at least one index", _span_of(meta))
        return ast.Along(_span_of(meta), str(func), tuple(indices), operand)

    def call(self, meta: Any, items: list[Any]) -> ast.Call:
        return ast.Call(_span_of(meta), str(items[0]), tuple(items[1:]))


POSITION_RULE = (
    "an axis is an index, or a position affine in indices with integer coefficients "
    "(`2*h + kh - 1`, `t - k`, `0`), or an integer tensor's value (`ids[b, t]`)"
)


@dataclass
class _Linear:
    """A position being read: coefficients of indices, a constant, and a tensor-valued part."""

    terms: dict[str, int]
    offset: int = 0
    lookup: ast.Access | None = None

    @property
    def constant(self) -> bool:
        return not self.terms and self.lookup is None

    def scaled(self, factor: int, span: Span) -> _Linear:
        if self.lookup is not None and factor != 1:
            raise ParseError("a tensor-valued position can only have integers added to it", span)
        return _Linear({k: v * factor for k, v in self.terms.items()}, self.offset * factor)

    def plus(self, other: _Linear, span: Span) -> _Linear:
        if self.lookup is not None and other.lookup is not None:
            raise ParseError("a position may read one integer tensor, not two", span)
        terms = dict(self.terms)
        for index, coefficient in other.terms.items():
            terms[index] = terms.get(index, 0) + coefficient
        return _Linear(terms, self.offset + other.offset, self.lookup or other.lookup)


def position_axis(expr: ast.Expr) -> ast.Axis:
    """The axis that an expression between brackets stands for: an index, or a position
    (affine, tensor-valued, or under a boundary rule); a ParseError for anything else."""
    boundary, padding = "error", 0
    if isinstance(expr, ast.Call) and expr.func in ast.BOUNDARIES:
        expr, boundary, padding = _boundary(expr)
    if isinstance(expr, ast.Name) and boundary == "error":
        return ast.IndexAxis(expr.span, expr.name)
    linear = _linear(expr)
    terms = tuple((c, index) for index, c in linear.terms.items() if c != 0)
    if boundary != "error" and linear.lookup is not None:
        raise ParseError(
            f"{boundary}(...) takes an affine position, not a tensor's value", expr.span
        )
    return ast.PositionAxis(expr.span, terms, linear.offset, linear.lookup, boundary, padding)


def _boundary(call: ast.Call) -> tuple[ast.Expr, str, int]:
    """The position inside `pad(e)`, `pad(e, p)`, `clamp(e)` or `wrap(e)`, its rule and padding."""
    most = 2 if call.func == "pad" else 1
    if not 1 <= len(call.args) <= most:
        usage = "pad(e) or pad(e, p)" if call.func == "pad" else f"{call.func}(e)"
        raise ParseError(f"write {usage} around an axis position", call.span)
    padding = 0
    if len(call.args) == 2:
        width = call.args[1]
        if not isinstance(width, ast.Number) or not isinstance(width.value, int):
            raise ParseError("pad(e, p): p is a whole number of zeros on each side", width.span)
        padding = width.value
    return call.args[0], call.func, padding


def _linear(expr: ast.Expr) -> _Linear:
    """An axis expression as coefficients, a constant and a lookup, built without recursion."""
    done: dict[int, _Linear] = {}
    for node in reversed(list(ast.walk(expr))):  # children before their parents
        done[id(node)] = _linear_node(node, done)
    return done[id(expr)]


def _linear_node(node: ast.Expr, done: dict[int, _Linear]) -> _Linear:
    if isinstance(node, ast.Number):
        if not isinstance(node.value, int):
            raise ParseError(f"a position is a whole number, not {node.text}", node.span)
        return _Linear({}, node.value)
    if isinstance(node, ast.Name):
        return _Linear({node.name: 1})
    if isinstance(node, ast.Access):
        return _Linear({}, 0, node)
    if isinstance(node, ast.Unary) and node.op == "-":
        return done[id(node.operand)].scaled(-1, node.span)
    if isinstance(node, ast.Binary) and node.op in ("+", "-"):
        right = done[id(node.right)]
        if node.op == "-":
            right = right.scaled(-1, node.span)
        return done[id(node.left)].plus(right, node.span)
    if isinstance(node, ast.Binary) and node.op == "*":
        left, right = done[id(node.left)], done[id(node.right)]
        if left.constant:
            return right.scaled(left.offset, node.span)
        if right.constant:
            return left.scaled(right.offset, node.span)
        raise ParseError(f"{POSITION_RULE}; a product of two indices is not", node.span)
    if isinstance(node, ast.Call) and node.func in ast.BOUNDARIES:
        raise ParseError(f"{node.func}(...) goes around a whole axis position", node.span)
    raise ParseError(POSITION_RULE, node.span)


def parse_program(source: str) -> ast.Program:
    """Parse program text into an AST; a syntax error becomes a ParseError with a caret."""
    try:
        tree = lark_parser().parse(source, start="program")
    except UnexpectedInput as error:
        raise _parse_error(error, source) from None
    try:
        items, _ = _ToAst(source).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, ParseError):
            raise error.orig_exc.with_source(source) from None
        raise
    return _assemble(items, source)


MAX_DEPTH = 10_000


def ast_depth(program: ast.Program) -> int:
    """How deep the program's expressions nest, measured without recursion."""
    deepest = 0
    stack: list[tuple[ast.Expr, int]] = [(s.value, 1) for s in program.statements]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, ast.Unary | ast.Along):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Binary):
            stack.extend(((node.left, depth + 1), (node.right, depth + 1)))
        elif isinstance(node, ast.Call):
            stack.extend((arg, depth + 1) for arg in node.args)
    return deepest


def _assemble(items: list[Any], source: str) -> ast.Program:
    statements: list[ast.Assign] = []
    returns: ast.Return | None = None
    for position, item in enumerate(items):
        if isinstance(item, ast.Return):
            if position != len(items) - 1:
                raise ParseError("`return` must be the last statement", item.span, source)
            returns = item
        else:
            statements.append(item)
    if not statements:
        span = returns.span if returns else Span(1, 1)
        raise ParseError("the program has no statements", span, source)
    program = ast.Program(tuple(statements), returns, source)
    if ast_depth(program) > MAX_DEPTH:
        raise ParseError(f"expressions nest more than {MAX_DEPTH} deep", Span(1, 1), source)
    return program


def _parse_error(error: UnexpectedInput, source: str) -> ParseError:
    """A ParseError in plain words for any of lark's syntax errors."""
    line, column = _error_position(error, source)
    label = _known_mistake(error, source)
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        char = source[position] if position < len(source) else ""
        message = f"unexpected character {char!r}"
    elif isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        message = "unexpected end of input"
    elif isinstance(error, UnexpectedToken):
        token = error.token
        what = "end of line" if token.type == "NEWLINE" else repr(str(token))
        message = f"unexpected {what}"
    else:  # pragma: no cover - lark has no other kinds
        message = "syntax error"
    expected = _expected_words(error)
    if label:
        message = f"{message}: {label}"
    elif expected:
        message = f"{message}; expected {expected}"
    length = 1
    if isinstance(error, UnexpectedToken) and error.token.type not in ("$END", "NEWLINE"):
        length = max(1, len(str(error.token)))
    return ParseError(message, Span(line, column, length), source)


def _error_position(error: UnexpectedInput, source: str) -> tuple[int, int]:
    line = getattr(error, "line", -1)
    column = getattr(error, "column", -1)
    if isinstance(line, int) and line > 0 and isinstance(column, int) and column > 0:
        return line, column
    lines = source.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def _expected_words(error: UnexpectedInput) -> str:
    expected = getattr(error, "expected", None) or getattr(error, "allowed", None) or set()
    words = sorted({_terminal_word(name) for name in expected})
    if not words or len(words) > 6:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _terminal_word(name: str) -> str:
    """How a hint names a terminal: its friendly name, or the text of a literal one, never a
    grammar-internal name such as `__ANON_1`."""
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = lark_parser().get_terminal(name).pattern
    except KeyError:
        pattern = None
    if pattern is not None and pattern.type == "str":
        return repr(pattern.value)
    return name.strip("_").lower().replace("_", " ")


def _known_mistake(error: UnexpectedInput, source: str) -> str | None:
    try:
        return error.match_examples(_parse_for_examples, _MISTAKES, use_accepts=True)
    except Exception:  # match_examples is best effort: a miss falls back to the plain message
        return None


@functools.cache
def _parse_for_examples_cached() -> Any:
    parser = lark_parser()
    return functools.partial(parser.parse, start="program")


def _parse_for_examples(text: str) -> Tree:
    return _parse_for_examples_cached()(text)
