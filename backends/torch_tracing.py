"""What tensorc needs of torch.compile: dynamo, the bytecode tracer of `torch.compile` and
`torch.export` (see tensorc/tracing.py and docs/graph-compilers.md), and `compiled`, the
compiler of `jit=True`. Functions, not values: torch is imported by the time they run, never
by importing this module."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tensorc.tracing import Tracer


def _never() -> bool:
    return False


def _check() -> Callable[[], bool]:
    """torch's own test, which dynamo reads as a constant True while it traces."""
    compiler = getattr(sys.modules["torch"], "compiler", None)  # None while torch is imported
    if compiler is None:
        return _never
    found: Callable[[], bool] = getattr(compiler, "is_dynamo_compiling", compiler.is_compiling)
    return found


def _opaque(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` as one call in dynamo's graph: dynamo does not read it, AOTAutograd (which
    inductor and torch.export use) runs it on fake tensors and records what it does. Before
    torch 2.7, which has no `nonstrict_trace`, dynamo breaks the graph around it instead."""
    dynamo = sys.modules["torch"]._dynamo
    nonstrict = getattr(dynamo, "nonstrict_trace", None)
    return function if nonstrict is None else nonstrict(function)


def _compiling() -> bool:
    """Whether torch.compile or torch.export traces now, at any stage (dynamo, AOTAutograd)."""
    compiler = getattr(sys.modules["torch"], "compiler", None)
    return compiler is not None and bool(compiler.is_compiling())


def compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    """A generated function through `torch.compile` (`tc.compile(..., jit=True)`): one whole
    graph for the shapes of its plan, which inductor fuses."""
    import torch

    found: Callable[..., Any] = torch.compile(function, fullgraph=True, dynamic=False)
    return found


TRACER = Tracer(module="torch", check=_check, opaque=_opaque, compiling=_compiling)
