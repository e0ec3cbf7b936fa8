"""Loads the one Lark grammar (shipped as `tensorc.grammar/tensorc.lark`) once per process."""

from __future__ import annotations

import functools
from importlib.resources import files

from lark import Lark


def grammar_text() -> str:
    """The text of `tensorc.lark`, read from the installed package."""
    return files("tensorc.grammar").joinpath("tensorc.lark").read_text(encoding="utf-8")


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser for both start symbols, built on first use and then shared."""
    return Lark(
        grammar_text(),
        parser="lalr",
        start=["program", "einsum"],
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,  # building the LALR tables takes ~0.2 s; the cached tables load in ~2 ms
    )
