"""Every row of the error table of docs/language.md: its words, its class and its place.

`test_errors.py` covers most messages in depth; this file checks the table itself, row by row,
so that each documented message has a test of its exact text, and that the table and these
rows name the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorc as tc

LANGUAGE_PAGE = Path(__file__).resolve().parents[2] / "docs" / "language.md"


def ones(*shape: int) -> np.ndarray:
    return np.ones(shape)


def compiling(src: str) -> Callable[[], Any]:
    return lambda: tc.compile(src)


def calling(src: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: tc.compile(src)(*args, **kwargs)


def mixing_numpy_and_torch() -> Any:
    torch = pytest.importorskip("torch")
    return tc.compile("C[i, k] = A[i, j] * B[j, k]")(ones(2, 3), torch.ones(3, 4))


@dataclass(frozen=True)
class Row:
    documented: str  # the message as the table writes it
    cls: type[tc.TensorcError]
    trigger: Callable[[], Any]
    message: str  # the exact message this trigger gives ("..." at the end: a prefix)
    place: tuple[int, int] | None  # (line, column) of the caret, None for call arguments


ROWS = [
    Row(
        "unexpected '=': missing ']' to close the index list",
        tc.ParseError,
        compiling("C[i, k = A[i, j] * B[j, k]"),
        "unexpected '=': missing ']' to close the index list",
        (1, 8),
    ),
    Row(
        "unexpected character '$'",
        tc.ParseError,
        compiling("C[i] = A[i] $ B[i]"),
        "unexpected character '$'",
        (1, 13),
    ),
    Row(
        "unexpected end of input",
        tc.ParseError,
        compiling("C[i] = A[i] +"),
        "unexpected end of input...",
        (1, 13),
    ),
    Row(
        "`return` must be the last statement",
        tc.ParseError,
        compiling("T[i] = A[i]\nreturn T\nU[i] = T[i]"),
        "`return` must be the last statement",
        (2, 1),
    ),
    Row(
        "index 'j' has size 3 in A but size 4 in B",
        tc.ShapeError,
        calling("C[i, k] = A[i, j] * B[j, k]", ones(2, 3), ones(4, 5)),
        "index 'j' has size 3 in A but size 4 in B",
        (1, 21),
    ),
    Row(
        "index 'h' has size 8 from the keyword h=8 but size 3 in Y",
        tc.ShapeError,
        calling("Z[h, d] = Y[h, d]", ones(3, 4), h=8),
        "index 'h' has size 8 from the keyword h=8 but size 3 in Y",
        (1, 11),
    ),
    Row(
        "index 'j' is not on the left-hand side and must be reduced: write sum[j](...)",
        tc.ShapeError,
        compiling("y[i] = A[i, j] + 1"),
        "index 'j' is not on the left-hand side and must be reduced: write sum[j](...)",
        None,
    ),
    Row(
        "A is indexed with 2 axes but the argument has 3 dimensions",
        tc.ShapeError,
        calling("C[i, k] = A[i, j] * B[j, k]", ones(2, 3, 4), ones(4, 5)),
        "A is indexed with 2 axes but the argument has 3 dimensions",
        (1, 11),
    ),
    Row(
        "A is indexed with 3 axes here but with 2 before",
        tc.ShapeError,
        compiling("C[i, j] = A[i, j] + sum[k](A[i, j, k])"),
        "A is indexed with 3 axes here but with 2 before",
        (1, 28),
    ),
    Row(
        "the size of index 'd' cannot be inferred: pass it by keyword, e.g. d=...",
        tc.ShapeError,
        calling("Z[i, d] = x[i]", ones(3)),
        "the size of index 'd' cannot be inferred: pass it by keyword, e.g. d=...",
        None,
    ),
    Row(
        "axis (h d) of Y has size 10, which is not divisible by h=3",
        tc.ShapeError,
        calling("X[b, h, n, d] = Y[b, n, (h d)]", ones(2, 5, 10), h=3),
        "axis (h d) of Y has size 10, which is not divisible by h=3",
        (1, 17),
    ),
    Row(
        "axis (h d) of Y has size 10 but h=2 * d=3 is 6",
        tc.ShapeError,
        calling("X[b, h, n, d] = Y[b, n, (h d)]", ones(2, 5, 10), h=2, d=3),
        "axis (h d) of Y has size 10 but h=2 * d=3 is 6",
        (1, 17),
    ),
    Row(
        "the '...' dimensions (2,) of A and (3,) of B do not broadcast",
        tc.ShapeError,
        calling("C[..., i] = A[..., i] + B[..., i]", ones(2, 3), ones(3, 3)),
        "the '...' dimensions (2,) of A and (3,) of B do not broadcast",
        (1, 25),
    ),
    Row(
        "'alpha' is used as a scalar but the argument has shape (3,)",
        tc.ShapeError,
        calling("Y[i] = alpha * X[i]", ones(3), ones(3)),
        "'alpha' is used as a scalar but the argument has shape (3,)",
        None,
    ),
    Row(
        "'i' is used both as an index and as a tensor",
        tc.ProgramError,
        compiling("C[k] = A[k, i] * i[k]"),
        "'i' is used both as an index and as a tensor",
        None,
    ),
    Row(
        "unknown function 'foo'",
        tc.ProgramError,
        compiling("y[i] = foo(x[i])"),
        "unknown function 'foo'",
        (1, 8),
    ),
    Row(
        "sum needs the index to work along: write sum[i](...)",
        tc.ProgramError,
        compiling("m[j] = sum(A[i, j])"),
        "sum needs the index to work along: write sum[i](...)",
        (1, 8),
    ),
    Row(
        "softmax is along 'k', which its argument does not use",
        tc.ShapeError,
        compiling("Z[i, j] = softmax[k](S[i, j])"),
        "softmax is along 'k', which its argument does not use",
        None,
    ),
    Row(
        "missing argument for input 'B'",
        tc.TensorcError,
        calling("C[i, k] = A[i, j] * B[j, k]", ones(2, 3)),
        "missing argument for input 'B'",
        None,
    ),
    Row(
        "expected 2 inputs (A, B) but got 3 arguments",
        tc.TensorcError,
        calling("C[i, k] = A[i, j] * B[j, k]", ones(2, 3), ones(3, 4), ones(4, 5)),
        "expected 2 inputs (A, B) but got 3 arguments",
        None,
    ),
    Row(
        "unknown keyword argument 'zz': it is not an index",
        tc.ShapeError,
        calling("Z[h, d] = Y[h, d]", ones(3, 4), zz=3),
        "unknown keyword argument 'zz': it is not an index",
        None,
    ),
    Row(
        "the arguments mix numpy and torch arrays: ...",
        tc.TensorcError,
        mixing_numpy_and_torch,
        "the arguments mix numpy and torch arrays: ...",
        None,
    ),
    Row(
        "einsum got 2 operands but the subscripts name 3",
        tc.ShapeError,
        lambda: tc.einsum("ij,jk,kl->il", ones(2, 3), ones(3, 4)),
        "einsum got 2 operands but the subscripts name 3",
        None,
    ),
    Row(
        "an axis is an index, or a position affine in indices with integer coefficients ...",
        tc.ParseError,
        compiling("y[i] = A[i / 2]"),
        "an axis is an index, or a position affine in indices with integer coefficients ...",
        (1, 10),
    ),
    Row(
        "A[... i + 1 ...] reads outside A's axis 0: at i=2 the position is 3, but the axis has "
        "size 3 (positions 0 to 2); to read zeros outside it, write pad(i + 1)",
        tc.ShapeError,
        calling("O[i] = A[i + 1]", ones(3), i=3),
        "A[... i + 1 ...] reads outside A's axis 0: at i=2 the position is 3, but the axis has "
        "size 3 (positions 0 to 2); to read zeros outside it, write pad(i + 1)",
        (1, 8),
    ),
    Row(
        "c is written more than once at some positions (different values of 'i' reach the same "
        "place): write `+=` to add them up",
        tc.ShapeError,
        calling("c[i + j] = a[i] * b[j]", ones(2), ones(3)),
        "c is written more than once at some positions (different values of 'i' reach the same "
        "place): write `+=` to add them up",
        (1, 1),
    ),
    # tensor-valued positions (issue 10)
    Row(
        "a position in W is 7, outside 0 to 4",
        tc.PositionError,
        calling("E[i, d] = W[ids[i], d]", ones(5, 2), np.array([0, 7])),
        "a position in W is 7, outside 0 to 4",
        None,
    ),
    Row(
        "a position in W must be an integer, not float64",
        tc.PositionError,
        calling("E[i, d] = W[ids[i], d]", ones(5, 2), np.array([0.0, 1.0])),
        "a position in W must be an integer, not float64",
        None,
    ),
    Row(
        "a tensor-valued position can only have integers added to it",
        tc.ParseError,
        compiling("E[i, d] = W[ids[i] * 2, d]"),
        "a tensor-valued position can only have integers added to it",
        (1, 13),
    ),
    Row(
        "a tensor-valued position on the left adds up what it writes: use `+=`",
        tc.ProgramError,
        compiling("S[s, d] = 0\nS[seg[e], d] = X[e, d]"),
        "a tensor-valued position on the left adds up what it writes: use `+=`",
        (2, 3),
    ),
    Row(
        "the size of S's axis 0 cannot be inferred from a tensor-valued position: create the "
        "target first, e.g. `S[s, d] = 0`, with its size by keyword",
        tc.ShapeError,
        calling("S[seg[e], d] += X[e, d]", np.array([0, 1]), ones(2, 2)),
        "the size of S's axis 0 cannot be inferred from a tensor-valued position: create the "
        "target first, e.g. `S[s, d] = 0`, with its size by keyword",
        (1, 1),
    ),
    Row(
        "argmax works along exactly one index",
        tc.ShapeError,
        compiling("a[i] = argmax[j, k](X[i, j, k])"),
        "argmax works along exactly one index",
        (1, 8),
    ),
]


def documented_messages() -> list[str]:
    """The first column of the error table of docs/language.md, without its code marks."""
    text = LANGUAGE_PAGE.read_text(encoding="utf-8")
    table = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    messages = []
    for line in table.splitlines():
        found = re.match(r"\| (``? ?)(.+?)( ?``?)( \(.*?\))? \|", line)
        if found and found.group(2) != "message":
            messages.append(found.group(2))
    return messages


@pytest.mark.skipif(not LANGUAGE_PAGE.exists(), reason="docs/language.md is not here")
def test_the_rows_here_are_the_rows_of_the_table() -> None:
    documented = documented_messages()
    assert len(documented) >= 20, documented
    assert sorted(documented) == sorted(row.documented for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.documented for row in ROWS])
def test_documented_error(row: Row) -> None:
    with pytest.raises(tc.TensorcError) as info:
        row.trigger()
    error = info.value
    assert isinstance(error, row.cls), f"{type(error).__name__} is not a {row.cls.__name__}"
    if row.cls is tc.ShapeError:
        assert isinstance(error, ValueError)
    if row.cls is tc.ParseError:
        assert not isinstance(error, tc.ShapeError | tc.ProgramError)
    if row.message.endswith("..."):
        assert error.message.startswith(row.message.removesuffix("..."))
    else:
        assert error.message == row.message
    assert "\n" not in error.message
    text = str(error)
    assert text.splitlines()[0] == error.message
    assert "Traceback" not in text
    if error.line is not None:
        assert f"  --> line {error.line}, column {error.column}\n" in text
    if row.place is not None:
        line, column = row.place
        assert (error.line, error.column) == row.place
        assert f"  --> line {line}, column {column}\n" in text
        caret = text.splitlines()[-1]
        gutter = caret.index("|") + 2
        assert caret.index("^") - gutter == column - 1, text
