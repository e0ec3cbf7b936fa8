"""Compiled programs at call time: binding arguments, choosing the backend, caching plans.

A plan is the generated function for one backend and one signature of argument shapes; it is
made once (shape check, contraction planning for the real sizes, code generation) and then
every call with the same signature goes straight to it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tensorc import backends, compiler, sharding, tracing
from tensorc.arguments import (
    bind,
    choose_backend,
    converter,
    input_shapes,
    shape_of,
    size_keyword,
    size_keywords,
)
from tensorc.errors import TensorcError, backend_failure
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import display_name
from tensorc.ir.shapes import Sizes, all_indices, infer_sizes, reads
from tensorc.ir.sources import NONE_GIVEN, Given
from tensorc.passes import PASSES, Pass
from tensorc.plans import Plans, keyword_key, signature

__all__ = [
    "CACHE",
    "Program",
    "ProgramCache",
    "bind",
    "compile_program",
    "shape_of",
    "size_keyword",
]

PROGRAMS_CACHED = 512


class Program:
    """A compiled tensorc program: call it with arrays; read `source` and `ir`."""

    def __init__(
        self,
        program: ir.Program,
        backend: str | None,
        passes: Sequence[Pass],
        sharded: sharding.Sharded | None = None,
    ):
        self._program = program
        self._backend = backend
        self._passes = tuple(passes)
        self._sharded = sharded  # the layout over a device mesh (`tc.compile(mesh=, shard=)`)
        self._layout = sharded.layout if sharded else None
        self._plans = Plans()
        self._inputs = tuple(spec.name for spec in program.inputs)
        self._keywords = size_keywords(self._inputs, all_indices(program))
        self._scalars = {spec.name for spec in program.inputs if spec.is_scalar}
        einsum = program.subscripts is not None  # whose inputs x0, x1, ... are its operands
        self._shown = [
            f"operand {k}" if einsum else f"input '{n}'" for k, n in enumerate(self._inputs)
        ]
        self._source: str | None = None
        self._ir: str | None = None
        self._name = tracing.register(self)  # how a call traced by dynamo finds it

    # --- what users read ------------------------------------------------------------------

    @property
    def inputs(self) -> tuple[str, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(display_name(name) for name in self._program.outputs)

    @property
    def backend(self) -> str | None:
        return self._backend

    @property
    def source(self) -> str:
        """The generated module for this backend (NumPy's when the backend is chosen per call)."""
        if self._source is None:
            optimised = compiler.optimise(self._program, compiler.UNKNOWN_SIZES, self._passes)
            backend = self._backend or backends.DEFAULT
            self._source = compiler.generate(optimised, backend, NONE_GIVEN, self._layout)
        return self._source

    @property
    def ir(self) -> str:
        """The optimised IR as text, planned for nominal sizes."""
        if self._ir is None:
            self._ir = compiler.describe(self._program, compiler.UNKNOWN_SIZES, self._passes)
        return self._ir

    def ir_for(self, /, *args: Any, **kwargs: Any) -> str:
        """The optimised IR for these arguments' shapes (contraction paths with real FLOPs)."""
        _, sizes, _ = self._bind(args, kwargs)
        return compiler.describe(self._program, sizes, self._passes)

    def source_for(self, /, *args: Any, **kwargs: Any) -> str:
        """The generated module specialised to these arguments' shapes."""
        backend, sizes, _ = self._bind(args, kwargs)
        optimised = compiler.optimise(self._program, sizes, self._passes)
        return compiler.generate(optimised, backend, sizes, self._layout)

    def sizes_for(self, /, *args: Any, **kwargs: Any) -> dict[str, int]:
        """Every index's size for these arguments (ShapeError where they disagree)."""
        return dict(self._bind(args, kwargs)[1].of)

    def shapes_for(self, /, *args: Any, **kwargs: Any) -> dict[str, tuple[int, ...]]:
        """The shape of every input and every statement's target for these arguments."""
        _, sizes, positional = self._bind(args, kwargs)
        shapes = input_shapes(self._inputs, positional, self._scalars)
        for let in self._program.lets:
            shapes[display_name(let.name)] = sizes.shape(let.value.indices)
        return shapes

    def known_sizes(self, shapes: Mapping[str, tuple[int, ...]], sizes: Mapping[str, int]) -> Sizes:
        """The index sizes that the shapes of some inputs and keyword sizes determine (for
        `tensorc compile --emit shapes`, which infers the shapes of the inputs not given)."""
        return infer_sizes(self._program, shapes, sizes, complete=False)

    def labels(self) -> dict[str, tuple[str, ...]]:
        """How each input and target is indexed where it first appears (for display)."""
        found: dict[str, tuple[str, ...]] = {}
        for _, var in reads(self._program):
            found.setdefault(display_name(var.name), var.labels)
        for let in self._program.lets:
            found[display_name(let.name)] = let.value.indices
        return found

    def function_for(self, /, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """The generated function that a call with these arguments runs (tensors positionally)."""
        return self._plan(args, kwargs)[0]

    def __repr__(self) -> str:
        backend = self._backend or "any backend"
        return f"<tensorc.Program ({', '.join(self._inputs)}) -> {', '.join(self.outputs)} on {backend}>"

    # --- calling ----------------------------------------------------------------------------

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        if tracing.active():  # planning is Python dynamo cannot trace: see tracing
            return tracing.call(self._name, args, kwargs)
        # The fast paths: a plan for these types and shapes (and keywords) exists.
        function = None
        try:
            if not kwargs:
                function = self._plans.get(signature(args))
            else:
                found = self._plans.keywords.get(keyword_key(args, kwargs))
                if found is not None:
                    function, named = found
                    args = (*args, *[kwargs[name] for name in named])
        except TypeError:  # an unhashable `.shape` (a list, symbolic sizes): see `_plan`
            function = None
        if function is None:
            function, args = self._plan(args, kwargs)
        try:
            return function(*args)
        except Exception as error:
            if tracing.compiling():  # a graph compiler's own signals pass through as they are
                raise
            raise backend_failure(error, self._backend) from error

    def traced_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A call handed to a tracer (`tracing.call`), planned here even while it traces: where
        it cannot record the call as one, it runs it again (a ShapeError then reaches the
        caller, instead of handing the call over again and again)."""
        function, args = self._plan(args, kwargs)
        return function(*args)

    def _plan(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The plan for these arguments (made on first use), and the tensors in input order."""
        positional, sizes_given = self._arguments(args, kwargs)
        # TensorcError for what is not an array; symbolic sizes get the generic function
        symbolic = tracing.any_symbolic([shape_of(v) for v in positional], sizes_given)
        key: Any = ("symbolic", *map(type, positional)) if symbolic else signature(positional)
        if sizes_given:  # the generic function takes the sizes given, whatever their values
            key = (key, tuple(sorted(sizes_given if symbolic else sizes_given.items())))
        function = self._plans.get(key)
        if function is None:  # making the plan checks the sizes
            function, generated = self._make_plan(positional, sizes_given, symbolic)
            self._plans.add(key, function, generated)
        elif symbolic:  # one plan serves every value: each trace checks its own (and guards them)
            self._sizes(positional, sizes_given)
        if symbolic:
            return functools.partial(function, **sizes_given), tuple(positional)
        if kwargs:  # remember how these keywords bind, for the next call
            named = tuple(name for name in self._inputs[len(args) :] if name in kwargs)
            self._plans.keywords[keyword_key(args, kwargs)] = (function, named)
        return function, tuple(positional)

    def _arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[list[Any], dict[str, int]]:
        """Arguments in input order, and the index sizes passed by keyword."""
        values, sizes = bind(self._inputs, args, kwargs, self._keywords)
        return [values[name] for name in self._inputs], sizes

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Sizes, list[Any]]:
        """The backend, the index sizes and the tensors in input order for a call's arguments."""
        positional, sizes_given = self._arguments(args, kwargs)
        backend, sizes = self._sizes(positional, sizes_given)
        return backend, sizes, positional

    def _sizes(self, positional: list[Any], sizes_given: dict[str, int]) -> tuple[str, Sizes]:
        """The backend and every index size for bound arguments; ShapeError where they clash."""
        backend = choose_backend(self._backend, positional)
        shapes = input_shapes(self._inputs, positional, self._scalars)
        return backend, infer_sizes(self._program, shapes, sizes_given)

    def _make_plan(
        self, positional: list[Any], sizes_given: dict[str, int], symbolic: bool = False
    ) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The function to call (the generic one for symbolic sizes) and the generated one."""
        backend, sizes = self._sizes(positional, sizes_given)
        planned = compiler.UNKNOWN_SIZES if symbolic else sizes
        optimised = compiler.optimise(self._program, planned, self._passes)
        sized = Given(sizes_given) if symbolic else sizes  # generic code takes these by keyword
        source = compiler.generate(optimised, backend, sized, self._layout)
        generated = compiler.load(source, backend)
        function = self._sharded.wrap(generated) if self._sharded else generated
        if symbolic:
            function = _taking(function, frozenset(inspect.signature(generated).parameters))
        convert = converter(backend, self._shown, positional)
        if convert is None:
            return function, generated
        return (lambda *args, **sizes: function(*convert(args), **sizes)), generated

    def __del__(self) -> None:
        if compiler is None:  # interpreter shutdown: the modules are going anyway
            return
        if hasattr(self, "_plans"):
            self._plans.unload()


def _taking(function: Callable[..., Any], taken: frozenset[str]) -> Callable[..., Any]:
    """A generic function that drops the sizes given by keyword that it does not take: it reads
    them off shapes, which each trace checks them against."""
    return lambda *args, **sizes: function(*args, **{k: v for k, v in sizes.items() if k in taken})


class ProgramCache:
    """A bounded, thread-safe LRU of compiled programs by (source, backend, passes, kind)."""

    def __init__(self, capacity: int = PROGRAMS_CACHED):
        self.capacity = capacity
        self.entries: OrderedDict[Any, Program] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Program]) -> Program:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found
        program = make()
        with self.lock:
            self.entries[key] = program
            while len(self.entries) > self.capacity:
                self.entries.popitem(last=False)
        return program


CACHE = ProgramCache()


class JitProgram(Program):
    """A program whose generated functions go through the backend's compiler first
    (`tc.compile(..., jit=True)`: the backend record's `jit`, PyTorch's compiler, whose
    inductor then fuses the elementwise tails; JAX's functions are jitted anyway)."""

    @staticmethod
    def checked(backend: str | None) -> type[JitProgram]:
        """JitProgram, where `backend` has a compiler (or is chosen per call)."""
        if backend is not None and backends.backend(backend).jit is None:
            raise TensorcError(f"jit=True needs a backend with a compiler, not {backend}")
        return JitProgram

    def _make_plan(
        self, positional: list[Any], sizes_given: dict[str, int], symbolic: bool = False
    ) -> tuple[Callable[..., Any], Callable[..., Any]]:
        function, generated = super()._make_plan(positional, sizes_given, symbolic)
        if tracing.compiling():  # a compiler at work on a bigger graph compiles this in it
            return function, generated
        backend = backends.backend(choose_backend(self._backend, positional))
        if backend.jit is None:
            raise TensorcError(f"jit=True needs a backend with a compiler, not {backend.name}")
        return backend.jit(function), generated


def compile_program(
    source: str,
    backend: str | None = None,
    passes: Sequence[Pass] | None = PASSES,
    einsum: bool = False,
    lint: bool = True,
    mesh: Any = None,
    shard: Any = None,
    jit: bool = False,
) -> Program:
    """The compiled program for `source`, from the cache when it was compiled before;
    `passes=None` is the default pipeline, `PASSES`. `lint=False` for programs that tensorc
    wrote (derivatives): no warnings about their text. `mesh` and `shard` lay the tensors out
    over a device mesh (`tensorc.sharding`); `jit` hands each generated function to the
    backend's compiler (`JitProgram`)."""
    compiler.check_backend(backend)
    passes = pipeline(passes)
    over = sharding.request(backend and backends.backend(backend), mesh, shard)
    kind = JitProgram.checked(backend) if jit else Program
    key = (source, backend, passes, einsum, over, kind)

    def make() -> Program:
        program = compiler.front_end(source, einsum, lint)
        return kind(program, backend, passes, over.sharded(program) if over else None)

    return CACHE.get(key, make)


def pipeline(passes: Iterable[Pass] | None) -> tuple[Pass, ...]:
    """The optimising passes to run: None means the default pipeline; TensorcError for
    anything but a sequence of passes (functions of a program and its sizes)."""
    if passes is None:
        return PASSES
    if isinstance(passes, str | bytes) or not isinstance(passes, Iterable):
        raise TensorcError(
            f"passes is a sequence of passes (tensorc.passes.PASSES, or () for none), "
            f"not {type(passes).__name__}"
        )
    found = tuple(passes)
    bad = [p for p in found if not callable(p)]
    if bad:
        raise TensorcError(
            f"a pass is a function of a program and its sizes, not {type(bad[0]).__name__}"
        )
    return found
