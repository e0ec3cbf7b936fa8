"""A compiled program's plans: what a plan depends on (its key, on every call's hot path) and
the bounded cache that holds them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

from tensorc import compiler

PLANS_PER_PROGRAM = 64


def signature(values: Sequence[Any]) -> tuple[Any, ...]:
    """What a plan depends on: the arguments' types, then their shapes (None for a number);
    on every call's hot path, so up to three are written out (a comprehension costs more)."""
    if len(values) == 2:
        a, b = values
        return type(a), type(b), getattr(a, "shape", None), getattr(b, "shape", None)
    if len(values) == 1:
        return type(values[0]), getattr(values[0], "shape", None)
    if len(values) == 3:
        a, b, c = values
        shapes = getattr(a, "shape", None), getattr(b, "shape", None), getattr(c, "shape", None)
        return type(a), type(b), type(c), *shapes
    return (*map(type, values), *[getattr(value, "shape", None) for value in values])


class _IntegerTypes(dict[type, bool]):
    """Whether a type is an integer type (NumPy's too), remembered: an ABC check per call
    would cost as much as the rest of a keyword call's lookup."""

    def __missing__(self, kind: type) -> bool:
        self[kind] = found = issubclass(kind, Integral)
        return found


INTEGER_TYPES = _IntegerTypes()


def keyword_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The signature of a call with keywords: types and shapes, and the values of sizes
    (integers, whose plans differ by value, where a NumPy integer's `.shape` is `()`)."""
    positional = signature(args)
    named = tuple(
        [
            (
                name,
                type(value),
                value if INTEGER_TYPES[type(value)] else getattr(value, "shape", None),
            )
            for name, value in sorted(kwargs.items())
        ]
    )
    return positional, named


class Plans(dict[Any, Callable[..., Any]]):
    """A program's plans by signature, at most PLANS_PER_PROGRAM (the oldest goes first, and its
    generated module is unloaded), and how the calls with keywords bind to them."""

    def __init__(self) -> None:
        super().__init__()
        self.generated: dict[Any, Callable[..., Any]] = {}  # the generated function of each
        # (positional signature, keyword signature) -> (plan, the inputs given by keyword)
        self.keywords: dict[Any, tuple[Callable[..., Any], tuple[str, ...]]] = {}
        self._lock = threading.Lock()  # for changes; lookups need none

    def add(self, key: Any, function: Callable[..., Any], generated: Callable[..., Any]) -> None:
        with self._lock:
            if len(self.keywords) >= PLANS_PER_PROGRAM:
                self.keywords.clear()
            if len(self) >= PLANS_PER_PROGRAM:
                oldest = next(iter(self))
                del self[oldest]
                compiler.unload(self.generated.pop(oldest))
            self[key] = function
            self.generated[key] = generated

    def unload(self) -> None:
        for generated in self.generated.values():
            compiler.unload(generated)
