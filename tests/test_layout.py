"""The size limits of tensorc's code: no module over 400 lines and no class over 200 lines in
the `tensorc` package and its backends, so that each concept stays small enough to read whole.

(That no module of `tensorc` names a framework is checked by tests/backends/test_registry.py.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import tensorc
import tensorc.backends

MODULE_LINES = 400
CLASS_LINES = 200

# The installed locations, so that the test reads what runs: tensorc/ and backends/ in a checkout.
ROOTS = tuple(Path(module.__file__).resolve().parent for module in (tensorc, tensorc.backends))


def modules() -> list[Path]:
    """Every Python module of the package and its backends, each once."""
    found = {path.resolve() for root in ROOTS for path in root.rglob("*.py")}
    return sorted(found)


def shown(path: Path) -> str:
    """A module's path as the tree shows it: `tensorc/ir/nodes.py`, `backends/torch.py`."""
    root = next(root for root in ROOTS if path.is_relative_to(root))
    return f"{root.name}/{path.relative_to(root).as_posix()}"


def test_the_modules_are_found() -> None:
    names = {path.name for path in modules()}
    assert {"__init__.py", "ops.py", "numpy.py", "torch.py"} <= names


def test_no_module_is_over_400_lines() -> None:
    sizes = {shown(path): len(path.read_text(encoding="utf-8").splitlines()) for path in modules()}
    too_long = {name: size for name, size in sizes.items() if size > MODULE_LINES}
    assert too_long == {}, f"modules over {MODULE_LINES} lines: {too_long}"


def test_no_class_is_over_200_lines() -> None:
    too_long: dict[str, int] = {}
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > CLASS_LINES:
                    too_long[f"{shown(path)}:{node.lineno} {node.name}"] = size
    assert too_long == {}, f"classes over {CLASS_LINES} lines: {too_long}"
