"""A call's arguments, checked before any backend sees them: binding them to names, their
shapes, the backend they choose, keyword sizes, and the conversions generated code needs.

Compiled programs (`tensorc.runtime`) and derivatives (`tensorc.autodiff`) bind alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from numbers import Integral
from typing import Any

from tensorc import backends
from tensorc.errors import ShapeError, TensorcError
from tensorc.ir.shapes import unknown_keyword
from tensorc.tracing import symbolic

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
    """An index size passed by keyword: a non-negative int (a NumPy integer too), or a
    graph compiler's symbolic size (dynamo makes int arguments symbolic)."""
    if symbolic(value):
        return value
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise TensorcError(f"the size {name}={_brief(value)} must be a non-negative int")
    return int(value)


def size_keywords(inputs: Sequence[str], indices: Collection[str]) -> Callable[[str, Any], int]:
    """The check of the keywords that are not inputs: each must name an index and be a size."""

    def check(name: str, value: Any) -> int:
        if name not in indices:
            raise unknown_keyword(name, [*inputs, *indices])
        return size_keyword(name, value)

    return check


def _brief(value: Any) -> str:
    """A value as a message shows it: an array by its type and shape, never its elements."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        return f"<{type(value).__name__} of shape {shape}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- shapes and backends --------------------------------------------------------------------


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of an array or a Python number; TensorcError for anything else."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        dims = _dims(shape)
        if dims is None:
            raise TensorcError(
                f"expected an array or a number, got {type(value).__name__} whose .shape "
                f"{_brief(shape)} is not a tuple of non-negative ints"
            )
        return dims
    if isinstance(value, int | float | complex) or symbolic(value):  # bool is an int
        return ()
    raise TensorcError(f"expected an array or a number, got {type(value).__name__}")


def input_shapes(
    names: Sequence[str], values: Sequence[Any], scalars: Collection[str]
) -> dict[str, tuple[int, ...]]:
    """The shape of each input's value; ShapeError for an array given for a scalar input."""
    shapes = {}
    for name, value in zip(names, values, strict=True):
        shape = shape_of(value)
        if name in scalars and shape != ():
            raise ShapeError(f"'{name}' is used as a scalar but the argument has shape {shape}")
        shapes[name] = shape
    return shapes


def _dims(shape: Any) -> tuple[int, ...] | None:
    """A shape's sizes as ints, or None where `.shape` is not a tuple of sizes (a list or a
    string on an object that only looks like an array). A framework's own integer types
    become ints as `int()` makes them; a graph compiler's symbolic sizes stay as they are
    (`int()` would fix them to the sizes of the example it traces)."""
    if not isinstance(shape, tuple) or any(isinstance(n, str | bytes | float) for n in shape):
        return None
    try:
        dims = tuple(n if symbolic(n) else int(n) for n in shape)
    except (TypeError, ValueError):
        return None
    return dims if all(n >= 0 for n in dims) else None


def backend_of(value: Any) -> str | None:
    """The backend an argument belongs to, from its type; None for plain numbers."""
    found = backends.owner(value)
    return None if found is None else found.name


def choose_backend(requested: str | None, args: Sequence[Any]) -> str:
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


Conversion = Callable[[Any], Any]


def converter(
    backend: str, names: Sequence[str], args: Sequence[Any]
) -> Callable[[tuple[Any, ...]], list[Any]] | None:
    """A function that gives generated code arrays it can take: another framework's become
    the backend's own, and arrays of special kinds plain ones (an `np.matrix` would multiply
    as matrices); None where every argument is fine as it is. TensorcError for an argument
    that cannot be converted without changing its meaning (a masked array), naming it as
    `names` do ("input 'A'", "operand 0")."""
    steps: dict[int, Conversion] = {}
    for k, (name, value) in enumerate(zip(names, args, strict=True)):
        step = _conversion(backend, name, value)
        if step is not None:
            steps[k] = step
    if not steps:
        return None

    def convert(values: tuple[Any, ...]) -> list[Any]:
        return [steps[k](v) if k in steps else v for k, v in enumerate(values)]

    return convert


def _conversion(backend: str, name: str, value: Any) -> Conversion | None:
    """How one argument becomes what the backend's generated code takes, or None: as it is."""
    own = backends.owner(value)
    if own is None:
        return None
    try:
        plain = own.plain(value)
    except TensorcError as error:
        raise TensorcError(f"{name}: {error.message}") from None
    if own.name != backend:
        to_native, make_plain = backends.backend(backend).from_numpy, own.plain
        return lambda v: to_native(make_plain(v))
    return None if plain is value else own.plain
