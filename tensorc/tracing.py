"""Calls made while a graph compiler traces: torch.compile (dynamo), torch.export, make_fx.

Planning a call (shape inference, code generation, `exec`) is Python that dynamo cannot
trace. So while dynamo traces, a tensorc call becomes one `nonstrict_trace` call: dynamo
puts it in its graph as it is, without reading its code, and the stage after dynamo
(AOTAutograd, which inductor and torch.export use) runs it as ordinary Python on fake
tensors, where planning works and the generated function's torch operations are recorded
one by one. With symbolic sizes (`dynamic=True`, `torch.export` with `Dim`s) the plan is
the generic function, which reads every size off the inputs' shapes. See
docs/torch-compile.md.

Nothing here imports torch: `dynamo_compiling` asks torch only once torch is imported.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from itertools import count
from typing import Any

_numbers = count(1)
_programs: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def _until_torch() -> bool:
    """False until torch is imported; then torch's own check takes this one's place."""
    torch = sys.modules.get("torch")
    compiler = getattr(torch, "compiler", None)  # None too while torch is half imported
    if compiler is None:
        return False
    check: Callable[[], bool] = getattr(compiler, "is_dynamo_compiling", compiler.is_compiling)
    if check():  # under dynamo: leave the module as it is (no side effect to trace)
        return True
    global dynamo_compiling
    dynamo_compiling = check
    return False


dynamo_compiling: Callable[[], bool] = _until_torch
"""Whether dynamo is tracing the caller now (always False before torch is imported)."""


def register(program: Any) -> str:
    """A name for a compiled program, by which a traced call finds it again. A str: the
    graph keeps it as a constant (dynamo may make an int argument a symbolic size)."""
    name = f"program {next(_numbers)}"
    _programs[name] = program
    return name


def call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A call of the program `name`, for dynamo: one opaque call in its graph."""
    import torch

    nonstrict = getattr(torch._dynamo, "nonstrict_trace", None)
    if nonstrict is None:  # before torch 2.7: dynamo breaks the graph around the call
        return _run(name, *args, **kwargs)
    return nonstrict(_run)(name, *args, **kwargs)


def _run(name: str, /, *args: Any, **kwargs: Any) -> Any:
    return _programs[name](*args, **kwargs)


def einsum(operands: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """A `tc.einsum` call, for dynamo: one opaque call in its graph."""
    import torch

    nonstrict = getattr(torch._dynamo, "nonstrict_trace", None)
    if nonstrict is None:
        return _einsum(*operands, **options)
    return nonstrict(_einsum)(*operands, **options)


def _einsum(*operands: Any, **options: Any) -> Any:
    from tensorc.einsum import einsum

    return einsum(*operands, **options)


def symbolic(size: Any) -> bool:
    """Whether a size is symbolic: a graph compiler's stand-in for a size it does not fix
    (torch's SymInt under `dynamic=True` or an export `Dim`), which must not become an int."""
    return type(size).__name__ == "SymInt"


def compiling() -> bool:
    """Whether a graph compiler traces now (dynamo, torch.export, AOTAutograd): its own
    exceptions must then pass through tensorc's unchanged."""
    torch = sys.modules.get("torch")
    compiler = getattr(torch, "compiler", None)
    return compiler is not None and bool(compiler.is_compiling())
