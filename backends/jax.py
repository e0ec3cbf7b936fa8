"""JAX code: one function under `jax.jit`, so that XLA fuses the elementwise chains."""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from tensorc.backends import Backend, GradientRequest, owned_by_modules
from tensorc.codegen import ATOM, Code, Generator

# How JAX writes each operation that is not a Python operator (see `Generator.spell`).
SPELLINGS = {
    "not": "jnp.logical_not",
    "and": "jnp.logical_and",
    "or": "jnp.logical_or",
    "exp": "jnp.exp",
    "log": "jnp.log",
    "sqrt": "jnp.sqrt",
    "abs": "jnp.abs",
    "tanh": "jnp.tanh",
    "sin": "jnp.sin",
    "cos": "jnp.cos",
    "erf": "jax.scipy.special.erf",
    "floor": "jnp.floor",
    "ceil": "jnp.ceil",
    "round": "jnp.round",
    "sign": "jnp.sign",
    "log1p": "jnp.log1p",
    "expm1": "jnp.expm1",
    "softplus": "jax.nn.softplus",
    "silu": "jax.nn.silu",
    "gelu": "jax.nn.gelu({0}, approximate=False)",
    "sigmoid": "jax.nn.sigmoid",
    "relu": "jax.nn.relu",
    "maximum": "jnp.maximum",
    "minimum": "jnp.minimum",
    "where": "jnp.where",
    "clip": "jnp.clip",
    "sum": "jnp.sum",
    "prod": "jnp.prod",
    "max": "jnp.max",
    "min": "jnp.min",
    "mean": "jnp.mean",
    "logsumexp": "jax.nn.logsumexp",
    "var": "jnp.var",
    "std": "jnp.std",
    "any": "jnp.any",
    "all": "jnp.all",
    "softmax": "jax.nn.softmax",
    "cumsum": "jnp.cumsum",
    "log_softmax": "jax.nn.log_softmax",
    "cumprod": "jnp.cumprod",
}


# Reads and writes at positions (`tensorc.codegen.places`).
_HELPERS = {
    "_pad_axis": '''
def _pad_axis(x, axis, before, after, mode):
    """x padded along one axis: zeros ("constant"), its edge ("edge") or wrapped ("wrap")."""
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return jnp.pad(x, widths, mode=mode)
''',
    "_window": '''
def _window(x, axis, offset, counts, steps):
    """x with `axis` replaced by window axes: element [j1, j2, ...] of them is element
    offset + steps[0] * j1 + steps[1] * j2 + ... of the axis (a gather: JAX has no views)."""
    positions = offset
    for k, (count, step) in enumerate(zip(counts, steps)):
        shape = [1] * len(counts)
        shape[k] = count
        positions = positions + step * jnp.arange(count).reshape(shape)
    return jnp.take(x, positions, axis=axis)
''',
    "_scatter": '''
def _scatter(into, shape, index, values, accumulate):
    """values written at index into into (or into zeros of shape); every value written to
    one place is added up if accumulate; values written outside are dropped, as JAX does."""
    values = jnp.asarray(values)
    if into is None:
        into = jnp.zeros(shape, values.dtype)
    dtype = jnp.result_type(into, values)
    target = into.astype(dtype).at[index]
    if accumulate:
        return target.add(values.astype(dtype), mode="drop")
    return target.set(values.astype(dtype), mode="drop")
''',
}


class JaxGenerator(Generator):
    """Generates a jitted JAX module; sizes passed by keyword are static arguments."""

    module = "jnp"
    imports = ("import jax", "import jax.numpy as jnp")
    helpers = _HELPERS
    spellings = SPELLINGS

    def checked_read(self, positions: Code, size: str, tensor: str) -> Code:
        """Positions from data, clamped into 0..size-1: under jax.jit nothing can raise, and
        JAX's gathers clamp (negative positions too, which Python would wrap around)."""
        return Code(f"jnp.clip({positions.text}, 0, {size} - 1)")

    def checked_write(self, positions: Code, size: str, tensor: str) -> Code:
        """Positions from data, a negative one moved past the end, where the write is
        dropped (as JAX drops writes outside) instead of wrapping around."""
        name = self.name_of(positions)
        return Code(f"jnp.where({name} < 0, {size}, {name})")

    def as_float(self, operand: Code, scalar: bool) -> Code:
        """Integers in JAX's default float, as jnp.exp makes them (jax.nn.sigmoid refuses)."""
        return Code(f"float({operand.text})" if scalar else f"{operand.at(ATOM)}.astype(float)")

    @property
    def decorator(self) -> str:  # type: ignore[override]
        if self.sizes.keywords():
            return "@functools.partial(jax.jit, static_argnames={static})"
        return "@jax.jit"


# --- tc.einsum: operands and results as jnp.einsum has them ----------------------------------


def einsum_operand(value: object, like: object = None) -> object:
    """A list or a number as jnp.einsum takes it: an array (a number stays weakly typed)."""
    import jax.numpy as jnp

    return jnp.asarray(value)


def einsum_result(value: object, operands: list[object]) -> object:
    """jnp.einsum's result: an array of the operands' common dtype (int8 stays int8, bool
    stays bool), where the sums underneath promote as jnp.sum does."""
    import jax.numpy as jnp

    result = jnp.asarray(value)
    dtype = jnp.result_type(*operands)
    return result if result.dtype == dtype else result.astype(dtype)


# --- the runtime record ---------------------------------------------------------------------


def _from_numpy(array: Any) -> Any:
    import jax.numpy as jnp

    return jnp.asarray(array)


def _placeholder(shape: tuple[int, ...]) -> Any:
    """A shape and dtype without data: what `jax.eval_shape` traces with."""
    import jax

    return jax.ShapeDtypeStruct(shape, np.float32)


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return value.sum(axis=axes, keepdims=keepdims)


def _precision(dtype: str) -> AbstractContextManager[Any]:
    """JAX computes in float32 unless 64-bit types are on: turn them on for float64."""
    if dtype != "float64":
        return nullcontext()
    import jax

    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # older jax has it in jax.experimental
        enable = getattr(importlib.import_module("jax.experimental"), "enable_x64", None)
    return nullcontext() if enable is None else enable(True)


def _gradients(request: GradientRequest) -> list[np.ndarray]:
    """`jax.grad` of the weighted sum of the outputs."""
    import jax
    import jax.numpy as jnp

    def loss(*diff: Any) -> Any:
        current = list(request.arguments)
        for k, value in zip(request.wrt, diff, strict=True):
            current[k] = value
        found = request.call(*current)
        total = jnp.zeros((), request.dtype)
        for k, weight in request.cotangents.items():
            total = total + jnp.sum(found[k] * weight)
        return total

    wrt = tuple(range(len(request.wrt)))
    grads = jax.grad(loss, argnums=wrt)(*(request.arguments[k] for k in request.wrt))
    return [np.asarray(g, dtype=np.float64) for g in grads]


BACKEND = Backend(
    name="jax",
    module="jax",
    generator=JaxGenerator,
    owns=owned_by_modules("jax", "jaxlib"),
    from_numpy=_from_numpy,
    to_numpy=np.asarray,
    placeholder=_placeholder,
    sum=_sum,
    einsum_operand=einsum_operand,
    einsum_result=einsum_result,
    precision=_precision,
    gradients=_gradients,
)
