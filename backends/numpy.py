"""NumPy code: the reference backend."""

from __future__ import annotations

from typing import Any

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
