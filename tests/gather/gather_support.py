"""Shared helpers for the tests of tensor-valued indices (a plain module imported by name,
`from gather_support import ...`, so that no other folder's helpers collide with it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from backend_arrays import BACKENDS, to_backend, to_numpy

import tensorc as tc

RAISING = tuple(name for name in BACKENDS if name != "jax")  # JAX clamps and drops instead


def run(source: str, backend: str, *arguments: Any, **keywords: Any) -> Any:
    """`source` compiled for `backend`, called with NumPy arguments, the result as NumPy."""
    program = tc.compile(source, backend=backend)
    return to_numpy(program(*(to_backend(a, backend) for a in arguments), **keywords))


def body(source: str, backend: str) -> str:
    """The generated function of `source` for `backend`, without its comments."""
    text = tc.compile(source, backend=backend).source
    function = text[text.index("def program") :]
    return "\n".join(line for line in function.splitlines() if not line.strip().startswith("#"))


def assert_close(actual: Any, expected: Any, context: str = "") -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{context}: {actual.shape} != {expected.shape}"
    single = np.float32 in (actual.dtype, expected.dtype)
    np.testing.assert_allclose(
        actual,
        expected,
        rtol=2e-5 if single else 1e-10,
        atol=1e-5 if single else 1e-12,
        err_msg=context,
    )
