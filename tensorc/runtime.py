"""Compiled programs at call time: binding arguments, choosing the backend, caching plans.

A plan is the generated function for one backend and one signature of argument shapes; it is
made once (shape check, contraction planning for the real sizes, code generation) and then
every call with the same signature goes straight to it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from tensorc import backends, compiler
from tensorc.errors import ShapeError, TensorcError
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import display_name
from tensorc.ir.shapes import Sizes, infer_sizes, reads
from tensorc.passes import PASSES, Pass

PLANS_PER_PROGRAM = 64
PROGRAMS_CACHED = 512


class Program:
    """A compiled tensorc program: call it with arrays; read `source` and `ir`."""

    def __init__(self, program: ir.Program, backend: str | None, passes: Sequence[Pass]):
        self._program = program
        self._backend = backend
        self._passes = tuple(passes)
        self._plans: dict[Any, Callable[..., Any]] = {}
        self._generated: dict[Any, Callable[..., Any]] = {}  # the generated function of each plan
        self._lock = threading.Lock()  # for changes to the plan cache; lookups need none
        # (positional signature, keyword signature) -> (plan, the inputs given by keyword)
        self._keyword_plans: dict[Any, tuple[Callable[..., Any], tuple[str, ...]]] = {}
        self._inputs = tuple(spec.name for spec in program.inputs)
        self._scalars = {spec.name for spec in program.inputs if spec.is_scalar}
        self._source: str | None = None
        self._ir: str | None = None

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
            self._source = compiler.generate(optimised, self._backend or backends.DEFAULT, None)
        return self._source

    @property
    def ir(self) -> str:
        """The optimised IR as text, planned for nominal sizes."""
        if self._ir is None:
            self._ir = compiler.describe(self._program, compiler.UNKNOWN_SIZES, self._passes)
        return self._ir

    def ir_for(self, *args: Any, **kwargs: Any) -> str:
        """The optimised IR for these arguments' shapes (contraction paths with real FLOPs)."""
        _, sizes, _ = self._bind(args, kwargs)
        return compiler.describe(self._program, sizes, self._passes)

    def source_for(self, *args: Any, **kwargs: Any) -> str:
        """The generated module specialised to these arguments' shapes."""
        backend, sizes, _ = self._bind(args, kwargs)
        optimised = compiler.optimise(self._program, sizes, self._passes)
        return compiler.generate(optimised, backend, sizes)

    def sizes_for(self, *args: Any, **kwargs: Any) -> dict[str, int]:
        """Every index's size for these arguments (ShapeError where they disagree)."""
        return dict(self._bind(args, kwargs)[1].of)

    def shapes_for(self, *args: Any, **kwargs: Any) -> dict[str, tuple[int, ...]]:
        """The shape of every input and every statement's target for these arguments."""
        _, sizes, positional = self._bind(args, kwargs)
        shapes = {
            name: shape_of(value) for name, value in zip(self._inputs, positional, strict=True)
        }
        for let in self._program.lets:
            shapes[display_name(let.name)] = sizes.shape(let.value.indices)
        return shapes

    def labels(self) -> dict[str, tuple[str, ...]]:
        """How each input and target is indexed where it first appears (for display)."""
        found: dict[str, tuple[str, ...]] = {}
        for _, var in reads(self._program):
            found.setdefault(display_name(var.name), var.labels)
        for let in self._program.lets:
            found[display_name(let.name)] = let.value.indices
        return found

    def function_for(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """The generated function that a call with these arguments runs (tensors positionally)."""
        return self._plan(args, kwargs)[0]

    def __repr__(self) -> str:
        backend = self._backend or "any backend"
        return f"<tensorc.Program ({', '.join(self._inputs)}) -> {', '.join(self.outputs)} on {backend}>"

    # --- calling ----------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The fast paths: a plan for these types and shapes (and keywords) exists.
        function = None
        if not kwargs:  # `_signature(args)`, written out: this line is the hot path
            function = self._plans.get(tuple([(type(a), getattr(a, "shape", None)) for a in args]))
        else:
            found = self._keyword_plans.get(_keyword_key(args, kwargs))
            if found is not None:
                function, named = found
                args = (*args, *[kwargs[name] for name in named])
        if function is None:
            function, args = self._plan(args, kwargs)
        try:
            return function(*args)
        except Exception as error:
            # Shapes were checked; what fails now is the backend itself (1/0 on Python
            # numbers, mixed dtypes that a framework's matmul refuses, out of memory, ...).
            raise TensorcError(
                f"the generated {self._backend or 'backend'} code failed on these arguments: "
                f"{type(error).__name__}: {error}"
            ) from error

    def _plan(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The plan for these arguments (made on first use), and the tensors in input order."""
        positional, sizes_given = self._arguments(args, kwargs)
        key: Any = _signature(positional)
        if sizes_given:
            key = (key, tuple(sorted(sizes_given.items())))
        function = self._plans.get(key)
        if function is None:
            function, generated = self._make_plan(positional, sizes_given)
            with self._lock:
                if len(self._keyword_plans) >= PLANS_PER_PROGRAM:
                    self._keyword_plans.clear()
                if len(self._plans) >= PLANS_PER_PROGRAM:
                    oldest = next(iter(self._plans))
                    del self._plans[oldest]
                    compiler.unload(self._generated.pop(oldest))
                self._plans[key] = function
                self._generated[key] = generated
        if kwargs:  # remember how these keywords bind, for the next call like this one
            named = tuple(name for name in self._inputs[len(args) :] if name in kwargs)
            self._keyword_plans[_keyword_key(args, kwargs)] = (function, named)
        return function, tuple(positional)

    def _arguments(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[list[Any], dict[str, int]]:
        """Arguments in input order, and the index sizes passed by keyword."""
        values, sizes = bind(self._inputs, args, kwargs, size_keyword)
        return [values[name] for name in self._inputs], sizes

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Sizes, list[Any]]:
        """The backend, the index sizes and the tensors in input order for a call's arguments."""
        positional, sizes_given = self._arguments(args, kwargs)
        backend, sizes = self._sizes(positional, sizes_given)
        return backend, sizes, positional

    def _sizes(self, positional: list[Any], sizes_given: dict[str, int]) -> tuple[str, Sizes]:
        """The backend and every index size for bound arguments; ShapeError where they clash."""
        backend = choose_backend(self._backend, positional)
        shapes = {}
        for name, value in zip(self._inputs, positional, strict=True):
            shape = shape_of(value)
            if name in self._scalars and shape != ():
                raise ShapeError(f"'{name}' is used as a scalar but the argument has shape {shape}")
            shapes[name] = shape
        return backend, infer_sizes(self._program, shapes, sizes_given)

    def _make_plan(
        self, positional: list[Any], sizes_given: dict[str, int]
    ) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The function to call for these arguments, and the generated function inside it."""
        backend, sizes = self._sizes(positional, sizes_given)
        optimised = compiler.optimise(self._program, sizes, self._passes)
        function = compiler.load(compiler.generate(optimised, backend, sizes), backend)
        convert = converter(backend, positional)
        if convert is None:
            return function, function
        return (lambda *args: function(*convert(args))), function

    def __del__(self) -> None:
        if compiler is None:  # interpreter shutdown: the modules are going anyway
            return
        for generated in getattr(self, "_generated", {}).values():
            compiler.unload(generated)


def _signature(values: Sequence[Any]) -> tuple[tuple[type, Any], ...]:
    """What a plan depends on: each argument's type and shape (None for a Python number)."""
    return tuple([(type(value), getattr(value, "shape", None)) for value in values])


def _keyword_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The signature of a call with keywords: types and shapes, and the values of sizes."""
    positional = _signature(args)
    named = tuple(
        [
            (name, type(value), getattr(value, "shape", value if type(value) is int else None))
            for name, value in sorted(kwargs.items())
        ]
    )
    return positional, named


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of an array or a Python number; TensorcError for anything else."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(int(n) for n in shape)
    if isinstance(value, int | float | complex):  # bool included: it is an int
        return ()
    raise TensorcError(f"expected an array or a number, got {type(value).__name__}")


def backend_of(value: Any) -> str | None:
    """The backend an argument belongs to, from its type; None for plain numbers."""
    found = backends.owner(value)
    return None if found is None else found.name


def choose_backend(requested: str | None, args: list[Any]) -> str:
    """The requested backend, or the one the arguments' types name (they must agree)."""
    if requested is not None:
        return requested
    found = {b for b in map(backend_of, args) if b is not None}
    if len(found) > 1:
        raise TensorcError(
            f"the arguments mix {' and '.join(sorted(found))} arrays: pass one kind, "
            "or name the backend"
        )
    return found.pop() if found else backends.DEFAULT


def converter(backend: str, args: list[Any]) -> Callable[[tuple[Any, ...]], list[Any]] | None:
    """A function that turns foreign arrays into the backend's own, or None if none are foreign."""
    foreign = [k for k, value in enumerate(args) if backend_of(value) not in (None, backend)]
    if not foreign:
        return None
    to_native = backends.backend(backend).from_numpy

    def convert(values: tuple[Any, ...]) -> list[Any]:
        return [to_native(v) if k in foreign else v for k, v in enumerate(values)]

    return convert


# --- binding arguments to names -------------------------------------------------------------


def bind(
    names: Sequence[str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    other: Callable[[str, Any], Any] = lambda name, value: value,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The value of each of `names` from a call's positional and keyword arguments, and the
    other keywords (each passed through `other`, which may refuse it); TensorcError for too
    many arguments, a name given twice, or one missing."""
    if len(args) > len(names):
        raise TensorcError(
            f"expected {len(names)} inputs ({', '.join(names)}) but got {len(args)} arguments"
        )
    values = dict(zip(names, args, strict=False))
    rest: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name not in names:
            rest[name] = other(name, value)
        elif name in values:
            raise TensorcError(f"input '{name}' is given twice")
        else:
            values[name] = value
    missing = [name for name in names if name not in values]
    if missing:
        raise TensorcError(f"missing argument for input '{missing[0]}'")
    return values, rest


def size_keyword(name: str, value: Any) -> int:
    """An index size passed by keyword: a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TensorcError(f"the size {name}={value!r} must be a non-negative int")
    return value


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


def compile_program(
    source: str, backend: str | None = None, passes: Sequence[Pass] = PASSES, einsum: bool = False
) -> Program:
    """The compiled program for `source`, from the cache when it was compiled before."""
    compiler.check_backend(backend)
    key = (source, backend, tuple(passes), einsum)
    return CACHE.get(key, lambda: Program(compiler.front_end(source, einsum), backend, passes))
