"""Runs _devices.py in a process of its own with 8 simulated CPU devices: XLA reads
XLA_FLAGS once, when JAX starts, and this process's JAX has started with one device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

HERE = Path(__file__).resolve().parent
DEVICES = "--xla_force_host_platform_device_count=8"


def test_sharded_programs_on_eight_simulated_devices() -> None:
    flags = f"{os.environ.get('XLA_FLAGS', '')} {DEVICES}".strip()
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, str(HERE / "_devices.py")],
        cwd=HERE.parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout
