"""`tc.einsum` and `tc.einsum_path`: numpy.einsum's interface over compiled einsum programs.

What numpy.einsum accepts, `einsum` accepts: subscripts and operands, or the sublist form;
lists and numbers as operands; `optimize=`; and on the NumPy backend `out=`, `dtype=`,
`order=` and `casting=`. The program is compiled once per subscripts text. What depends on
the operands' shapes is settled first, by rewriting the subscripts for those shapes
(`frontend.einsum.for_shapes`): the axes of an ellipsis that the output leaves out are
summed, and a labelled axis of size 1 broadcasts. The result is finished by the backend's
`einsum_result`: an array, 0-d for a scalar, of the dtype that backend's own einsum gives.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import opt_einsum

from tensorc import tracing
from tensorc.arguments import backend_of, choose_backend
from tensorc.backends import backend as backend_named
from tensorc.compiler import check_backend
from tensorc.errors import ArgumentTypeError, PathError, ShapeError, TensorcError
from tensorc.frontend.einsum import for_shapes, sublist_subscripts
from tensorc.passes import PASSES, Pass
from tensorc.passes.plan_contractions import AUTO, PlanContractions, plan_contractions
from tensorc.runtime import Program, compile_program

ORDERS = ("C", "F", "A", "K")
CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")
NUMPY_KINDS = "biufcO"  # bool, integers, floats, complex and objects: what numpy.einsum sums
CALLS_CACHED = 4096

_calls: dict[Any, tuple[Any, Any]] = {}  # (subscripts, backend, operand types) -> (program, hooks)


def einsum(
    *operands: Any,
    backend: str | None = None,
    optimize: Any = AUTO,
    out: Any = None,
    dtype: Any = None,
    order: str = "K",
    casting: str = "safe",
) -> Any:
    """numpy.einsum semantics, on the operands' backend (or the one named): the subscripts
    and operands, or numpy's sublist form; `optimize=` the planning strategy or path; `out=`,
    `dtype=`, `order=` and `casting=` as numpy has them (NumPy backend). See docs/einsum.md."""
    if tracing.active():  # planning is Python dynamo cannot trace: see tracing
        path = False if optimize is None else optimize  # the same; a traced call takes no None
        given = dict(backend=backend, optimize=path, out=out, dtype=dtype, order=order)
        options = {name: value for name, value in given.items() if value is not None}
        return tracing.einsum(operands, dict(options, casting=casting))
    return einsum_here(operands, backend, optimize, out, dtype, order, casting)


def einsum_here(
    operands: tuple[Any, ...],
    backend: str | None = None,
    optimize: Any = AUTO,
    out: Any = None,
    dtype: Any = None,
    order: str = "K",
    casting: str = "safe",
) -> Any:
    """`einsum`, planned and run here even while a tracer works: what a traced call runs
    (`tracing.einsum`), which must not hand the call over again (see `Program.traced_call`)."""
    plain = out is None and dtype is None and order == "K" and casting == "safe"
    if (
        plain
        and type(optimize) is str
        and optimize == AUTO
        and operands
        and type(operands[0]) is str
    ):
        # The fast path: subscripts and arrays, seen before with these types and shapes.
        try:
            found = _calls.get(_signature(operands, backend))
        except (AttributeError, TypeError):  # a list or a number, or symbolic sizes
            found = None
        if found is not None:
            program, hooks = found
            return hooks.einsum_result(program(*operands[1:]), operands[1:])
    call = plan_call(operands, backend, optimize, out, dtype, casting, order)
    result = call.hooks.einsum_result(call.program(*call.values), call.values)
    if plain and call.plain and not call.symbolic:
        _remember(operands, backend, call.program, call.hooks)
    if call.backend != "numpy":
        return result
    return _finish_numpy(result, call.values, out, order, casting)


@dataclass(frozen=True)
class Call:
    """An einsum call made ready: its program, the backend's einsum hooks, the operands."""

    program: Program
    hooks: Any  # the backend module, with einsum_operand and einsum_result
    values: list[Any]
    backend: str
    plain: bool  # subscripts and the backend's arrays as given, planned by default
    symbolic: bool = False  # a graph compiler's symbolic sizes among the operands' shapes


def plan_call(
    operands: tuple[Any, ...],
    backend: str | None,
    optimize: Any,
    out: Any = None,
    dtype: Any = None,
    casting: Any = "safe",
    order: Any = "K",
) -> Call:
    """Everything a call does before it computes: the arguments read and checked, lists and
    numbers made arrays, the subscripts rewritten for the shapes, the program compiled."""
    check_backend(backend)
    text, values = split_arguments(operands)
    chosen_plan = planner(optimize)
    numpy_dtype = _check_numpy_options(out, dtype, order, casting)
    chosen = choose_backend(backend, [v for v in values if _is_array(v)])
    hooks = backend_named(chosen)
    like = next((v for v in values if _is_array(v) and backend_of(v) == chosen), None)
    values = [_operand(value, k, hooks, chosen, like) for k, value in enumerate(values)]
    if chosen != "numpy" and (out is not None or dtype is not None):
        raise TensorcError(f"out= and dtype= work on the NumPy backend only, not on {chosen}")
    if numpy_dtype is not None:
        values = _cast_operands(values, numpy_dtype, casting)
    shapes = tuple(tuple(_size(n) for n in value.shape) for value in values)
    if chosen_plan is not None and isinstance(chosen_plan.strategy, tuple):
        _check_path(chosen_plan.strategy, len(values))
    program = compile_program(for_shapes(text, shapes), backend, passes_with(chosen_plan), True)
    plain = (
        chosen_plan == PlanContractions()
        and isinstance(operands[0], str)
        and len(values) == len(operands) - 1
        and all(value is original for value, original in zip(values, operands[1:], strict=True))
    )
    symbolic = any(tracing.symbolic(n) for value in values for n in value.shape)
    return Call(program, hooks, values, chosen, plain, symbolic)


def _size(size: Any) -> int:
    """An operand's size for rewriting the subscripts: a symbolic size (a graph compiler's)
    stands for 2, which is what matters here (not 1: compilers fix sizes 0 and 1)."""
    return 2 if tracing.symbolic(size) else int(size)


def _signature(operands: tuple[Any, ...], backend: str | None) -> Any:
    """What a plain call's program depends on: the subscripts, the backend named, and each
    operand's type, shape and dtype (AttributeError for an operand that is not an array)."""
    return (operands[0], backend, tuple([(type(v), v.shape, v.dtype) for v in operands[1:]]))


def _remember(operands: tuple[Any, ...], backend: str | None, program: Any, hooks: Any) -> None:
    """Keeps a plain call's program for the fast path."""
    if len(_calls) >= CALLS_CACHED:
        _calls.clear()
    _calls[_signature(operands, backend)] = (program, hooks)


def einsum_path(*operands: Any, optimize: Any = "greedy") -> tuple[list[Any], str]:
    """numpy.einsum_path's `(path, report)` for these operands (only their shapes matter):
    numpy's own answer, or opt_einsum's where numpy cannot take the subscripts (letters
    beyond ASCII) or the strategy (opt_einsum's other names)."""
    text, values = split_arguments(operands)
    chosen = planner(optimize)
    shapes = tuple(_shape(value, k) for k, value in enumerate(values))
    standins = [np.broadcast_to(np.empty((), np.float64), shape) for shape in shapes]
    # every check einsum makes (operand count, ranks, sizes), with einsum's messages
    compile_program(for_shapes(text, shapes), None, PASSES, True).sizes_for(*standins)
    path = chosen.strategy if chosen is not None else False
    if isinstance(path, tuple):
        _check_path(path, len(values))
    try:
        numpy_plans = path in (False, "greedy", "optimal") or (isinstance(path, tuple) and path)
        if text.isascii() and numpy_plans:
            asked = ["einsum_path", *path] if isinstance(path, tuple) else optimize
            found, report = np.einsum_path(text, *standins, optimize=asked)
            return list(found), str(report)
        search = "auto-hq" if path == AUTO else list(path) if isinstance(path, tuple) else path
        limit = None if chosen is None else chosen.memory_limit
        steps, info = opt_einsum.contract_path(text, *standins, optimize=search, memory_limit=limit)
    except Exception as error:  # checked above: what remains is the library's own limit
        raise TensorcError(f"the path search failed: {type(error).__name__}: {error}") from error
    return ["einsum_path", *steps], str(info)


# --- arguments ----------------------------------------------------------------------------


def split_arguments(arguments: Sequence[Any]) -> tuple[str, list[Any]]:
    """The subscripts text and the operands of an einsum call, in any form numpy takes:
    `("ij,jk", a, b)`, or sublists `(a, [0, 1], b, [1, 2], [0, 2])`; and the form that takes
    `("ij,jk", [a, b])`, a list of tensors as the one operand (as some frameworks do)."""
    if not arguments:
        raise TensorcError(
            "einsum needs the subscripts and at least one operand, or operands each followed by "
            "its subscripts list"
        )
    first, rest = arguments[0], list(arguments[1:])
    if isinstance(first, str):
        if len(rest) == 1 and _is_tensor_list(rest[0]):
            rest = list(rest[0])
        return first, rest
    operands = list(arguments[0::2])
    sublists = list(arguments[1::2])
    output = None
    if len(arguments) % 2:
        output = operands.pop()
    terms = [sublist_subscripts(sublist, k) for k, sublist in enumerate(sublists)]
    text = ",".join(terms)
    if output is not None:
        text += "->" + sublist_subscripts(output, None)
    return text, operands


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _is_tensor_list(value: Any) -> bool:
    """A list of arrays of a framework other than NumPy (NumPy would stack a list of arrays)."""
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(_is_array(v) and backend_of(v) not in (None, "numpy") for v in value)
    )


def _operand(value: Any, position: int, hooks: Any, backend: str, like: Any = None) -> Any:
    """An operand as the backend's array: lists, numbers and other frameworks' arrays
    converted (onto the device of `like`, an operand of the backend), anything else refused."""
    if not _is_array(value) or backend_of(value) not in (None, backend):
        number = isinstance(value, numbers.Number) or tracing.symbolic(value)
        if not (number or isinstance(value, list | tuple) or _is_array(value)):
            raise ArgumentTypeError(
                f"operand {position} is a {type(value).__name__}: einsum takes arrays, "
                "numbers and lists of numbers"
            )
        try:
            value = hooks.einsum_operand(value, like)
        except Exception as error:
            raise ArgumentTypeError(
                f"operand {position} cannot be made an array: {type(error).__name__}: {error}"
            ) from None
    kind = getattr(value.dtype, "kind", "f")
    if isinstance(kind, str) and kind not in NUMPY_KINDS:
        raise ArgumentTypeError(
            f"operand {position} has dtype {value.dtype}, which einsum cannot sum"
        )
    return value


def _shape(value: Any, position: int) -> tuple[int, ...]:
    """An operand's shape, for einsum_path: arrays, numbers and lists of numbers."""
    if _is_array(value):
        return tuple(int(n) for n in value.shape)
    return tuple(_operand(value, position, backend_named("numpy"), "numpy").shape)


# --- optimize= ------------------------------------------------------------------------------


def planner(optimize: Any) -> PlanContractions | None:
    """The planning pass for einsum's `optimize=`: None for False (or None), which plans
    nothing and contracts in the written order; True is numpy's "greedy"; a name is an
    opt_einsum strategy ("auto", the default, is tensorc's own choice); `(name, memory_limit)`
    as numpy takes it; or a path, with or without numpy's leading "einsum_path"."""
    if optimize is None or optimize is False:
        return None
    limit = None
    if optimize is True:
        optimize = "greedy"
    if (
        isinstance(optimize, list | tuple)
        and len(optimize) == 2
        and isinstance(optimize[0], str)
        and optimize[0] != "einsum_path"
        and isinstance(optimize[1], int | float)
    ):
        optimize, limit = optimize[0], optimize[1]
        if limit <= 0:  # no intermediate may be kept: nothing to plan, as numpy has it
            return None
        limit = int(limit) if math.isfinite(limit) else None
    return PlanContractions(_strategy(optimize), limit)


def passes_with(chosen: PlanContractions | None) -> tuple[Pass, ...]:
    """PASSES with this planning pass in place of the default one (or none)."""
    if chosen is None:
        return tuple(p for p in PASSES if p is not plan_contractions)
    if chosen == PlanContractions():
        return PASSES  # the programs tc.compile makes: one cache entry for both
    return tuple(chosen if p is plan_contractions else p for p in PASSES)


def _strategy(optimize: Any) -> str | tuple[tuple[int, ...], ...]:
    if isinstance(optimize, str):
        if optimize != AUTO:
            try:
                opt_einsum.paths.get_path_fn(optimize)
            except KeyError:
                raise TensorcError(
                    f"unknown optimize={optimize!r}: use False, True, 'greedy', 'optimal', a "
                    "path, or another of opt_einsum's strategies"
                ) from None
        return optimize
    if isinstance(optimize, list | tuple):
        steps = list(optimize)
        if steps and steps[0] == "einsum_path":
            steps = steps[1:]
        try:
            return tuple(tuple(operator.index(k) for k in step) for step in steps)
        except TypeError:
            pass
    raise ArgumentTypeError(
        f"optimize= takes False, True, a strategy name or a path, not {optimize!r}"
    )


def _check_path(path: tuple[tuple[int, ...], ...], count: int) -> None:
    """PathError unless `path` contracts `count` operands into one, step by step."""
    left = count
    for step in path:
        if not step or len(set(step)) != len(step) or not all(0 <= k < left for k in step):
            raise PathError(f"invalid einsum path: step {step} with {left} operands left")
        left -= len(step) - 1
    if left != 1 and count > 0:
        raise PathError(f"invalid einsum path: {left} operands are left uncontracted")


# --- the NumPy backend's out=, dtype=, order= and casting= ------------------------------------


def _check_numpy_options(out: Any, dtype: Any, order: Any, casting: Any) -> np.dtype | None:
    """The dtype asked for (None if none); errors for options numpy.einsum would refuse."""
    if not isinstance(order, str) or order.upper() not in ORDERS:
        raise TensorcError(f"order must be one of 'C', 'F', 'A' or 'K', not {order!r}")
    if casting not in CASTINGS:
        raise TensorcError(
            f"casting must be one of {', '.join(map(repr, CASTINGS))}, not {casting!r}"
        )
    if out is not None and not isinstance(out, np.ndarray):
        raise ArgumentTypeError(f"out= must be a NumPy array, not {type(out).__name__}")
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError as error:
        raise ArgumentTypeError(f"dtype={dtype!r} is not a data type: {error}") from None


def _cast_operands(values: list[Any], dtype: np.dtype, casting: Any) -> list[Any]:
    for position, value in enumerate(values):
        if not np.can_cast(value.dtype, dtype, casting):
            raise ArgumentTypeError(
                f"operand {position} cannot be cast from {value.dtype} to {dtype} under "
                f"casting={casting!r}"
            )
    return [value.astype(dtype, copy=False) for value in values]


def _finish_numpy(
    result: np.ndarray, values: list[Any], out: Any, order: str, casting: Any
) -> np.ndarray:
    """The result in the memory order asked for, or written into `out` (and `out` returned)."""
    layout: Any = order.upper()
    if layout == "A":
        fortran = all(v.flags.f_contiguous and not v.flags.c_contiguous for v in values)
        layout = "F" if fortran else "C"
    if layout in ("C", "F"):
        result = np.asarray(result, order=layout)
    if out is None:
        return result
    if out.shape != result.shape:
        raise ShapeError(f"out= has shape {out.shape} but the result has shape {result.shape}")
    if not np.can_cast(result.dtype, out.dtype, casting):
        raise ArgumentTypeError(
            f"the result's dtype {result.dtype} cannot be cast to out='s {out.dtype} under "
            f"casting={casting!r}"
        )
    np.copyto(out, result, casting="unsafe")
    return out
