"""NumPy code: the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.backends import Backend, owned_by_modules
from tensorc.codegen import Code, Generator

_FUNCTIONS = {
    "exp": "np.exp",
    "log": "np.log",
    "sqrt": "np.sqrt",
    "abs": "np.abs",
    "tanh": "np.tanh",
    "sin": "np.sin",
    "cos": "np.cos",
    "maximum": "np.maximum",
    "minimum": "np.minimum",
    "where": "np.where",
}
_REDUCTIONS = {
    "sum": "np.sum",
    "prod": "np.prod",
    "max": "np.max",
    "min": "np.min",
    "mean": "np.mean",
}

_HELPERS = {
    "_sigmoid": '''
def _sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x."""
    return np.exp(-np.logaddexp(0, -x))
''',
    "_softmax": '''
def _softmax(x, axis):
    """exp(x) / sum(exp(x)) along axis, the maximum subtracted first so that exp cannot overflow."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=axis, keepdims=True)
''',
    "_logsumexp": '''
def _logsumexp(x, axis):
    """log(sum(exp(x))) along axis, the maximum subtracted first so that exp cannot overflow."""
    peak = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0)
    return np.log(np.sum(np.exp(x - peak), axis=axis)) + np.squeeze(peak, axis=axis)
''',
}


class NumpyGenerator(Generator):
    """Generates a NumPy module; softmax, logsumexp and sigmoid come as small stable helpers."""

    module = "np"
    imports = ("import numpy as np",)
    helpers = _HELPERS

    def function(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        joined = ", ".join(arg.text for arg in args)
        if op == "relu":
            code = Code(f"np.maximum({joined}, 0)")
        elif op == "sigmoid":
            code = Code(f"{self.use_helper('_sigmoid')}({joined})")
        else:
            code = Code(f"{_FUNCTIONS[op]}({joined})")
        if all(scalars):
            # np.sqrt(8.0) is a float64 NumPy scalar, which would promote float32 arrays;
            # as a Python float it does not, as on the other backends.
            return Code(f"float({code.text})")
        return code

    def inplace_function(self, op: str, operand: Code) -> Code | None:
        name = self.name_of(operand)
        return Code(f"np.maximum({name}, 0, out={name})")

    def reduce(self, op: str, operand: Code, axes: tuple[int, ...]) -> Code:
        axis = str(axes[0]) if len(axes) == 1 else str(axes)
        if op == "logsumexp":
            return Code(f"{self.use_helper('_logsumexp')}({operand.text}, {axis})")
        return Code(f"{_REDUCTIONS[op]}({operand.text}, axis={axis})")

    def along(self, op: str, operand: Code, axis: int) -> Code:
        if op == "softmax":
            return Code(f"{self.use_helper('_softmax')}({operand.text}, {axis})")
        return Code(f"np.cumsum({operand.text}, axis={axis})")


# --- the runtime record ---------------------------------------------------------------------


def _placeholder(shape: tuple[int, ...]) -> Any:
    """A read-only float32 array of any shape over one element."""
    return np.broadcast_to(np.zeros((), dtype=np.float32), shape)


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return value.sum(axis=axes, keepdims=keepdims)


BACKEND = Backend(
    name="numpy",
    module="numpy",
    generator=NumpyGenerator,
    owns=owned_by_modules("numpy"),
    from_numpy=np.asarray,
    to_numpy=np.asarray,
    placeholder=_placeholder,
    sum=_sum,
)
