"""Derivative tests: JAX in float64 (set before any JAX array exists), and the equivalence
suite's corpus on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "equivalence"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
