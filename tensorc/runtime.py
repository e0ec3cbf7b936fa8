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
    INTEGER_TYPES,
    bind,
    choose_backend,
    converter,
    input_shapes,
    shape_of,
    size_keyword,
    size_keywords,
)
from tensorc.errors import PositionError, TensorcError
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import display_name
from tensorc.ir.shapes import Sizes, all_indices, infer_sizes, reads
from tensorc.passes import PASSES, Pass

__all__ = [
    "CACHE",
    "Program",
    "ProgramCache",
    "bind",
    "compile_program",
    "shape_of",
    "size_keyword",
]

PLANS_PER_PROGRAM = 64
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
        self._plans: dict[Any, Callable[..., Any]] = {}
        self._generated: dict[Any, Callable[..., Any]] = {}  # the generated function of each plan
        self._lock = threading.Lock()  # for changes to the plan cache; lookups need none
        # (positional signature, keyword signature) -> (plan, the inputs given by keyword)
        self._keyword_plans: dict[Any, tuple[Callable[..., Any], tuple[str, ...]]] = {}
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
            self._source = compiler.generate(optimised, backend, None, self._layout)
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
                function = self._plans.get(_signature(args))
            else:
                found = self._keyword_plans.get(_keyword_key(args, kwargs))
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
            raise _failure(error, self._backend) from error

    def _plan(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The plan for these arguments (made on first use), and the tensors in input order."""
        positional, sizes_given = self._arguments(args, kwargs)
        # TensorcError for what is not an array; symbolic sizes get the generic function
        symbolic = tracing.any_symbolic([shape_of(v) for v in positional], sizes_given)
        key: Any = ("symbolic", *map(type, positional)) if symbolic else _signature(positional)
        if sizes_given:  # the generic function takes the sizes given, whatever their values
            key = (key, tuple(sorted(sizes_given if symbolic else sizes_given.items())))
        function = self._plans.get(key)
        if function is None:
            function, generated = self._make_plan(positional, sizes_given, symbolic)
            with self._lock:
                if len(self._keyword_plans) >= PLANS_PER_PROGRAM:
                    self._keyword_plans.clear()
                if len(self._plans) >= PLANS_PER_PROGRAM:
                    oldest = next(iter(self._plans))
                    del self._plans[oldest]
                    compiler.unload(self._generated.pop(oldest))
                self._plans[key] = function
                self._generated[key] = generated
        if symbolic:
            return _taking(function, self._generated[key], sizes_given), tuple(positional)
        if kwargs:  # remember how these keywords bind, for the next call
            named = tuple(name for name in self._inputs[len(args) :] if name in kwargs)
            self._keyword_plans[_keyword_key(args, kwargs)] = (function, named)
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
        planned, known = (compiler.UNKNOWN_SIZES, None) if symbolic else (sizes, sizes)
        optimised = compiler.optimise(self._program, planned, self._passes)
        source = compiler.generate(optimised, backend, known, self._layout, frozenset(sizes_given))
        generated = compiler.load(source, backend)
        function = self._sharded.wrap(generated) if self._sharded else generated
        convert = converter(backend, self._shown, positional)
        if convert is None:
            return function, generated
        return (lambda *args, **sizes: function(*convert(args), **sizes)), generated

    def __del__(self) -> None:
        if compiler is None:  # interpreter shutdown: the modules are going anyway
            return
        for generated in getattr(self, "_generated", {}).values():
            compiler.unload(generated)


def _failure(error: Exception, backend: str | None) -> TensorcError:
    """What a failure of the generated code on checked arguments is reported as."""
    if isinstance(error, IndexError):  # raised by the checks of tensor-valued positions
        return PositionError(str(error))
    # Shapes were checked; what fails now is the backend itself (1/0 on Python numbers,
    # mixed dtypes that a framework's matmul refuses, out of memory, ...).
    return TensorcError(
        f"the generated {backend or 'backend'} code failed on these arguments: "
        f"{type(error).__name__}: {error}"
    )


def _signature(values: Sequence[Any]) -> tuple[Any, ...]:
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


def _taking(
    function: Callable[..., Any], generated: Callable[..., Any], sizes: dict[str, int]
) -> Callable[..., Any]:
    """A generic function given the sizes passed by keyword that it takes: the others are read
    off shapes, which planning checked them against."""
    taken = inspect.signature(generated).parameters
    return functools.partial(function, **{name: n for name, n in sizes.items() if name in taken})


def _keyword_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The signature of a call with keywords: types and shapes, and the values of sizes
    (integers, whose plans differ by value, where a NumPy integer's `.shape` is `()`)."""
    positional = _signature(args)
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
