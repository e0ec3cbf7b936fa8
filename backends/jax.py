"""JAX code: one function under `jax.jit`, so that XLA fuses the elementwise chains."""

from __future__ import annotations

from tensorc.codegen import Generator

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


class JaxGenerator(Generator):
    """Generates a jitted JAX module; sizes passed by keyword are static arguments."""

    module = "jnp"
    imports = ("import jax", "import jax.numpy as jnp")
    spellings = SPELLINGS

    @property
    def decorator(self) -> str:  # type: ignore[override]
        if self.keyword_sizes:
            return "@functools.partial(jax.jit, static_argnames={static})"
        return "@jax.jit"
