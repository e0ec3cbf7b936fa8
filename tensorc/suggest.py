"""Spelling suggestions for error messages and warnings: the name a user probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `name`, or None where none is close: a difference of case
    counts least (`b` suggests `B`), then difflib's similarity (`kk` suggests `k`)."""
    others = [c for c in dict.fromkeys(candidates) if c != name]
    folded = {c.casefold(): c for c in reversed(others)}
    if name.casefold() in folded:
        return folded[name.casefold()]
    found = difflib.get_close_matches(name, others, n=1)
    return found[0] if found else None
