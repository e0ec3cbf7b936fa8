"""Generated text: an expression with its precedence, and program text made safe as comments."""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ops import Precedence

ATOM, UNARY, PRODUCT = Precedence.ATOM, Precedence.UNARY, Precedence.PRODUCT


@dataclass(frozen=True)
class Code:
    """A Python expression and its precedence, so parents add only the parentheses needed."""

    text: str
    precedence: int = ATOM

    def at(self, precedence: int) -> str:
        return self.text if self.precedence >= precedence else f"({self.text})"


def comment(text: str, indent: str = "") -> list[str]:
    """Program text as Python comment lines. Every line break the tokenizer could see is a new
    comment line, and characters that are not printable are escaped, so no program text can
    end a comment and become code."""
    lines = []
    for line in text.splitlines():
        safe = "".join(c if c.isprintable() or c == "\t" else ascii(c)[1:-1] for c in line)
        lines.append(f"# {indent}{safe}".rstrip())
    return lines


def axes_text(values: list[int]) -> str:
    """One axis as a number, several as a tuple: `1`, `(0, 2)`."""
    return str(values[0]) if len(values) == 1 else "(" + ", ".join(map(str, values)) + ")"
