"""Errors that tensorc raises for bad programs and bad arguments, with a caret excerpt of the source."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A region of program text: 1-based line and column of its start, and its length on that line."""

    line: int
    column: int
    length: int = 1

    def render(self, source: str) -> str:
        """The source line under a gutter, with carets under the span."""
        # Only line feeds end a line of a program (as for the parser and for Python).
        lines = [line.removesuffix("\r") for line in source.split("\n")]
        text = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        width = max(1, min(self.length, max(1, len(text) - self.column + 1)))
        gutter = " " * len(str(self.line))
        return (
            f"  --> line {self.line}, column {self.column}\n"
            f"{gutter} |\n"
            f"{self.line} | {text}\n"
            f"{gutter} | {' ' * (self.column - 1)}{'^' * width}"
        )


class TensorcError(ValueError):
    """Base class of every error tensorc raises for a bad program or bad arguments.

    It is a ValueError, as numpy.einsum's refusals are, so that tensorc drops in where
    callers catch those; errors about an argument's type are TypeErrors as well."""

    def __init__(self, message: str, span: Span | None = None, source: str | None = None):
        self.message = message
        self.span = span
        self.source = source
        super().__init__(self._render())

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def with_source(self, source: str) -> TensorcError:
        """The same error, its message now carrying the excerpt of `source`."""
        if self.source is None:
            self.source = source
            self.args = (self._render(),)
        return self

    def _render(self) -> str:
        if self.span is None:
            return self.message
        if self.source is None:
            return f"{self.message} (line {self.span.line}, column {self.span.column})"
        return f"{self.message}\n{self.span.render(self.source)}"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.message


class ParseError(TensorcError):
    """The program text does not follow the grammar."""


class ShapeError(TensorcError, ValueError):
    """Index sizes, ranks or broadcasts that do not agree."""


class ArgumentTypeError(TensorcError, TypeError):
    """An argument of a type that cannot be used (an operand that is not an array, a number
    or a list of numbers; an `out=` that is not an array; a cast the casting rule forbids)."""


class PathError(TensorcError, RuntimeError):
    """An explicit contraction path (einsum's `optimize=[...]`) that does not fit the operands:
    a RuntimeError as well, as numpy.einsum raises for one."""


class PositionError(TensorcError, IndexError):
    """A tensor-valued index (`W[ids[i], d]`) holds a position outside the tensor it reads or
    writes, found when the generated code checks it (NumPy, PyTorch)."""


class ProgramError(TensorcError):
    """A well-formed program that means nothing: unknown functions, names used two ways, bad returns."""


def backend_failure(error: Exception, backend: str | None) -> TensorcError:
    """What a failure of the generated code on checked arguments is reported as."""
    if isinstance(error, IndexError):  # raised by the checks of tensor-valued positions
        return PositionError(str(error))
    # Shapes were checked; what fails now is the backend itself (1/0 on Python numbers,
    # mixed dtypes that a framework's matmul refuses, out of memory, ...).
    return TensorcError(
        f"the generated {backend or 'backend'} code failed on these arguments: "
        f"{type(error).__name__}: {error}"
    )


class TensorcWarning(UserWarning):
    """A program that means something, though likely not what was meant (an index summed
    alone beside a similar name: a typo?)."""


def warn(message: str, span: Span | None = None, source: str | None = None) -> None:
    """Issues a TensorcWarning, with the caret excerpt where there is one, attributed to the
    first caller outside tensorc (the user's line)."""
    if span is not None and source is not None:
        message = f"{message}\n{span.render(source)}"
    level, frame = 2, sys._getframe(1)  # stacklevel 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    warnings.warn(TensorcWarning(message), stacklevel=level)


_PACKAGE = os.path.dirname(os.path.abspath(__file__))
