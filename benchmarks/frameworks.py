"""One small adapter per array framework: conversion, jit, result sync, thread setup.

Only the framework being measured is imported, so each subprocess loads one of them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FRAMEWORKS: tuple[str, ...] = ("numpy", "torch", "jax")

# Environment variables that fix the native thread pools; set before the framework loads.
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
THREAD_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_env(framework: str, threads: int) -> dict[str, str]:
    """Environment for a subprocess measuring ``framework`` with ``threads`` threads.

    NumPy's BLAS gets one thread outside the NumPy run: inputs and result checks use NumPy
    everywhere, and idle BLAS threads that spin would steal the cores from torch or XLA.
    """
    env = {name: str(threads) for name in THREAD_ENV_VARS}
    if framework != "numpy":
        env["OPENBLAS_NUM_THREADS"] = "1"
        env["MKL_NUM_THREADS"] = "1"
    if framework == "jax" and threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
    return env


@dataclass
class Framework:
    """What the runner needs to know about one array framework."""

    name: str
    xp: Any  # numpy, torch or jax.numpy
    version: str
    from_numpy: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]
    jit: Callable[[Callable[..., Any]], Callable[..., Any]]
    sync: Callable[[Any], Any] | None
    modules: dict[str, Any] = field(default_factory=dict)  # e.g. {"F": torch.nn.functional}
    threads_note: str = ""


def load(name: str, threads: int) -> Framework:
    """Import and configure framework ``name`` to use ``threads`` threads."""
    if name == "numpy":
        return Framework(
            name="numpy",
            xp=np,
            version=np.__version__,
            from_numpy=lambda a: a,
            to_numpy=np.asarray,
            jit=_identity,
            sync=None,
            threads_note=f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
        )
    if name == "torch":
        torch = importlib.import_module("torch")
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # raises if already set
            torch.set_num_interop_threads(1)
        return Framework(
            name="torch",
            xp=torch,
            version=str(torch.__version__),
            from_numpy=lambda a: torch.from_numpy(np.ascontiguousarray(a)),
            to_numpy=lambda t: t.detach().cpu().numpy(),
            jit=_identity,
            sync=None,
            modules={"F": importlib.import_module("torch.nn.functional")},
            threads_note=f"torch.set_num_threads({torch.get_num_threads()})",
        )
    if name == "jax":
        jax = importlib.import_module("jax")
        jnp = importlib.import_module("jax.numpy")
        return Framework(
            name="jax",
            xp=jnp,
            version=str(jax.__version__),
            from_numpy=lambda a: jax.device_put(jnp.asarray(a)),
            to_numpy=np.asarray,
            jit=jax.jit,
            sync=jax.block_until_ready,
            modules={"jax": jax},
            threads_note=(
                f"XLA_FLAGS={os.environ['XLA_FLAGS']!r}"
                if XLA_SINGLE_THREAD in os.environ.get("XLA_FLAGS", "")
                else "XLA's default CPU thread pool"
            ),
        )
    raise ValueError(f"unknown framework {name!r}; choose from {', '.join(FRAMEWORKS)}")


def _identity(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn
