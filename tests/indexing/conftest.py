"""Acceptance tests of CONTRACT §6 (index arithmetic) and §7 (tensor-valued indices).

This folder and the equivalence suite's are put on the import path, for `indexing_support`
and `support` (whose import sets JAX to float64 before any JAX array exists)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "equivalence"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from support import BACKENDS  # noqa: E402  (sets jax_enable_x64)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every installed backend: numpy, jax, torch."""
    return str(request.param)
