"""NumPy code: the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.backends import Backend, owned_by_modules
from tensorc.backends.numpy_kernels import KERNEL_HELPERS
from tensorc.codegen import Code, Generator
from tensorc.codegen.slices import WINDOW_HELPERS
from tensorc.errors import TensorcError
from tensorc.ops import OPS

# How NumPy writes each operation that is not a Python operator (see `Generator.spell`).
SPELLINGS = {
    "not": "np.logical_not",
    "and": "np.logical_and",
    "or": "np.logical_or",
    "exp": "np.exp",
    "log": "np.log",
    "sqrt": "np.sqrt",
    "abs": "np.abs",
    "tanh": "np.tanh",
    "sigmoid": "_sigmoid",
    "relu": "np.maximum({0}, 0)",
    "sin": "np.sin",
    "cos": "np.cos",
    "erf": "_erf",
    "floor": "np.floor",
    "ceil": "np.ceil",
    "round": "np.round",
    "sign": "np.sign",
    "log1p": "np.log1p",
    "expm1": "np.expm1",
    "softplus": "np.logaddexp(0, {0})",
    "silu": "_silu",
    "gelu": "_gelu",
    "maximum": "np.maximum",
    "minimum": "np.minimum",
    "where": "np.where",
    "clip": "np.clip",
    "sum": "np.sum",
    "prod": "np.prod",
    "max": "np.max",
    "min": "np.min",
    "mean": "np.mean",
    "logsumexp": "_logsumexp({0}, {axis})",
    "var": "np.var",
    "std": "np.std",
    "any": "np.any",
    "all": "np.all",
    "argmax": "np.argmax",
    "argmin": "np.argmin",
    "softmax": "_softmax({0}, {axis})",
    "cumsum": "np.cumsum",
    "log_softmax": "_log_softmax({0}, {axis})",
    "cumprod": "np.cumprod",
}

_HELPERS = {
    "_sigmoid": '''
def _sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x; integers and booleans in
    float64 first (-x wraps around in unsigned integers)."""
    return np.exp(-np.logaddexp(0, -_float(np.asarray(x))))
''',
    "_erf": '''
def _erf(x):
    """The error function, exact in float64: NumPy has none, so math.erf runs on each element
    (slow, about 0.3 µs each, but exact), and the result keeps x's float dtype."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(dtype)
''',
    "_silu": '''
def _silu(x):
    """x * sigmoid(x)."""
    return x * _sigmoid(x)
''',
    "_gelu": '''
def _gelu(x):
    """x * P(N(0, 1) <= x): the exact gelu, in the error function."""
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
''',
    "_float": '''
def _float(x):
    """x in a floating dtype: integers and booleans become float64, as np.mean makes them."""
    return x if np.issubdtype(x.dtype, np.inexact) else x.astype(np.float64)
''',
    "_softmax": '''
def _softmax(x, axis):
    """exp(x) / sum(exp(x)) along axis, the maximum subtracted first so that exp cannot overflow."""
    x = _float(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=axis, keepdims=True)
''',
    "_log_softmax": '''
def _log_softmax(x, axis):
    """x - log(sum(exp(x))) along axis, the maximum subtracted first so that exp cannot overflow."""
    x = _float(x)
    peak = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    shifted = x - np.where(np.isfinite(peak), peak, 0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
''',
    "_logsumexp": '''
def _logsumexp(x, axis):
    """log(sum(exp(x))) along axis, the maximum subtracted first so that exp cannot overflow."""
    x = _float(x)
    peak = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0)
    shifted = x - peak
    np.exp(shifted, out=shifted)  # in place: one array the size of x, not two
    return np.log(np.sum(shifted, axis=axis)) + np.squeeze(peak, axis=axis)
''',
}


# Reads and writes at positions (`tensorc.codegen.places`).
_HELPERS["_pad_axis"] = '''
def _pad_axis(x, axis, before, after, mode):
    """x padded along one axis: zeros ("constant"), its edge ("edge") or wrapped ("wrap")."""
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return np.pad(x, widths, mode=mode)
'''

_HELPERS["_window"] = '''
def _window(x, axis, offset, counts, steps):
    """A view of x with `axis` replaced by window axes: element [j1, j2, ...] of them is
    element offset + steps[0] * j1 + steps[1] * j2 + ... of the axis. Nothing is copied."""
    axis = axis % x.ndim
    x = np.moveaxis(x, axis, -1)[..., offset:]
    strides = x.strides[:-1] + tuple(step * x.strides[-1] for step in steps)
    view = np.lib.stride_tricks.as_strided(
        x, x.shape[:-1] + tuple(counts), strides, writeable=False
    )
    return np.moveaxis(view, range(x.ndim - 1, view.ndim), range(axis, axis + len(counts)))
'''

_HELPERS["_in_range"] = '''
def _in_range(positions, size, what):
    """The positions, where all are integers in 0..size-1; else an IndexError naming one.
    One pass for the least and one for the greatest when all are in range."""
    positions = np.asarray(positions)
    if positions.dtype.kind not in "iu":
        raise IndexError(f"{what} must be an integer, not {positions.dtype}")
    if positions.size and (positions.min() < 0 or positions.max() >= size):
        bad = positions[(positions < 0) | (positions >= size)].flat[0]
        raise IndexError(f"{what} is {bad}, outside 0 to {size - 1}")
    return positions
'''

_HELPERS["_scatter"] = '''
def _scatter(into, shape, index, values, accumulate):
    """values written at index into a copy of into (or into zeros of shape); every value
    written to one place is added up if accumulate."""
    values = np.asarray(values)
    if into is None:
        out = np.zeros(shape, values.dtype)
    else:
        out = np.array(into, dtype=np.result_type(into, values))
    if accumulate:
        np.add.at(out, index, values)
    else:
        out[index] = values
    return out
'''


_HELPERS.update(KERNEL_HELPERS)  # backends/numpy_kernels.py
_HELPERS.update(WINDOW_HELPERS)
_HELPERS["_add_windows"] = '''
def _add_windows(into, shape, values, starts, steps):
    """A copy of into (or zeros of shape) with values added at windows (see _window_pieces):
    one strided slice per offset, several times faster than np.add.at at integer arrays."""
    values = np.asarray(values)
    if into is None:
        out = np.zeros(shape, values.dtype)
    else:
        out = np.array(into, dtype=np.result_type(into, values))
    values, steps = _tiled(values, steps)
    for target, value in _window_pieces(values.shape, starts, steps):
        out[target] += values[value]
    return out
'''

# The idioms' helpers (`tensorc.codegen.idioms`): the formula itself for bool and integer x.
_HELPERS["_zeros_like"] = '''
def _zeros_like(x):
    """0 * x ** 0: zeros in x's shape and dtype, written at once where x is floating."""
    return np.zeros_like(x) if x.dtype.kind in "fc" else 0 * x ** 0
'''
_HELPERS["_ones_like"] = '''
def _ones_like(x):
    """x ** 0: ones in x's shape and dtype, written at once where x is floating."""
    return np.ones_like(x) if x.dtype.kind in "fc" else x ** 0
'''
_HELPERS["_count"] = '''
def _count(c, x, axes):
    """sum(where(c, x ** 0, 0)) over axes: counted in integers where x is floating."""
    if x.dtype.kind in "fc":
        return np.count_nonzero(c, axis=axes).astype(x.dtype)
    return np.sum(np.where(c, x ** 0, 0), axis=axes)
'''

_HELPERS["_take_or_zero"] = '''
def _take_or_zero(x, positions, axis):
    """x read at positions along axis, which becomes the positions' axes, with zeros where a
    position is not one of 0..size-1 (nor a whole number): what a one-hot product gives.
    Integer positions all in range are read as they are."""
    positions = np.asarray(positions)
    axis = axis % x.ndim
    size = x.shape[axis]
    integral = positions.dtype.kind in "iu"
    if integral and positions.size and positions.min() >= 0 and positions.max() < size:
        return np.take(x, positions, axis=axis)
    inside = (positions >= 0) & (positions < size)
    if not integral and positions.dtype.kind != "b":
        inside &= positions == np.floor(positions)
    found = np.take(x, np.where(inside, positions, 0).astype(np.intp), axis=axis)
    mask = inside.reshape((1,) * axis + inside.shape + (1,) * (x.ndim - axis - 1))
    return np.where(mask, found, np.zeros((), found.dtype))
'''

_HELPERS["_add_at"] = '''
def _add_at(into, shape, positions, values):
    """A copy of into (or zeros of shape) with values[p] added to row positions[p] for every
    p; rows written more than once add up. Floats go through np.bincount, one column at a
    time (several times faster than np.add.at); other dtypes through np.add.at."""
    values = np.asarray(values)
    if into is None:
        out = np.zeros(shape, values.dtype)
    else:
        out = np.array(into, dtype=np.result_type(into, values))
    rows = positions.reshape(-1).astype(np.intp, copy=False)
    width = int(np.prod(out.shape[1:], dtype=np.int64))
    if out.dtype.kind != "f" or width > 64:
        np.add.at(out, rows, values.reshape((rows.size,) + out.shape[1:]))
        return out
    columns = out.reshape(out.shape[0], width)
    weights = values.reshape(rows.size, width)
    for c in range(width):
        columns[:, c] += np.bincount(rows, weights=weights[:, c], minlength=out.shape[0])
    return out
'''


class NumpyGenerator(Generator):
    """Generates a NumPy module; softmax, logsumexp and sigmoid come as small stable helpers."""

    module = "np"
    imports = ("import numpy as np",)
    helpers = _HELPERS
    spellings = SPELLINGS
    idioms = {  # noqa: RUF012 - `tensorc.codegen.idioms`
        "zeros_like": "_zeros_like({x})",
        "ones_like": "_ones_like({x})",
        "count": "_count({c}, {x}, {axes})",
    }

    def function(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        code = super().function(op, args, scalars)
        if all(scalars) and not OPS[op].boolean:
            # np.sqrt(8.0) is a float64 NumPy scalar, which would promote float32 arrays;
            # as a Python float it does not, as on the other backends.
            return Code(f"float({code.text})")
        return code

    def inplace_function(self, op: str, operand: Code) -> Code | None:
        name = self.name_of(operand)
        return Code(f"np.maximum({name}, 0, out={name})")


# --- tc.einsum: operands and results as numpy.einsum has them --------------------------------


def einsum_operand(value: Any, like: Any = None) -> Any:
    """A list or a number as numpy.einsum takes it: an array (a Python int is int64)."""
    import numpy as np

    return np.asarray(value)


def einsum_result(value: Any, operands: list[Any]) -> Any:
    """numpy.einsum's result: an array (0-d for a scalar) of the operands' common dtype, so
    that integers wrap as numpy's do and booleans stay booleans (any/all, not counts)."""
    import numpy as np

    return np.asarray(value).astype(np.result_type(*operands), copy=False)


# --- the runtime record ---------------------------------------------------------------------


def _placeholder(shape: tuple[int, ...]) -> Any:
    """A read-only float32 array of any shape over one element."""
    return np.broadcast_to(np.zeros((), dtype=np.float32), shape)


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return value.sum(axis=axes, keepdims=keepdims)


def _plain(value: Any) -> Any:
    """An ndarray subclass as a plain ndarray: `*` on an np.matrix is a matrix product and
    its reductions stay 2-D. A masked array is refused: the generated code would ignore its mask."""
    if isinstance(value, np.ma.MaskedArray):
        raise TensorcError(
            "it is a masked array, and tensorc does not apply masks: pass a.filled(value) to "
            "choose the values under the mask, or np.asarray(a) for the data as stored"
        )
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        return np.asarray(value)
    return value


BACKEND = Backend(
    name="numpy",
    module="numpy",
    generator=NumpyGenerator,
    owns=owned_by_modules("numpy"),
    from_numpy=np.asarray,
    to_numpy=np.asarray,
    placeholder=_placeholder,
    sum=_sum,
    plain=_plain,
    einsum_operand=einsum_operand,
    einsum_result=einsum_result,
    unsharded="NumPy computes on one CPU device: it has no device mesh to split tensors over "
    '(shard with backend="jax")',
)
