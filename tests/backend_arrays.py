"""Arrays moved between NumPy and the installed backends, for the tests of several stages
(on the path through `pythonpath` in pyproject.toml)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.backends import BACKENDS as REGISTRY
from tensorc.backends import owner

BACKENDS: tuple[str, ...] = tuple(name for name, record in REGISTRY.items() if record.installed())


def to_backend(value: Any, backend: str) -> Any:
    """A NumPy array as an unshared copy in `backend`'s arrays; anything else as it is."""
    if not isinstance(value, np.ndarray):
        return value
    return REGISTRY[backend].from_numpy(value.copy())


def to_numpy(value: Any) -> Any:
    """A backend's array (or a tuple of them) as NumPy."""
    if isinstance(value, tuple):
        return tuple(to_numpy(v) for v in value)
    found = owner(value)
    return np.asarray(value) if found is None else found.to_numpy(value)
