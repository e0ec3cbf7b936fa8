"""Generated text: an expression with its precedence, and program text made safe as comments."""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ir.labels import ELLIPSIS
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


def align(code: Code, labels: tuple[str, ...], target: tuple[str, ...]) -> Code:
    """Inserts length-1 axes so that `labels` broadcast against `target` (a supersequence)."""
    if labels == target or not labels:
        return code
    named = [label for label in target if label != ELLIPSIS]
    entries = [":" if label in labels else "None" for label in named]
    if ELLIPSIS in labels:
        prefix = ["..."]
    else:
        while entries and entries[0] == "None":
            entries.pop(0)  # leading axes broadcast by themselves
        prefix = ["..."] if ELLIPSIS in target else []
    if all(entry == ":" for entry in entries):
        return code
    if not prefix:
        while entries[-1] == ":":
            entries.pop()  # trailing axes are kept by themselves; after `...` they are not
    return Code(f"{code.at(ATOM)}[{', '.join(prefix + entries)}]")
