"""Every error of CONTRACT.md §2/§4 and docs/api-notes.md: its class, its words and its place.

Each error is a `tc.TensorcError` whose `.message` is one sentence without a location, whose
`.line` / `.column` are 1-based, and whose `str()` is the message followed by a caret excerpt:

    index 'j' has size 3 in A but size 4 in B
      --> line 1, column 21
      |
    1 | C[i, k] = A[i, j] * B[j, k]
      |                     ^^^^^^^
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tensorc as tc

MATMUL = "C[i, k] = A[i, j] * B[j, k]"
COL_A = MATMUL.index("A[i, j]") + 1  # 11
COL_B = MATMUL.index("B[j, k]") + 1  # 21

# Words of lark's own error reports that must never reach a tensorc message.
LARK_LEAKS = re.compile(
    r"Token\(|Tree\(|\bLSQB\b|\bRSQB\b|\bLPAR\b|\bRPAR\b|\$END|__ANON|Expected one of|"
    r"UnexpectedToken|UnexpectedCharacters|UnexpectedEOF|\blark\b",
    re.IGNORECASE,
)


# ----------------------------------------------------------------------------- helpers


def col(source_line: str, fragment: str) -> int:
    """The 1-based column where `fragment` first starts in `source_line`."""
    return source_line.index(fragment) + 1


def caret_columns(err: tc.TensorcError) -> list[int]:
    """The 1-based source columns that carry a `^` in the excerpt of `str(err)`."""
    lines = str(err).splitlines()
    for n, text in enumerate(lines[:-1]):
        if text.lstrip().startswith(f"{err.line} | "):
            offset = text.index(" | ") + 3
            caret = lines[n + 1]
            return [k - offset + 1 for k, ch in enumerate(caret) if ch == "^"]
    raise AssertionError(f"no excerpt of line {err.line} in:\n{err}")


def check_rendering(err: tc.TensorcError, source: str) -> None:
    """`str(err)` is the message, the location, the source line and a caret at `err.column`."""
    assert isinstance(err.message, str) and err.message
    assert "\n" not in err.message, "the message is one sentence with no excerpt"
    assert not re.search(r"line \d", err.message), "the message carries no location"
    text = str(err)
    assert text.splitlines()[0] == err.message
    assert isinstance(err.line, int) and err.line >= 1
    assert isinstance(err.column, int) and err.column >= 1
    assert f"--> line {err.line}, column {err.column}" in text
    source_line = re.split(r"\r?\n", source)[err.line - 1]
    assert f"{err.line} | {source_line.rstrip()}" in text
    carets = caret_columns(err)
    assert carets, f"no caret under line {err.line}:\n{text}"
    assert carets[0] == err.column, f"caret starts at {carets[0]}, column is {err.column}"
    assert carets == list(range(carets[0], carets[0] + len(carets))), "carets are contiguous"
    assert "Traceback" not in text


def call_error(src: str, *args, backend: str | None = None, **kwargs) -> tc.TensorcError:
    """Compile `src` (which must succeed) and return the error its call raises."""
    f = tc.compile(src, backend=backend)
    with pytest.raises(tc.TensorcError) as info:
        f(*args, **kwargs)
    return info.value


def compile_error(src: str, cls: type[tc.TensorcError] = tc.TensorcError) -> tc.TensorcError:
    with pytest.raises(cls) as info:
        tc.compile(src)
    return info.value


def ones(*shape: int) -> np.ndarray:
    return np.ones(shape)


def to_backend(backend: str | None, x: np.ndarray):
    if backend == "torch":
        torch = pytest.importorskip("torch")
        return torch.from_numpy(x)
    if backend == "jax":
        jnp = pytest.importorskip("jax.numpy")
        return jnp.asarray(x)
    return x


# ----------------------------------------------------------------------------- hierarchy


def test_error_classes():
    assert issubclass(tc.ParseError, tc.TensorcError)
    assert issubclass(tc.ShapeError, tc.TensorcError)
    assert issubclass(tc.ShapeError, ValueError)
    assert issubclass(tc.TensorcError, Exception)


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("backend", [None, "numpy", "torch", "jax"])
def test_size_mismatch_names_index_tensors_and_sizes(backend):
    a = to_backend(backend, ones(2, 3))
    b = to_backend(backend, ones(4, 5))
    err = call_error(MATMUL, a, b, backend=backend)
    assert isinstance(err, tc.ShapeError)
    assert isinstance(err, ValueError)
    assert err.message == "index 'j' has size 3 in A but size 4 in B"
    assert (err.line, err.column) == (1, COL_B)
    check_rendering(err, MATMUL)
    # The caret underlines the whole second access, B[j, k].
    assert caret_columns(err) == list(range(COL_B, COL_B + len("B[j, k]")))


def test_size_mismatch_exact_rendering():
    err = call_error(MATMUL, ones(2, 3), ones(4, 5))
    expected = (
        "index 'j' has size 3 in A but size 4 in B\n"
        f"  --> line 1, column {COL_B}\n"
        "  |\n"
        "1 | C[i, k] = A[i, j] * B[j, k]\n"
        "  |                     ^^^^^^^"
    )
    assert str(err) == expected


def test_size_mismatch_by_name_call():
    err = call_error(MATMUL, A=ones(2, 3), B=ones(4, 5))
    assert err.message == "index 'j' has size 3 in A but size 4 in B"


def test_size_mismatch_reports_the_right_line_in_a_multiline_program():
    src = "# scale, then multiply\nT[i, j] = 2 * A[i, j]\n\nC[i, k] = T[i, j] * B[j, k]\n"
    err = call_error(src, ones(2, 3), ones(4, 5))
    assert isinstance(err, tc.ShapeError)
    assert re.fullmatch(r"index 'j' has size 3 in (A|T) but size 4 in B", err.message)
    assert err.line == 4
    assert err.column == col("C[i, k] = T[i, j] * B[j, k]", "B[j, k]")
    check_rendering(err, src)


def test_size_mismatch_within_one_tensor():
    err = call_error("d[i] = A[i, i]", ones(2, 3))
    assert isinstance(err, tc.ShapeError)
    assert err.message == "index 'i' has size 2 in A but size 3 in A"
    assert err.line == 1
    check_rendering(err, "d[i] = A[i, i]")


def test_size_mismatch_with_a_broadcast_operand():
    src = "R[i, j] = X[i, j] + b[j]"
    err = call_error(src, ones(2, 3), ones(4))
    assert isinstance(err, tc.ShapeError)
    assert err.message == "index 'j' has size 3 in X but size 4 in b"
    assert (err.line, err.column) == (1, col(src, "b[j]"))
    check_rendering(err, src)


def test_keyword_size_that_conflicts():
    src = "Z[h, d] = Y[h, d]"
    err = call_error(src, ones(3, 4), h=8)
    assert isinstance(err, tc.ShapeError)
    assert err.message == "index 'h' has size 8 from the keyword h=8 but size 3 in Y"
    assert (err.line, err.column) == (1, col(src, "Y[h, d]"))
    check_rendering(err, src)


def test_keyword_sizes_that_do_not_multiply_to_the_composed_axis():
    src = "X[b, h, n, d] = Y[b, n, (h d)]"
    with pytest.raises(tc.ShapeError):
        tc.compile(src)(ones(2, 5, 12), h=3, d=5)


# ----------------------------------------------------------------------------- ranks


def test_rank_mismatch():
    err = call_error(MATMUL, ones(2, 3, 4), ones(4, 5))
    assert isinstance(err, tc.ShapeError)
    assert err.message == "A is indexed with 2 axes but the argument has 3 dimensions"
    assert (err.line, err.column) == (1, COL_A)
    check_rendering(err, MATMUL)


def test_rank_mismatch_of_the_second_input():
    err = call_error(MATMUL, ones(2, 3), ones(3))
    assert re.fullmatch(r"B is indexed with 2 axes but the argument has 1 dimensions?", err.message)
    assert (err.line, err.column) == (1, COL_B)


def test_ellipsis_needs_at_least_the_named_axes():
    src = "C[..., i, k] = A[..., i, j] * B[..., j, k]"
    with pytest.raises(tc.ShapeError):
        tc.compile(src)(ones(3), ones(3, 4))


def test_array_for_a_scalar_input_is_an_error():
    with pytest.raises(tc.TensorcError):
        tc.compile("Y[i] = alpha * X[i]")(ones(3), ones(3))


# ----------------------------------------------------------------------------- inference


def test_split_without_keyword_cannot_be_inferred():
    src = "X[b, h, n, d] = Y[b, n, (h d)]"
    err = call_error(src, ones(2, 5, 12))
    assert isinstance(err, tc.ShapeError)
    m = re.fullmatch(
        r"the size of index '(h|d)' cannot be inferred: pass it by keyword, e\.g\. (h|d)=\.\.\.",
        err.message,
    )
    assert m and m.group(1) == m.group(2), err.message
    assert err.line == 1
    check_rendering(err, src)


def test_split_with_either_keyword_works():
    src = "X[b, h, n, d] = Y[b, n, (h d)]"
    f = tc.compile(src, backend="numpy")
    y = np.arange(2 * 5 * 12.0).reshape(2, 5, 12)
    expected = y.reshape(2, 5, 3, 4).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(f(y, h=3), expected)
    np.testing.assert_array_equal(f(y, d=4), expected)
    np.testing.assert_array_equal(f(Y=y, h=3, d=4), expected)


def test_index_only_on_the_left_cannot_be_inferred():
    src = "Z[i, j] = x[i]"
    err = call_error(src, ones(3))
    assert err.message == (
        "the size of index 'j' cannot be inferred: pass it by keyword, e.g. j=..."
    )
    z = tc.compile(src, backend="numpy")(np.arange(3.0), j=2)
    np.testing.assert_array_equal(z, np.broadcast_to(np.arange(3.0)[:, None], (3, 2)))


def test_composed_axis_not_divisible():
    src = "X[b, h, n, d] = Y[b, n, (h d)]"
    err = call_error(src, ones(2, 5, 10), h=3)
    assert isinstance(err, tc.ShapeError)
    assert err.message == "axis (h d) of Y has size 10, which is not divisible by h=3"
    assert err.line == 1
    check_rendering(err, src)


def test_unknown_size_keyword_is_an_error():
    with pytest.raises(tc.TensorcError):
        tc.compile("Z[h, d] = Y[h, d]")(ones(3, 4), q=3)


# ----------------------------------------------------------------------------- reductions


@pytest.mark.parametrize(
    "src",
    [
        "y[i] = exp(A[i, j])",
        "C[i] = A[i, j] + B[i, j]",
        "C[i] = exp(A[i, j] * x[j])",
        "C[i] = A[i, j] * x[j] + 1",
        "C[i] = where(A[i, j] > 0, 1, 0)",
        "s = sqrt(x[i])",
    ],
)
def test_unreduced_index_outside_a_product(src):
    err = compile_error(src)
    index = "i" if src.startswith("s =") else "j"
    assert err.message == (
        f"index '{index}' is not on the left-hand side and must be reduced: write sum[{index}](...)"
    )
    assert err.line == 1
    rhs_start = src.index("=") + 3
    assert rhs_start <= err.column <= len(src), "the caret points into the right-hand side"
    check_rendering(err, src)


@pytest.mark.parametrize(
    "src",
    [
        "C[i] = A[i, j] * x[j]",
        "C[i] = 2 * A[i, j] * x[j] / 3",
        "C[i] = alpha * A[i, j] * x[j]",
        "C[i] = -A[i, j] * x[j]",
        "C[i] = sum[j](exp(A[i, j]))",
    ],
)
def test_einstein_products_are_not_errors(src):
    tc.compile(src)


@pytest.mark.parametrize(
    ("src", "index"),
    [("C[i] = A[i, j] / x[j]", "j"), ("s = 1 / x[i]", "i"), ("s = 0 / A[i, j]", "i|j")],
)
def test_index_only_in_a_divisor_must_be_reduced(src, index):
    err = compile_error(src)
    assert re.search(rf"index '({index})'", err.message), err.message
    assert "sum[" in err.message
    check_rendering(err, src)


def test_unreduced_index_on_a_later_line():
    src = "T[i, j] = A[i, j]\nC[i] = T[i, j] + 1\n"
    err = compile_error(src)
    assert "index 'j'" in err.message and "sum[j](...)" in err.message
    assert err.line == 2
    check_rendering(err, src)


def test_excerpt_counts_lines_as_the_language_does():
    # U+2028 and form feeds are not line breaks of the language (nor of Python source).
    src = "C[i] = A[i]  # note\u2028more\x0cnote\nD[i] = C[i] $ 1"
    err = compile_error(src, tc.ParseError)
    assert (err.line, err.column) == (2, 13)
    check_rendering(err, src)


def test_softmax_with_no_index_is_an_error():
    with pytest.raises(tc.TensorcError):
        tc.compile("Z[i, j] = softmax[](S[i, j])")


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("src", "name", "line"),
    [
        ("C[i] = A[i, j] * j[i]", "j", 1),
        ("C[i] = A[i, C]", "C", 1),
        ("C[i, k] = A[i, j] * B[j, k]\nD[i] = C[i, k] * k[i]", "k", 2),
        ("T[i] = x[i]\nU[T] = y[T]", "T", 2),
    ],
)
def test_name_used_as_index_and_tensor(src, name, line):
    err = compile_error(src)
    assert err.message == f"'{name}' is used both as an index and as a tensor"
    assert err.line == line
    check_rendering(err, src)


@pytest.mark.parametrize(
    ("src", "name"),
    [
        ("y[i] = foo(x[i])", "foo"),
        ("y[i] = exp(x[i]) + Sqrt(x[i])", "Sqrt"),
        ("y[i] = __import__(x[i])", "__import__"),
        ("y[i] = eval(x[i])", "eval"),
        ("y[i] = print(x[i])", "print"),
    ],
)
def test_unknown_function(src, name):
    err = compile_error(src)
    assert err.message == f"unknown function '{name}'"
    assert err.line == 1
    assert err.column == col(src, f"{name}(")
    check_rendering(err, src)


def test_unknown_reduction():
    src = "m[j] = summ[i](A[i, j])"
    err = compile_error(src)
    assert "summ" in err.message
    assert err.line == 1


def test_unknown_function_on_a_later_line():
    src = "T[i] = exp(x[i])\n\nU[i] = foo(T[i])"
    err = compile_error(src)
    assert err.message == "unknown function 'foo'"
    assert (err.line, err.column) == (3, 8)
    check_rendering(err, src)


# ----------------------------------------------------------------------------- arguments


def test_missing_argument():
    f = tc.compile(MATMUL)
    for call in (lambda: f(ones(2, 3)), lambda: f(A=ones(2, 3))):
        with pytest.raises(tc.TensorcError) as info:
            call()
        assert info.value.message == "missing argument for input 'B'"


def test_missing_first_argument_by_name():
    with pytest.raises(tc.TensorcError) as info:
        tc.compile(MATMUL)(B=ones(3, 4))
    assert info.value.message == "missing argument for input 'A'"


def test_too_many_arguments():
    with pytest.raises(tc.TensorcError) as info:
        tc.compile(MATMUL)(ones(2, 3), ones(3, 4), ones(4, 5))
    assert info.value.message == "expected 2 inputs (A, B) but got 3 arguments"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda f: f(ones(2, 3), ones(3, 4), Q=ones(2)), id="unknown-keyword"),
        pytest.param(lambda f: f(ones(2, 3), A=ones(2, 3), B=ones(3, 4)), id="given-twice"),
        pytest.param(lambda f: f(None, ones(3, 4)), id="none"),
        pytest.param(lambda f: f("abc", ones(3, 4)), id="string"),
        pytest.param(lambda f: f(ones(2, 3), ones(3, 4), i=-1), id="negative-size"),
        pytest.param(lambda f: f(ones(2, 3), ones(3, 4), i="two"), id="size-not-int"),
    ],
)
def test_bad_call_arguments_are_tensorc_errors(call):
    with pytest.raises(tc.TensorcError):
        call(tc.compile(MATMUL))


def test_unknown_backend_is_a_tensorc_error():
    with pytest.raises(tc.TensorcError):
        tc.compile(MATMUL, backend="tensorflow")


# ----------------------------------------------------------------------------- parse errors


PARSE_ERRORS = [
    # (source, line, acceptable columns (None: any), id)
    ("C[i, k = A[i, j] * B[j, k]", 1, {7, 8}, "missing-]"),
    # an axis may be an expression (`A[i, ids[j]]`), so the missing ']' shows at the end
    ("C[i, k] = A[i, j * B[j, k]", 1, {17, 18, 26}, "missing-]-rhs"),
    ("C[i, k] A[i, j] * B[j, k]", 1, {8, 9}, "missing-="),
    ("C[i, k] = ", 1, None, "nothing-after-="),
    ("C[i, k] = A[i, j] *", 1, None, "dangling-operator"),
    ("y[i] = exp((x[i])", 1, None, "unclosed-("),
    ("y[i] = exp(x[i]))", 1, {17}, "extra-)"),
    ("C[i, k] = A[i, j] * B[j, k]]", 1, {28}, "extra-]"),
    ("C[i] = A[i] $ B[i]", 1, {13}, "dollar"),
    ("C[i] = A[i] ∑ B[i]", 1, {13}, "unicode-char"),
    ("C[i] = A[i] @ B[i]", 1, {13}, "at-sign"),
    ("C[i k] = A[i, k]", 1, {5}, "no-comma"),
    ("C[i] = A[i, , j]", 1, {13}, "empty-index"),
    ("C[i] = A[, i]", 1, {10}, "leading-comma"),
    ("C[i] = A[,]", 1, {10}, "only-comma"),
    ("= A[i]", 1, {1}, "no-target"),
    ("C[i] == A[i]", 1, {6, 7}, "double-="),
    ("C[i] = A[i] = B[i]", 1, {13}, "chained-="),
    ("C[i] = 'A'[i]", 1, {8}, "quote"),
    ("import os", 1, None, "python-import"),
    ("def f(x): return x", 1, None, "python-def"),
    ("return C\nC[i] = A[i]", None, None, "return-not-last"),
    ("T[i] = A[i]\nreturn T\nU[i] = T[i]", None, None, "return-in-middle"),
    ("T[i, j] = A[i, j]\n\n# comment\nC[i, k] = T[i, j] * B[j k]\n", 4, {25}, "line-4"),
    ("T[i] = A[i]\nU[i] = (T[i] + 1\nV[i] = U[i]\n", None, None, "unclosed-(-multiline"),
    ("C[i] = A[i]\n  $\n", 2, {3}, "dollar-line-2"),
    ("T[i] = A[i]\r\nU[i] = T[i] $ 2\r\n", 2, {13}, "crlf"),
]


@pytest.mark.parametrize(
    ("src", "line", "columns"), [p[:3] for p in PARSE_ERRORS], ids=[p[3] for p in PARSE_ERRORS]
)
def test_parse_errors(src, line, columns):
    err = compile_error(src, tc.ParseError)
    assert isinstance(err, tc.TensorcError)
    assert not isinstance(err, tc.ShapeError)
    if line is not None:
        assert err.line == line, str(err)
    else:
        assert err.line is not None and 1 <= err.line <= src.count("\n") + 1
    if columns is not None:
        assert err.column in columns, str(err)
    assert re.match(r"[A-Za-z`'\"]", err.message), "the message begins with a plain sentence"
    assert not LARK_LEAKS.search(str(err)), f"lark internals leak into:\n{err}"
    assert "\r" not in str(err)
    # The excerpt shows the offending line with a caret (at end of input, just past it).
    text = str(err)
    assert f"--> line {err.line}, column {err.column}" in text
    assert "^" in text.splitlines()[-1]


@pytest.mark.parametrize("src", ["C[i, k = A[i, j] * B[j, k]", "C[i] = A[i] + B[i"])
def test_missing_bracket_is_named(src):
    err = compile_error(src, tc.ParseError)
    assert "']'" in err.message or "'='" in err.message, err.message


@pytest.mark.parametrize("src", ["C[i, k] = ", "C[i] = A[i] +", "y[i] = exp((x[i])"])
def test_unexpected_end_of_input(src):
    err = compile_error(src, tc.ParseError)
    assert err.line == 1
    assert err.column is not None and err.column >= src.index("=") + 1
    assert "end" in err.message or "missing" in err.message, err.message


def test_return_must_be_last_names_the_return_line():
    src = "T[i] = A[i]\nreturn T\nU[i] = T[i]"
    err = compile_error(src, tc.ParseError)
    assert err.line in (2, 3)
    assert "return" in str(err)


@pytest.mark.parametrize("src", ["", "\n\n", "# only a comment\n", ";"])
def test_empty_program_is_an_error(src):
    with pytest.raises(tc.TensorcError):
        tc.compile(src)


# ----------------------------------------------------------------------------- einsum


def test_einsum_operand_rank():
    with pytest.raises(tc.TensorcError) as info:
        tc.einsum("ijk->i", ones(2, 3))
    assert info.value.message == "operand 0 has 2 dimensions but the subscripts 'ijk' name 3"


def test_einsum_operand_count():
    with pytest.raises(tc.TensorcError) as info:
        tc.einsum("ij,jk,kl->il", ones(2, 3), ones(3, 4))
    assert info.value.message == "einsum got 2 operands but the subscripts name 3"


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [
        ("ij,jk->ik", [(2, 3), (4, 5)]),
        ("ij->ik", [(2, 3)]),
        ("ij->ii", [(2, 3)]),
        ("i$j->i", [(2, 3)]),
        ("ij->", [(2, 3), (2, 3)]),
        ("ii->i", [(2, 3)]),
        ("ij-<i", [(2, 3)]),
    ],
)
def test_einsum_errors_are_tensorc_errors(spec, shapes):
    with pytest.raises(tc.TensorcError):
        tc.einsum(spec, *[ones(*s) for s in shapes])


def test_einsum_size_mismatch_is_a_shape_error():
    with pytest.raises(tc.ShapeError):
        tc.einsum("ij,jk->ik", ones(2, 3), ones(4, 5))
