"""numpy.einsum subscripts to a one-statement program AST: `ij,jk->ik` is `out[i,k] = x0[i,j] * x1[j,k]`.

An index is any Unicode letter (`αβ,βγ->αγ`), so that more than 52 indices can be written;
numpy's sublists (`[0, 1, Ellipsis]`) are spelled as letters first. `for_shapes` rewrites
subscripts for given operand shapes, so that the program, whose sizes must agree exactly,
computes numpy's answer: an ellipsis that the output leaves out is spelled out as letters
of its own, which the product sums (none where it covers no axes), and a labelled axis of
size 1 that meets a longer one gets a letter of its own, which the product then sums away:
that is what broadcasting such an axis means.
"""

from __future__ import annotations

import functools
import itertools
import operator
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from tensorc.errors import ArgumentTypeError, ParseError, ShapeError, Span, TensorcError
from tensorc.frontend import ast
from tensorc.frontend.grammar import lark_parser
from tensorc.frontend.parser import _parse_error
from tensorc.ir.nodes import ELLIPSIS

SUBLIST_LETTERS = 52  # numpy's sublist labels 0..25 are A..Z and 26..51 are a..z
SHAPES_CACHED = 4096

_for_shapes: dict[tuple[str, tuple[tuple[int, ...], ...]], str] = {}


def operand_name(position: int) -> str:
    """The tensor name that stands for einsum operand `position` in the program."""
    return f"x{position}"


@dataclass(frozen=True)
class Term:
    """The subscripts of one operand, or of the output: its axes and where they are written."""

    axes: tuple[ast.Axis, ...]
    span: Span

    @property
    def labels(self) -> tuple[str, ...]:
        """The letters, with "..." for the ellipsis: `i...j` is ("i", "...", "j")."""
        return tuple(
            axis.name if isinstance(axis, ast.IndexAxis) else ELLIPSIS for axis in self.axes
        )


@dataclass(frozen=True)
class Subscripts:
    """Parsed einsum subscripts: a term per operand and the output (numpy's implicit one when
    the text has no `->`)."""

    text: str
    inputs: tuple[Term, ...]
    output: Term
    explicit: bool

    @property
    def adds_ellipsis(self) -> bool:
        """Whether the output writes `...` and no operand does (it then covers no axes)."""
        uses = any(ELLIPSIS in term.labels for term in self.inputs)
        return ELLIPSIS in self.output.labels and not uses

    @property
    def drops_ellipsis(self) -> bool:
        """Whether the operands write `...` and the output does not (numpy then sums the
        axes it covers, as the other frameworks and opt_einsum do; a program cannot write that)."""
        uses = any(ELLIPSIS in term.labels for term in self.inputs)
        return uses and ELLIPSIS not in self.output.labels


@functools.lru_cache(maxsize=1024)
def parse_subscripts(spec: str) -> Subscripts:
    """Parse einsum subscripts (explicit `->` or implicit output, `...`, repeats); ParseError
    for text numpy.einsum would refuse, except an output that leaves out the operands' `...`."""
    try:
        tree = lark_parser().parse(spec, start="einsum")
    except UnexpectedInput as error:
        raise _parse_error(error, spec) from None
    starts = _operand_columns(spec)
    trees = [child for child in tree.children if isinstance(child, Tree)]
    inputs = tuple(
        _term(child, starts[k], spec)
        for k, child in enumerate(c for c in trees if c.data == "subscripts")
    )
    outputs = [child for child in trees if child.data == "output"]
    if not outputs:
        return Subscripts(
            spec, inputs, _implicit_output(inputs, Span(1, 1, max(1, len(spec)))), False
        )
    output_tree = outputs[0].children[0]
    assert isinstance(output_tree, Tree)
    output = _term(output_tree, spec.index("->") + 3, spec)
    _check_output(output, inputs, spec)
    return Subscripts(spec, inputs, output, True)


def parse_einsum(spec: str) -> ast.Program:
    """The program of einsum subscripts: one statement, the product of the operands."""
    subscripts = parse_subscripts(spec)
    if subscripts.drops_ellipsis:
        raise ParseError(
            "the operands use '...' but the output does not: write it in the output too",
            subscripts.output.span,
            spec,
        )
    whole = Span(1, 1, max(1, len(spec)))
    factors: list[ast.Expr] = [
        ast.Access(term.span, operand_name(position), term.axes)
        for position, term in enumerate(subscripts.inputs)
    ]
    value = factors[0]
    for factor in factors[1:]:
        value = ast.Binary(whole, "*", value, factor)
    statement = ast.Assign(whole, "out", subscripts.output.axes, value)
    return ast.Program((statement,), None, spec)


def sublist_subscripts(sublist: Any, position: int | None) -> str:
    """numpy's sublist (ints 0..51 and Ellipsis) as subscripts: 0..25 are A..Z, 26..51 a..z."""
    where = "the output" if position is None else f"operand {position}"
    if not isinstance(sublist, Sequence | np.ndarray) or isinstance(sublist, str | bytes):
        raise ArgumentTypeError(
            f"the subscripts of {where} must be a list or a tuple, not {type(sublist).__name__}"
        )
    term = []
    for label in list(sublist):
        if label is Ellipsis:
            term.append(ELLIPSIS)
            continue
        try:
            number = operator.index(label)
        except TypeError:
            raise ArgumentTypeError(
                f"each subscript of {where} must be an integer or Ellipsis, not {label!r}"
            ) from None
        if not 0 <= number < SUBLIST_LETTERS:
            raise TensorcError(
                f"subscript {number} of {where} is not within the valid range "
                f"[0, {SUBLIST_LETTERS})"
            )
        term.append(chr(ord("A") + number) if number < 26 else chr(ord("a") + number - 26))
    return "".join(term)


def for_shapes(text: str, shapes: tuple[tuple[int, ...], ...]) -> str:
    """The subscripts to compile for operands of these shapes: `text` itself, or its rewrite
    (checked: the operand count, and an ellipsis the output leaves out must cover nothing)."""
    key = (text, shapes)
    found = _for_shapes.get(key)
    if found is None:
        found = _rewrite(parse_subscripts(text), shapes)
        if len(_for_shapes) >= SHAPES_CACHED:
            _for_shapes.clear()
        _for_shapes[key] = found
    return found


def _rewrite(spec: Subscripts, shapes: tuple[tuple[int, ...], ...]) -> str:
    count, named = len(shapes), len(spec.inputs)
    if count != named:
        raise ShapeError(
            f"einsum got {count} operand{'' if count == 1 else 's'} but the subscripts name {named}"
        )
    inputs = [term.labels for term in spec.inputs]
    output = spec.output.labels
    used = {label for labels in inputs for label in labels} | set(output)
    fresh = _fresh_letters(used)
    changed = spec.drops_ellipsis or spec.adds_ellipsis
    if spec.drops_ellipsis:
        inputs = _spell_out_ellipsis(spec, shapes, fresh)
    if spec.adds_ellipsis:  # an output '...' that no operand writes covers no axes
        output = tuple(label for label in output if label != ELLIPSIS)
    renamed = _broadcast(inputs, shapes, fresh)
    if renamed is None and not changed:
        return spec.text
    inputs = renamed or inputs
    return ",".join("".join(labels) for labels in inputs) + "->" + "".join(output)


def _spell_out_ellipsis(
    spec: Subscripts, shapes: tuple[tuple[int, ...], ...], fresh: Iterator[str]
) -> list[tuple[str, ...]]:
    """The terms with each '...' written as letters of their own, aligned from the right as
    numpy broadcasts them; the output leaves them out, so the product sums them."""
    covered = []
    for position, (term, shape) in enumerate(zip(spec.inputs, shapes, strict=True)):
        letters = len(term.labels) - (ELLIPSIS in term.labels)
        if ELLIPSIS in term.labels and len(shape) < letters:
            raise ShapeError(
                f"operand {position} has {len(shape)} dimensions but the subscripts "
                f"'{''.join(term.labels)}' name at least {letters}",
                term.span,
                spec.text,
            )
        covered.append(len(shape) - letters if ELLIPSIS in term.labels else 0)
    batch = [next(fresh) for _ in range(max(covered))]
    inputs = []
    for term, width in zip(spec.inputs, covered, strict=True):
        spelled = tuple(batch[len(batch) - width :]) if width else ()
        labels = term.labels
        if ELLIPSIS in labels:
            split = labels.index(ELLIPSIS)
            labels = labels[:split] + spelled + labels[split + 1 :]
        inputs.append(labels)
    return inputs


def _axis_sizes(labels: tuple[str, ...], shape: tuple[int, ...]) -> dict[str, set[int]] | None:
    """The sizes each letter of one operand is given (None where the rank does not fit)."""
    if ELLIPSIS in labels:
        split = labels.index(ELLIPSIS)
        after = len(labels) - split - 1
        if len(shape) < len(labels) - 1:
            return None
        pairs = list(zip(labels[:split], shape, strict=False))
        pairs += list(zip(labels[split + 1 :], shape[len(shape) - after :], strict=True))
    elif len(shape) != len(labels):
        return None
    else:
        pairs = list(zip(labels, shape, strict=True))
    sizes: dict[str, set[int]] = {}
    for label, size in pairs:
        sizes.setdefault(label, set()).add(size)
    return sizes


def _broadcast(
    inputs: list[tuple[str, ...]], shapes: tuple[tuple[int, ...], ...], fresh: Iterator[str]
) -> list[tuple[str, ...]] | None:
    """The terms with each size-1 axis that meets a longer one renamed to a fresh letter (a
    length-1 index summed away is that axis broadcast); None when no axis broadcasts or the
    sizes clash, which the compiled program then reports."""
    per_operand = [_axis_sizes(labels, shape) for labels, shape in zip(inputs, shapes, strict=True)]
    every: dict[str, set[int]] = {}
    for sizes in per_operand:
        if sizes is None or any(len(s) > 1 for s in sizes.values()):
            return None
        for label, found in sizes.items():
            every.setdefault(label, set()).update(found)
    spread = {label for label, found in every.items() if 1 in found and len(found) == 2}
    if not spread or any(len(found - {1}) > 1 for found in every.values()):
        return None
    renamed = []
    for labels, sizes in zip(inputs, per_operand, strict=True):
        assert sizes is not None
        new = {label: next(fresh) for label in sizes if label in spread and sizes[label] == {1}}
        renamed.append(tuple(new.get(label, label) for label in labels))
    return renamed


def _fresh_letters(used: set[str]) -> Iterator[str]:
    """Letters that the subscripts do not use (and that Python keeps as they are in names)."""
    for code in itertools.count(0xC0):
        letter = chr(code)
        if (
            letter.isalpha()
            and letter not in used
            and unicodedata.normalize("NFKC", letter) == letter
        ):
            yield letter


def _operand_columns(spec: str) -> list[int]:
    """The 1-based column where each operand's subscripts start (an operand may have none)."""
    inputs = spec.split("->")[0]
    columns, start = [], 0
    for part in inputs.split(","):
        columns.append(start + len(part) - len(part.lstrip()) + 1)
        start += len(part) + 1
    return columns


def _term(tree: Tree, column: int, spec: str) -> Term:
    tokens: list[Token] = list(tree.children)  # type: ignore[arg-type]
    axes: list[ast.Axis] = []
    for token in tokens:
        span = Span(token.line or 1, token.column or 1, len(str(token)))
        if token.type == "ELLIPSIS":
            if any(isinstance(axis, ast.EllipsisAxis) for axis in axes):
                raise ParseError(
                    "'...' may appear only once in each term of the subscripts", span, spec
                )
            axes.append(ast.EllipsisAxis(span))
        elif not str(token).isalpha():  # the grammar's letters include digits such as '²'
            raise ParseError(f"{str(token)!r} is not a letter: an index is a letter", span, spec)
        else:
            axes.append(ast.IndexAxis(span, str(token)))
    if tokens:
        first, last = tokens[0], tokens[-1]
        span = Span(
            first.line or 1, first.column or 1, (last.end_column or 1) - (first.column or 1)
        )
    else:
        span = Span(1, column, 1)
    return Term(tuple(axes), span)


def _implicit_output(inputs: tuple[Term, ...], span: Span) -> Term:
    """numpy's rule: the letters used exactly once, in character order, after `...` if any."""
    counts: dict[str, int] = {}
    has_ellipsis = False
    for term in inputs:
        for axis in term.axes:
            if isinstance(axis, ast.IndexAxis):
                counts[axis.name] = counts.get(axis.name, 0) + 1
            else:
                has_ellipsis = True
    letters = sorted(name for name, count in counts.items() if count == 1)
    output: list[ast.Axis] = [ast.EllipsisAxis(span)] if has_ellipsis else []
    output += [ast.IndexAxis(span, name) for name in letters]
    return Term(tuple(output), span)


def _check_output(output: Term, inputs: tuple[Term, ...], spec: str) -> None:
    used = {axis.name for term in inputs for axis in term.axes if isinstance(axis, ast.IndexAxis)}
    seen: set[str] = set()
    for axis in output.axes:
        if isinstance(axis, ast.IndexAxis):
            if axis.name not in used:
                raise ParseError(
                    f"output index '{axis.name}' does not appear in any operand", axis.span, spec
                )
            if axis.name in seen:
                raise ParseError(f"output index '{axis.name}' appears twice", axis.span, spec)
            seen.add(axis.name)
