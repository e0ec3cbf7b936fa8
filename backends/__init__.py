"""The backends: one file per framework, each ending in its `Backend` record, listed here.

A record holds everything tensorc knows about a framework: the generator that writes its
code, and what the runtime, `tc.check`, the command line and autodiff need of its arrays.
Nothing else in tensorc names a framework; it asks this registry instead.

    >>> from tensorc.backends import BACKENDS, backend
    >>> list(BACKENDS)[:3]  # the first three; others may follow
    ['numpy', 'jax', 'torch']
    >>> backend("numpy").generator.__name__
    'NumpyGenerator'

A new backend is a file `backends/<name>.py` that defines `BACKEND = Backend(...)` at its
bottom, plus its name in `ORDER`. A record's functions import their framework when called,
so that `import tensorc` imports none of them.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tensorc.errors import TensorcError
from tensorc.tracing import Tracer

if TYPE_CHECKING:
    import numpy as np

    from tensorc.codegen import Generator
    from tensorc.sharding import MeshSupport

ORDER = ("numpy", "jax", "torch")  # the registry: one backends/<name>.py each, in this order
DEFAULT = "numpy"  # for calls with no array to choose by, and `f.source` when none is named


@dataclass(frozen=True)
class GradientRequest:
    """What a gradient oracle differentiates: the loss sum_k sum(outputs[k] * cotangents[k])
    of a compiled program, with respect to the arguments at the positions `wrt`."""

    call: Callable[..., tuple[Any, ...]]  # the compiled program: arguments -> every output
    arguments: Sequence[Any]  # in input order: the backend's arrays (and Python floats)
    wrt: Sequence[int]  # positions of the tensor arguments to differentiate
    cotangents: dict[int, Any]  # output position -> its weight, a backend array
    dtype: str  # "float64" or "float32": the loss is summed in it


def _as_it_is(value: Any) -> Any:
    return value


def _same_precision(dtype: str) -> AbstractContextManager[Any]:
    """A framework that computes in every dtype as asked needs nothing turned on."""
    return nullcontext()


@dataclass(frozen=True)
class Backend:
    """One framework: its code dialect and what tensorc needs of its arrays at run time."""

    name: str  # what `backend=` takes
    module: str  # the framework's import name: the backend is installed when it imports
    generator: type[Generator]  # writes the backend's Python module
    owns: Callable[[Any], bool]  # whether a value is one of the framework's arrays
    from_numpy: Callable[[Any], Any]  # a NumPy array (or another framework's) as its own
    to_numpy: Callable[[Any], np.ndarray]  # one of its arrays as a NumPy array
    placeholder: Callable[[tuple[int, ...]], Any]  # a float32 array of a shape, no memory
    sum: Callable[[Any, tuple[int, ...], bool], Any]  # (value, axes, keepdims): a sum
    # tc.einsum: a list or number as the framework's einsum takes it (`like`: another operand,
    # for the device), and the result in the dtype the framework's own einsum gives
    einsum_operand: Callable[[Any, Any], Any]
    einsum_result: Callable[[Any, list[Any]], Any]
    precision: Callable[[str], AbstractContextManager[Any]] = _same_precision
    # one of its arrays as the plain kind generated code takes (NumPy: np.matrix -> ndarray);
    # TensorcError for one that would change meaning (a masked array, whose mask is ignored)
    plain: Callable[[Any], Any] = _as_it_is
    # the oracle `tc.check` compares gradients with; None for a framework without autodiff
    gradients: Callable[[GradientRequest], list[np.ndarray]] | None = None
    # sharding over a device mesh (`tc.compile(..., mesh=, shard=)`), or None and why not
    mesh: MeshSupport | None = None
    unsharded: str = "it cannot lay tensors out over a device mesh"
    tracer: Tracer | None = None  # its graph compiler's bytecode tracer, if it has one
    # a generated function through the framework's compiler (`jit=True`); None: it has none
    jit: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None

    def installed(self) -> bool:
        """Whether the framework can be imported here."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False


def owned_by_modules(*prefixes: str) -> Callable[[Any], bool]:
    """An `owns` test by the module that defines a value's type: it imports nothing."""

    def owns(value: Any) -> bool:
        return type(value).__module__.startswith(prefixes)

    return owns


def _load(name: str) -> Backend:
    """The record at the bottom of backends/<name>.py."""
    record: Backend | None = getattr(importlib.import_module(f"{__name__}.{name}"), "BACKEND", None)
    if record is None or record.name != name:
        raise TypeError(f"backends/{name}.py must define BACKEND = Backend(name={name!r}, ...)")
    return record


BACKENDS: dict[str, Backend] = {name: _load(name) for name in ORDER}


def backend(name: str) -> Backend:
    """The record of a backend by name; TensorcError for a name that is not registered."""
    found = BACKENDS.get(name) if isinstance(name, str) else None
    if found is None:
        raise TensorcError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    return found


def owner(value: Any) -> Backend | None:
    """The backend whose arrays include `value`; None for Python numbers and the like."""
    for record in BACKENDS.values():
        if record.owns(value):
            return record
    return None


def with_gradients() -> list[Backend]:
    """The backends that can differentiate: the gradient oracles of `tc.check`."""
    return [record for record in BACKENDS.values() if record.gradients is not None]


__all__ = [
    "BACKENDS",
    "DEFAULT",
    "ORDER",
    "Backend",
    "GradientRequest",
    "backend",
    "owned_by_modules",
    "owner",
    "with_gradients",
]
