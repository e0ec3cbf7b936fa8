"""Hypothesis strategies for ASTs of the language: any tree that the parser could make."""

from __future__ import annotations

from hypothesis import strategies as st

from tensorc.errors import Span
from tensorc.frontend import ast

HERE = Span(1, 1)
INDICES = st.sampled_from(["i", "j", "k", "h", "d", "n_2"])
NAMES = st.sampled_from(["A", "B", "x", "w_1", "_t", "inf", "pi", "sum", "exp", "i", "Return"])
FUNCTIONS = st.sampled_from(["exp", "max", "where", "f"])
ALONG = st.sampled_from(["sum", "softmax", "max", "g"])
OPERATORS = st.sampled_from(["+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!="])
NUMBER_TEXTS = st.sampled_from(["0.5", "1.", ".25", "1e3", "2.5E-4", "10.0", "3e+2"])

axes = st.lists(
    st.one_of(
        INDICES.map(lambda name: ast.IndexAxis(HERE, name)),
        st.just(ast.EllipsisAxis(HERE)),
        # `(i)` is the index i in parentheses: a composed axis merges two indices or more
        st.lists(INDICES, min_size=2, max_size=3).map(lambda n: ast.ComposedAxis(HERE, tuple(n))),
    ),
    max_size=3,
).map(tuple)

numbers = st.one_of(
    st.integers(0, 10**9).map(lambda v: ast.Number(HERE, v, str(v))),
    NUMBER_TEXTS.map(lambda text: ast.Number(HERE, float(text), text)),
)
leaves = st.one_of(
    numbers,
    NAMES.map(lambda name: ast.Name(HERE, name)),
    st.builds(lambda name, a: ast.Access(HERE, name, a), NAMES, axes),
)


def _compound(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    along_indices = st.lists(INDICES.map(lambda n: ast.IndexAxis(HERE, n)), min_size=1, max_size=2)
    return st.one_of(
        inner.map(lambda operand: ast.Unary(HERE, "-", operand)),
        st.builds(lambda op, a, b: ast.Binary(HERE, op, a, b), OPERATORS, inner, inner),
        st.builds(
            lambda f, args: ast.Call(HERE, f, tuple(args)),
            FUNCTIONS,
            st.lists(inner, min_size=1, max_size=3),
        ),
        st.builds(
            lambda f, idx, operand: ast.Along(HERE, f, tuple(idx), operand),
            ALONG,
            along_indices,
            inner,
        ),
    )


expressions = st.recursive(leaves, _compound, max_leaves=12)
statements = st.builds(
    lambda target, target_axes, value: ast.Assign(HERE, target, target_axes, value),
    NAMES,
    st.one_of(st.none(), axes),
    expressions,
)
returns = st.one_of(
    st.none(),
    st.lists(NAMES, min_size=1, max_size=3).map(
        lambda names: ast.Return(HERE, tuple(ast.Name(HERE, n) for n in names))
    ),
)
programs = st.builds(
    lambda body, ret: ast.Program(tuple(body), ret, ""),
    st.lists(statements, min_size=1, max_size=3),
    returns,
)
