"""Calls that a framework's graph compiler traces: compiled programs inside compiled models.

Planning a call (shape inference, code generation, `exec`) is Python that a bytecode tracer
such as PyTorch's dynamo cannot follow. So while one traces, a tensorc call is handed to it as
one opaque call (its backend's `Tracer.opaque`): the tracer records the call without reading
it, and the stage after it (which traces with fake arrays, as ordinary Python) runs the call,
plans it and records the generated function's operations one by one. Sizes that stay symbolic
there (`symbolic`) are planned with the generic function, which reads each size off a shape.
docs/graph-compilers.md tells the whole story.

Nothing here imports a framework: `active` asks one only once it has been imported.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

_numbers = count(1)
_programs: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_SYMBOLIC = frozenset({"SymInt", "SymFloat", "SymBool"})
_watched: tuple[Tracer, ...] = ()  # the backends' tracers, found when a program is made
_modules = sys.modules  # the imported modules (the dict itself is never replaced)


@dataclass(frozen=True)
class Tracer:
    """What tensorc needs of a framework's bytecode tracer (a backend's `tracer`)."""

    module: str  # the framework's import name: nothing can trace before it is imported
    # the framework's own test "is the tracer tracing the caller now" (imported by then): a
    # function that the tracer itself reads as a constant True, and that costs little else
    check: Callable[[], Callable[[], bool]]
    opaque: Callable[[Callable[..., Any]], Callable[..., Any]]  # fn as one recorded call
    compiling: Callable[[], bool]  # whether any of its compilers traces now, at any stage


def _tracers() -> list[Tracer]:
    from tensorc.backends import BACKENDS

    return [record.tracer for record in BACKENDS.values() if record.tracer is not None]


def _until_imported() -> bool:
    """False until a framework with a tracer is imported; then its own check."""
    check = _settle()
    return check() if check is not None else False


def _settle() -> Callable[[], bool] | None:
    """The own check of the first imported framework with a tracer, which takes the place of
    `_until_imported` (not while one of its compilers works: a tracer that starts again must
    find the module as it left it, and dynamo guards on the function it read)."""
    for tracer in _watched or _tracers():
        if tracer.module in _modules:
            check = tracer.check()
            if not tracer.compiling():
                global active
                active = check
            return check
    return None


active: Callable[[], bool] = _until_imported
"""Whether a bytecode tracer traces the caller now: planning must then be handed over."""


def register(program: Any) -> str:
    """A name for a compiled program, by which a traced call finds it again. A str: the
    graph keeps it as a constant (a tracer may make an int argument a symbolic size)."""
    global _watched
    _watched = _watched or tuple(_tracers())  # for `active`, which must not look them up
    if active is _until_imported:  # settled before a first call, which dynamo may trace
        _settle()
    name = f"program {next(_numbers)}"
    _programs[name] = program
    return name


def call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A call of the program `name`, as the tracer at work records it: one opaque call."""
    return _opaque(_run)(name, *args, **kwargs)


def _run(name: str, /, *args: Any, **kwargs: Any) -> Any:
    return _programs[name].traced_call(args, kwargs)


def einsum(operands: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """A `tc.einsum` call, as the tracer at work records it: one opaque call."""
    return _opaque(_einsum)(*operands, **options)


def _einsum(*operands: Any, **options: Any) -> Any:
    from tensorc.einsum import einsum_here

    return einsum_here(operands, **options)


def _opaque(function: Callable[..., Any]) -> Callable[..., Any]:
    for tracer in _tracers():
        if tracer.module in sys.modules and tracer.check()():
            return tracer.opaque(function)
    return function  # pragma: no cover - `active` said a tracer works


def compiling() -> bool:
    """Whether a graph compiler traces now, at any stage: its exceptions (the signals it
    sends itself) must then pass through tensorc's unchanged."""
    return any(tracer.module in sys.modules and tracer.compiling() for tracer in _tracers())


def symbolic(value: Any) -> bool:
    """Whether a size or a number is symbolic: a graph compiler's stand-in for a value it
    does not fix (a size under dynamic shapes, or a Python float argument), which must not
    become an int or a float."""
    return type(value).__name__ in _SYMBOLIC


def any_symbolic(shapes: list[tuple[Any, ...]], sizes: dict[str, Any]) -> bool:
    """Whether a call has symbolic sizes, in its arguments' shapes or its keyword sizes. They
    are checked as any sizes (each equality the program needs becomes one of the compiler's
    guards) but never fixed to numbers: the plan is the generic function, which reads them
    off the shapes at run time."""
    return any(map(symbolic, [*sizes.values(), *(size for shape in shapes for size in shape)]))
