"""tensorc: tensor index notation compiled to readable NumPy, JAX and PyTorch code.

>>> import numpy as np, tensorc as tc
>>> f = tc.compile("C[i, k] = A[i, j] * B[j, k]", backend="numpy")
>>> f(np.ones((2, 3)), np.ones((3, 4))).shape
(2, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tensorc.autodiff import Derivative, grad, jvp, vjp
from tensorc.check import CheckReport, check
from tensorc.einsum import einsum, einsum_path
from tensorc.errors import (
    ParseError,
    PositionError,
    ProgramError,
    ShapeError,
    TensorcError,
    TensorcWarning,
)
from tensorc.passes import PASSES, Pass
from tensorc.runtime import Program, compile_program

__all__ = [
    "CheckReport",
    "Derivative",
    "ParseError",
    "PositionError",
    "Program",
    "ProgramError",
    "ShapeError",
    "TensorcError",
    "TensorcWarning",
    "check",
    "compile",
    "einsum",
    "einsum_path",
    "grad",
    "jvp",
    "vjp",
]
__version__ = "0.1.0"


def compile(
    source: str,
    backend: str | None = None,
    passes: Sequence[Pass] | None = PASSES,
    *,
    mesh: Any = None,
    shard: Mapping[str, str | Sequence[str]] | None = None,
    jit: bool = False,
) -> Program:
    """Compiles a tensorc program for `backend` (a name in `tensorc.backends.BACKENDS`, or None
    to follow the arguments). `passes` are the optimising passes: the default pipeline
    `tensorc.passes.PASSES` when left out or None, none at all with `passes=()`.

    `mesh` (the backend's device mesh) and `shard` (index name -> mesh axis name, or a tuple of
    them) split every axis that such an index labels over that mesh axis (docs/sharding.md).

    `jit=True` hands each generated function to the backend's compiler (its record's `jit`:
    PyTorch's compiler; JAX's functions are jitted anyway; NumPy has none)."""
    return compile_program(source, backend, passes, mesh=mesh, shard=shard, jit=jit)
