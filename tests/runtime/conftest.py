"""Fixtures shared by the runtime tests."""

from __future__ import annotations

import pytest

from tensorc import compiler


@pytest.fixture
def count_generated(monkeypatch):
    """Counts the modules the runtime generates (one per new plan)."""
    calls: list[str] = []
    generate = compiler.generate

    def counting(*args, **kwargs):
        calls.append(args[1])
        return generate(*args, **kwargs)

    monkeypatch.setattr(compiler, "generate", counting)
    return calls
