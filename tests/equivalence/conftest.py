"""The equivalence suite: JAX in float64 (set before any JAX array exists, by importing the
helpers) and this folder on the import path, for `support` and `corpus`."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import support  # noqa: E402,F401  (its import sets jax_enable_x64)
