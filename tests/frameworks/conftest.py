"""Shared fixtures for the framework-composition tests (jax / torch / numpy)."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(autouse=True)
def _quiet_numeric_warnings():
    """Empty means and float64 requests under JAX's default 32-bit mode warn; the tests
    check the values themselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*Explicitly requested dtype.*")
        yield
