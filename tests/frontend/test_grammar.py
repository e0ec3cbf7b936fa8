"""The grammar: it builds as a conflict-free LALR grammar, and the language's surface forms parse.

Apart from building `tensorc.lark` itself, these tests go through the public API: a program
that parses is one that `tc.compile` accepts (and, where cheap, computes the right numbers).
"""

from __future__ import annotations

import re
from importlib.resources import files

import numpy as np
import pytest
from lark import Lark

import tensorc as tc

# CONTRACT.md §2, one statement each.
CONTRACT_EXAMPLES = [
    "C[i, k] = A[i, j] * B[j, k]",
    "y[i]    = A[i, j] * x[j]",
    "s       = x[i] * y[i]",
    "D[b, i, j] = x[b, i] * y[b, j]",
    "T[j, i] = A[i, j]",
    "d[i]    = A[i, i]",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    "P[i, j] = A[i, j] / sum[k](A[i, k])",
    "m[j]    = mean[i](A[i, j])",
    "n       = sqrt(sum[i, j](A[i, j] ** 2))",
    "Z[i, j] = softmax[j](S[i, j])",
    "R[i, j] = relu(X[i, j] + b[j])",
    "Y[i]    = alpha * X[i]",
    "M[i, j] = where(j <= i, S[i, j], -inf)",
    "Y[b, n, (h d)] = X[b, h, n, d]",
    "X[b, h, n, d] = Y[b, n, (h d)]",
]

# The contract's code block verbatim, comments and all: one syntactically valid text.
CONTRACT_BLOCK = """\
C[i, k] = A[i, j] * B[j, k]                 # Einstein rule: j is summed
y[i]    = A[i, j] * x[j]                    # matrix-vector
s       = x[i] * y[i]                       # scalar result (no index list)
D[b, i, j] = x[b, i] * y[b, j]              # batched outer product
T[j, i] = A[i, j]                           # transpose
d[i]    = A[i, i]                           # repeated index: diagonal
C[..., i, k] = A[..., i, j] * B[..., j, k]  # ellipsis: broadcast batch dims (numpy rules)
P[i, j] = A[i, j] / sum[k](A[i, k])         # explicit reduction; broadcasting of i
m[j]    = mean[i](A[i, j])                  # reductions: sum prod max min mean
n       = sqrt(sum[i, j](A[i, j] ** 2))     # several reduced indices at once
Z[i, j] = softmax[j](S[i, j])               # normalisers along an index: softmax logsumexp cumsum
R[i, j] = relu(X[i, j] + b[j])              # elementwise: + - * / ** unary -, exp log sqrt abs
                                            # tanh sigmoid relu, max(a, b) min(a, b) where(c, a, b),
                                            # comparisons < <= > >= == !=
Y[i]    = alpha * X[i]                      # a bare name that is not an index is a scalar input
M[i, j] = where(j <= i, S[i, j], -inf)      # a bare index name is that index's value; constants: numbers, inf, pi
Y[b, n, (h d)] = X[b, h, n, d]              # composed axes (as in einops): merge h and d
X[b, h, n, d] = Y[b, n, (h d)]              # split; a size that cannot be inferred is passed by keyword: f(y, h=8)
"""

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 5))


def grammar_text() -> str:
    return files("tensorc.grammar").joinpath("tensorc.lark").read_text(encoding="utf-8")


def start_symbols(text: str) -> list[str]:
    """The grammar's start rules: `start`, or the `program` (and `einsum`) rules it defines."""
    defined = set(re.findall(r"^[?!]?([a-z_][a-z0-9_]*)\s*:", text, re.MULTILINE))
    if "start" in defined:
        return ["start"]
    starts = [name for name in ("program", "einsum") if name in defined]
    assert starts, f"no start rule among {sorted(defined)}"
    return starts


def matmul_result(src: str) -> np.ndarray:
    return tc.compile(src, backend="numpy")(A, B)


# ----------------------------------------------------------------------------- the file


def test_grammar_ships_inside_the_package():
    assert files("tensorc.grammar").joinpath("tensorc.lark").is_file()


def test_grammar_builds_with_strict_lalr():
    text = grammar_text()
    parser = Lark(text, parser="lalr", strict=True, start=start_symbols(text))
    assert parser is not None


def test_grammar_builds_with_positions():
    text = grammar_text()
    Lark(text, parser="lalr", strict=True, propagate_positions=True, start=start_symbols(text))


def test_grammar_alone_parses_the_contract_block():
    text = grammar_text()
    starts = start_symbols(text)
    parser = Lark(text, parser="lalr", start=starts)
    parser.parse(CONTRACT_BLOCK, start=starts[0])


# ----------------------------------------------------------------------------- contract forms


@pytest.mark.parametrize("src", CONTRACT_EXAMPLES)
def test_contract_examples_compile(src):
    f = tc.compile(src)
    assert isinstance(f.source, str) and f.source


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_contract_examples_compile_for_every_backend(backend):
    for src in CONTRACT_EXAMPLES:
        assert tc.compile(src, backend=backend).source


def test_return_tuple():
    f = tc.compile("T[j, i] = A[i, j]\nU[i] = sum[j](A[i, j])\nreturn T, U", backend="numpy")
    t, u = f(A)
    np.testing.assert_allclose(t, A.T)
    np.testing.assert_allclose(u, A.sum(axis=1))


# ----------------------------------------------------------------------------- layout


@pytest.mark.parametrize(
    "src",
    [
        "C[i, k] = A[i, j] * B[j, k]",
        "C[i,k]=A[i,j]*B[j,k]",
        "C[ i , k ] = A[ i , j ]*B[ j , k ]",
        "C[i, k] = A[i, j] * B[j, k]\n",
        "C[i, k] = A[i, j] * B[j, k]\n\n\n",
        "\n\n   \nC[i, k] = A[i, j] * B[j, k]",
        "\t C[i, k] = A[i, j] * B[j, k]   ",
        "C[i, k] = A[i, j] * B[j, k]  # trailing comment",
        "# leading comment\nC[i, k] = A[i, j] * B[j, k]",
        "C[i, k] = A[i, j] * B[j, k]\n# last line is a comment",
        "C[i, k] = A[i, j] * B[j, k]\n# last line is a comment without newline\n#",
        "#!\n# x = y[i] ] ( $ is only a comment\nC[i, k] = A[i, j] * B[j, k] # ]]]\n",
        "C[i, k] = A[i, j] * B[j, k]\r\n",
        "\r\n# comment\r\n\r\nC[i, k] = A[i, j] * B[j, k]\r\n",
        "C[i,\tk] =\tA[i, j]\t*\tB[j, k]",
    ],
    ids=repr,
)
def test_whitespace_comments_and_line_endings(src):
    np.testing.assert_allclose(matmul_result(src), A @ B)


def test_indented_program_in_a_triple_quoted_string():
    src = """
        T[i, j] = 2 * A[i, j]
        C[i, k] = T[i, j] * B[j, k]
    """
    np.testing.assert_allclose(matmul_result(src), 2 * A @ B)


@pytest.mark.parametrize("sep", ["\n", ";", "; ", " ; ", "\r\n", "\n\n", ";\n", "\n;", "  # c\n"])
def test_statement_separators(sep):
    src = f"T[i, j] = 2 * A[i, j]{sep}C[i, k] = T[i, j] * B[j, k]"
    np.testing.assert_allclose(matmul_result(src), 2 * A @ B)


def test_crlf_program_equals_lf_program():
    lf = "# scale\nT[i, j] = A[i, j] / 2\n\nC[i, k] = T[i, j] * B[j, k]\nreturn C, T\n"
    crlf = lf.replace("\n", "\r\n")
    c1, t1 = tc.compile(lf, backend="numpy")(A, B)
    c2, t2 = tc.compile(crlf, backend="numpy")(A, B)
    np.testing.assert_allclose(c1, c2)
    np.testing.assert_allclose(t1, t2)


def test_three_statements_on_one_line():
    src = "T[i, j] = A[i, j]; U[i, j] = T[i, j] + 1; C[i, k] = U[i, j] * B[j, k]"
    np.testing.assert_allclose(matmul_result(src), (A + 1) @ B)


def test_comment_does_not_swallow_the_next_line():
    src = "C[i, k] = A[i, j] * B[j, k] # comment\nC2[i, k] = 2 * C[i, k]"
    np.testing.assert_allclose(matmul_result(src), 2 * (A @ B))


# ----------------------------------------------------------------------------- tokens


def test_names_with_underscores_digits_and_capitals():
    f = tc.compile("out_2[row_1, Col2] = W_0[row_1, k9] * h__x[k9, Col2]", backend="numpy")
    assert tuple(f.inputs) == ("W_0", "h__x")
    np.testing.assert_allclose(f(A, B), A @ B)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("3", 3.0), ("2.5", 2.5), ("1e-3", 1e-3), ("2E2", 200.0), ("0.5", 0.5), ("10.", 10.0)],
)
def test_number_literals(literal, value):
    x = np.arange(4.0)
    np.testing.assert_allclose(
        tc.compile(f"y[i] = {literal} * x[i]", backend="numpy")(x), value * x
    )


def test_constants_inf_and_pi():
    x = np.arange(3.0)
    f = tc.compile("y[i] = min(x[i] * pi, inf)", backend="numpy")
    np.testing.assert_allclose(f(x), x * np.pi)


def test_ellipsis_alone():
    x = RNG.standard_normal((2, 3, 4))
    np.testing.assert_allclose(tc.compile("y[...] = 2 * x[...]", backend="numpy")(x), 2 * x)


def test_composed_axes_round_trip():
    x = RNG.standard_normal((2, 3, 5, 4))  # b h n d
    merged = tc.compile("Y[b, n, (h d)] = X[b, h, n, d]", backend="numpy")(x)
    np.testing.assert_allclose(merged, x.transpose(0, 2, 1, 3).reshape(2, 5, 12))
    split = tc.compile("X[b, h, n, d] = Y[b, n, (h d)]", backend="numpy")(merged, h=3)
    np.testing.assert_allclose(split, x)


# ----------------------------------------------------------------------------- precedence


X = np.array([-2.0, -0.5, 0.0, 1.5, 3.0])
Y = np.array([1.0, 2.0, -1.0, 0.5, 2.0])


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("-x[i] ** 2", -(X**2)),
        ("2 ** 3 ** 2 * x[i]", 2 ** (3**2) * X),
        ("x[i] - y[i] - 1", X - Y - 1),
        ("x[i] / y[i] / 2", X / Y / 2),
        ("x[i] + y[i] * 2", X + Y * 2),
        ("(x[i] + y[i]) * 2", (X + Y) * 2),
        ("x[i] * -y[i]", X * -Y),
        ("x[i] ** -1", X**-1.0),
        ("- - x[i]", X),
        ("+x[i]", X),
        ("where(x[i] + 1 > y[i] * 2, x[i], y[i])", np.where(X + 1 > Y * 2, X, Y)),
        ("where(x[i] == y[i] - 1, 1, 0)", np.where(X == Y - 1, 1, 0)),
        ("max(x[i], y[i]) - min(x[i], y[i])", np.abs(X - Y)),
    ],
)
def test_operator_precedence(expr, expected):
    f = tc.compile(f"z[i] = {expr}", backend="numpy")
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(f(X, Y) if len(f.inputs) == 2 else f(X), expected)
