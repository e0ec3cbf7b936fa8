"""JAX code: one function under `jax.jit`, so that XLA fuses the elementwise chains."""

from __future__ import annotations

from tensorc.codegen import Code, Generator

_FUNCTIONS = {
    "exp": "jnp.exp",
    "log": "jnp.log",
    "sqrt": "jnp.sqrt",
    "abs": "jnp.abs",
    "tanh": "jnp.tanh",
    "sin": "jnp.sin",
    "cos": "jnp.cos",
    "sigmoid": "jax.nn.sigmoid",
    "relu": "jax.nn.relu",
    "maximum": "jnp.maximum",
    "minimum": "jnp.minimum",
    "where": "jnp.where",
}
_REDUCTIONS = {
    "sum": "jnp.sum",
    "prod": "jnp.prod",
    "max": "jnp.max",
    "min": "jnp.min",
    "mean": "jnp.mean",
    "logsumexp": "jax.nn.logsumexp",
}


class JaxGenerator(Generator):
    """Generates a jitted JAX module; sizes passed by keyword are static arguments."""

    module = "jnp"
    imports = ("import jax", "import jax.numpy as jnp")

    @property
    def decorator(self) -> str:  # type: ignore[override]
        if self.keyword_sizes:
            return "@functools.partial(jax.jit, static_argnames={static})"
        return "@jax.jit"

    def function(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        return Code(f"{_FUNCTIONS[op]}({', '.join(arg.text for arg in args)})")

    def reduce(self, op: str, operand: Code, axes: tuple[int, ...]) -> Code:
        axis = str(axes[0]) if len(axes) == 1 else str(axes)
        return Code(f"{_REDUCTIONS[op]}({operand.text}, axis={axis})")

    def along(self, op: str, operand: Code, axis: int) -> Code:
        func = "jax.nn.softmax" if op == "softmax" else "jnp.cumsum"
        return Code(f"{func}({operand.text}, axis={axis})")


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
