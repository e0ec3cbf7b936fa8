"""The pipeline in one place: source -> parse tree -> AST -> IR -> passes -> backend source -> function."""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import count
from typing import Any

from tensorc import backends
from tensorc.codegen import FUNCTION_NAME
from tensorc.errors import TensorcError
from tensorc.frontend import parse_einsum, parse_program
from tensorc.frontend.parser import ast_depth
from tensorc.ir import nodes as ir
from tensorc.ir.lower import lower_program
from tensorc.ir.printer import format_program
from tensorc.ir.shapes import Sizes
from tensorc.ir.sources import Given, KeywordSize, size_sources
from tensorc.passes import LOWERING, PASSES, Pass, run
from tensorc.sharding import Layout

UNKNOWN_SIZES = Sizes({})  # planning before shapes are known uses nominal sizes
_module_numbers = count(1)
_readers: Counter[str] = Counter()  # the loaded functions of each generated file name


def front_end(source: str, einsum: bool = False, lint: bool = True) -> ir.Program:
    """Parses and lowers program text (or einsum subscripts) to shape-checked IR; `lint`
    warns of likely typos in a program that a user wrote (not in einsums or derivatives)."""
    if not isinstance(source, str):
        raise TensorcError(f"a program is a str, not {type(source).__name__}")
    tree = parse_einsum(source) if einsum else parse_program(source)
    allow_recursion(ast_depth(tree))
    try:
        program = lower_program(tree, lint and not einsum)
    except RecursionError:
        raise TensorcError("the program is nested too deeply to compile") from None
    keywords = [
        ir.SizeParam(index)
        for index, where in size_sources(program).items()
        if isinstance(where, KeywordSize)
    ]
    subscripts = tuple(source.split("->")[0].replace(" ", "").split(",")) if einsum else None
    return replace(program, size_params=tuple(keywords), subscripts=subscripts)


def allow_recursion(depth: int) -> None:
    """Lets the recursive tree walks of lowering, hashing and printing go `depth` deep.

    The limit is only ever raised (it is per process, and other threads may be deep too)."""
    needed = 1000 + 8 * depth
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


def optimise(program: ir.Program, sizes: Sizes, passes: Sequence[Pass] = PASSES) -> ir.Program:
    """The optimising passes, then the lowering that every program gets (products to matmuls)."""
    return run(run(program, sizes, passes), sizes, LOWERING)


def describe(program: ir.Program, sizes: Sizes, passes: Sequence[Pass] = PASSES) -> str:
    """The IR that code is generated from, as text (`f.ir`), with each planned path's report."""
    planned = run(program, sizes, passes)
    reports: dict[str, list[ir.PathReport]] = {
        let.name: [n.path for n in ir.walk(let.value) if isinstance(n, ir.Contract) and n.path]
        for let in planned.lets
    }
    return format_program(run(planned, sizes, LOWERING), reports)


def generate(
    program: ir.Program, backend: str, sizes: Sizes | Given, layout: Layout | None = None
) -> str:
    """Backend source for optimised IR: for these sizes, or generic code that reads them off
    shapes and takes the `Given` ones by keyword; each tensor laid out over a device mesh as
    `layout` says, if any (ShapeError for a size that its mesh axes do not divide)."""
    if layout is not None and isinstance(sizes, Sizes):
        layout.check_sizes(sizes)
    return backends.backend(backend).generator(program, sizes, layout).generate()


def load(source: str, backend: str) -> Callable[..., Any]:
    """Executes generated source (tensorc's own text, never the user's) and returns `program`.

    The module is registered in `sys.modules`, as a framework's compiler may need to find a
    function's globals there; `unload` takes it out again when the function is dropped. Its
    file name comes from the text, so that the same code traced twice reads the same (a
    tracing JIT's check compares the source lines of what it records)."""
    name = f"tensorc.generated_{backend}_{next(_module_numbers)}"
    digest = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()[:12]
    filename = f"<tensorc.generated_{backend}_{digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    _readers[filename] += 1
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    sys.modules[name] = module
    function: Callable[..., Any] = getattr(module, FUNCTION_NAME)
    return function


def unload(function: Callable[..., Any]) -> None:
    """Forgets the generated module of a function that `load` made."""
    name = getattr(function, "__module__", "") or ""
    if name.startswith("tensorc.generated_"):
        filename: str = getattr(sys.modules.pop(name, None), "__file__", "")
        if filename in _readers:
            _readers[filename] -= 1
            if _readers[filename] <= 0:  # no other function of the same text is left
                del _readers[filename]
                linecache.cache.pop(filename, None)


def check_backend(backend: str | None) -> None:
    """TensorcError for a backend name that is not registered (None means: per call)."""
    if backend is not None:
        backends.backend(backend)
