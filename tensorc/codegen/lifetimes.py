"""How long each array of the generated function lives: an eager framework (NumPy, PyTorch)
frees an array when its last name goes, and a function's locals otherwise live until it
returns. A derivative program reads most of its forward values once, early in the backward
pass; deleting each name after the line that reads it last keeps the peak memory to what is
live, as the frameworks' own autograd does. (JAX's compiler assigns buffers itself.)"""

from __future__ import annotations

import ast
from collections.abc import Set


def free_dead(lines: list[str], kept: Set[str]) -> list[str]:
    """`lines` (the function's body) with `del a, b` after the line that reads `a` and `b`
    last, where another line computes something after it. Names in `kept` (the parameters,
    the returned values) stay. Lines that are not whole statements leave `lines` as they are.

    >>> free_dead(["t = x + 1", "y = t * 2", "z = y + 1", "return z"], {"x", "z"})
    ['t = x + 1', 'y = t * 2', 'del t', 'z = y + 1', 'return z']
    """
    last: dict[str, int] = {}
    made: set[str] = set()
    for number, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            continue
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            return lines
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                last[node.id] = number
                if isinstance(node.ctx, ast.Store):
                    made.add(node.id)
    computing = [n for n, line in enumerate(lines) if _computes(line)]
    out: list[str] = []
    for number, line in enumerate(lines):
        out.append(line)
        dead = sorted(name for name in made - set(kept) if last[name] == number)
        if dead and any(n > number for n in computing):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}del {', '.join(dead)}")
    return out


def _computes(line: str) -> bool:
    """Whether a line computes a value (not a comment, a `del` or the return)."""
    text = line.strip()
    return bool(text) and not text.startswith(("#", "del ", "return"))
