"""The benchmarks package lives at the repository root, next to tests/, and is not installed:
make it importable whatever directory pytest runs from."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:
    sys.path.append(REPO_ROOT)
