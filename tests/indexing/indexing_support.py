"""Helpers for the acceptance tests of CONTRACT §6 (index arithmetic) and §7 (tensor-valued
indices): running a program through the public API on one backend, and references written
independently of tensorc.

The loop reference (`loop_reference`) follows the contract's definitions one element at a
time: every assignment of the indices is visited, each access reads the element at its
affine positions (`pad` gives zeros outside, `clamp` the nearest edge, `wrap` the position
modulo the size, a plain axis must be in bounds), the factors are multiplied, and the terms
that land on one target element are summed (or maxed, or averaged). It is slow and
obviously right; `test_indexing_references.py` checks it against `torch.nn.functional`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from support import BACKENDS, is_backend_array, to_backend, to_numpy

import tensorc as tc

__all__ = [
    "ATOL32",
    "ATOL64",
    "BACKENDS",
    "RTOL32",
    "RTOL64",
    "Axis",
    "assert_located",
    "caret_columns",
    "check",
    "loop_reference",
    "parse_axes",
    "randn",
    "run",
    "run_named",
    "t",
    "torch_conv",
    "torch_pool",
    "underlined",
]

RTOL64, ATOL64 = 1e-10, 1e-10  # float64 against float64 references
RTOL32, ATOL32 = 2e-4, 2e-4  # float32 against float64 references

BOUNDARIES = ("error", "pad", "clamp", "wrap")


# ----------------------------------------------------------------------------- running


def run(source: str, backend: str, *arrays: Any, **sizes: int) -> Any:
    """Compile ``source`` for ``backend``, call it with the arrays converted to that backend
    (and sizes by keyword), check that the result is the backend's own array type, and
    return it as NumPy (a tuple of results as a tuple)."""
    program = tc.compile(source, backend=backend)
    result = program(*(to_backend(a, backend) for a in arrays), **sizes)
    return _as_numpy(result, backend)


def run_named(source: str, backend: str, arrays: Mapping[str, Any], **sizes: int) -> Any:
    """As `run`, with the inputs passed by name."""
    program = tc.compile(source, backend=backend)
    named = {name: to_backend(array, backend) for name, array in arrays.items()}
    return _as_numpy(program(**named, **sizes), backend)


def _as_numpy(result: Any, backend: str) -> Any:
    """A result (or tuple of results) of the backend's own type, as NumPy."""
    items = result if isinstance(result, tuple) else (result,)
    for item in items:
        assert is_backend_array(item, backend), f"{backend} returned {type(item)}"
    converted = tuple(to_numpy(item) for item in items)
    return converted if isinstance(result, tuple) else converted[0]


def check(
    source: str,
    backend: str,
    arrays: Sequence[Any],
    expected: Any,
    *,
    sizes: Mapping[str, int] | None = None,
    rtol: float = RTOL64,
    atol: float = ATOL64,
    dtype: Any = None,
) -> np.ndarray:
    """Run ``source`` and compare it with ``expected``: same shape, the dtype ``dtype``
    (``expected``'s by default), the same values (exactly for integers)."""
    got = run(source, backend, *arrays, **dict(sizes or {}))
    want = np.asarray(expected)
    assert got.shape == want.shape, f"{backend}: shape {got.shape} != expected {want.shape}"
    assert got.dtype == np.dtype(dtype or want.dtype), f"{backend}: dtype {got.dtype}"
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=backend)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=backend)
    return got


def randn(*shape: int, seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """Standard normal values of ``shape`` (reproducible)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- error excerpts


# Words of lark's and Python's own reports that must never reach a tensorc message.
LEAKS = re.compile(
    r"Token\(|Tree\(|\bLSQB\b|\bRSQB\b|\$END|__ANON|Expected one of|Unexpected(Token|"
    r"Characters|EOF)|\blark\b|Traceback|File \"",
    re.IGNORECASE,
)


def assert_located(err: tc.TensorcError) -> None:
    """A tensorc error with a location: 1-based line and column, and a caret excerpt."""
    assert isinstance(err.line, int) and err.line >= 1, f"no line in {err!r}"
    assert isinstance(err.column, int) and err.column >= 1, f"no column in {err!r}"
    assert caret_columns(err), f"no caret under the source in:\n{err}"
    assert not LEAKS.search(str(err)), f"a parser's or Python's words leak:\n{err}"


def underlined(err: tc.TensorcError, source_line: str, fragment: str) -> bool:
    """Whether the carets of ``err`` lie under ``fragment`` (its first occurrence)."""
    start = source_line.index(fragment) + 1
    columns = caret_columns(err)
    return bool(columns) and all(start <= c < start + len(fragment) for c in columns)


def caret_columns(err: tc.TensorcError) -> list[int]:
    """The 1-based source columns that carry a `^` in the excerpt of ``str(err)``."""
    lines = str(err).splitlines()
    for n, text in enumerate(lines[:-1]):
        if text.lstrip().startswith(f"{err.line} | "):
            offset = text.index(" | ") + 3
            return [k - offset + 1 for k, ch in enumerate(lines[n + 1]) if ch == "^"]
    raise AssertionError(f"no excerpt of line {err.line} in:\n{err}")


# ----------------------------------------------------------------------------- the loop reference


@dataclass(frozen=True)
class Axis:
    """One axis of an access as CONTRACT §6 defines it: the position sum(coef * index) +
    offset, and what a read outside the tensor gives (``boundary``; ``padding`` is the p of
    ``pad(e, p)``, beyond which a read is out of bounds again)."""

    terms: tuple[tuple[int, str], ...]
    offset: int = 0
    boundary: str = "error"
    padding: int | None = None

    def position(self, values: Mapping[str, int]) -> int:
        return sum(coef * values[name] for coef, name in self.terms) + self.offset

    def indices(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.terms)


_WRAPPED = re.compile(r"^(pad|clamp|wrap)\((.*?)(?:,\s*(\d+))?\)$")
_TERM = re.compile(r"^(?:(\d+)\*)?([A-Za-z_]\w*)$|^(\d+)$")


def parse_axis(text: str) -> Axis:
    """``"2*h + kh - 1"``, ``"pad(h + kh - 2, 2)"``, ``"clamp(i - 1)"``, ``"3 - i"``, ``"0"``."""
    text = text.strip()
    boundary, padding = "error", None
    wrapped = _WRAPPED.match(text)
    if wrapped:
        boundary, text = wrapped.group(1), wrapped.group(2)
        padding = int(wrapped.group(3)) if wrapped.group(3) else None
    terms: list[tuple[int, str]] = []
    offset = 0
    for sign, body in re.findall(r"([+-]?)([^+-]+)", text.replace(" ", "")):
        factor = -1 if sign == "-" else 1
        match = _TERM.match(body)
        assert match, f"not an affine term: {body!r} in {text!r}"
        if match.group(3) is not None:
            offset += factor * int(match.group(3))
        else:
            terms.append((factor * int(match.group(1) or 1), match.group(2)))
    return Axis(tuple(terms), offset, boundary, padding)


def parse_axes(text: str) -> tuple[Axis, ...]:
    """The comma-separated axes of an access (commas inside ``pad(e, p)`` are not splits)."""
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return tuple(parse_axis(part) for part in parts)


def read(array: np.ndarray, axes: Sequence[Axis], values: Mapping[str, int]) -> Any:
    """The element of ``array`` that an access with ``axes`` reads at ``values``."""
    where = []
    for size, axis in zip(array.shape, axes, strict=True):
        p = axis.position(values)
        if not 0 <= p < size:
            if axis.boundary == "pad":
                limit = math.inf if axis.padding is None else axis.padding
                if not (-limit <= p < size + limit):
                    raise IndexError(f"position {p} beyond pad({axis.padding}) of size {size}")
                return 0.0
            if axis.boundary == "clamp":
                p = min(max(p, 0), size - 1)
            elif axis.boundary == "wrap":
                p %= size
            else:
                raise IndexError(f"position {p} outside an axis of size {size} at {values}")
        where.append(p)
    return array[tuple(where)]


def _product(*values: Any) -> Any:
    return math.prod(values)


REDUCERS: dict[str, Callable[[list[Any]], Any]] = {
    "sum": lambda terms: sum(terms),
    "max": max,
    "mean": lambda terms: sum(terms) / len(terms),
}


def loop_reference(
    shape: Sequence[int],
    target: str,
    sizes: Mapping[str, int],
    reads: Sequence[tuple[np.ndarray, str]],
    *,
    reduce: str = "sum",
    combine: Callable[..., Any] = _product,
) -> np.ndarray:
    """The contract's meaning of ``target = reduce(combine(reads))``, one element at a time.

    ``target`` is the left-hand side's axes (``"n, o, h, w"`` or an affine write such as
    ``"n, o, 2*h + kh, 2*w + kw"``), ``sizes`` the size of every index, ``reads`` the
    accesses as (array, axes text). Every assignment of the indices gives one term,
    ``combine(values read)``; the terms that fall on one target element are reduced with
    ``reduce``; target elements that no term falls on are zero (an affine ``=``/``+=`` write
    into a new target)."""
    target_axes = parse_axes(target)
    accesses = [(array, parse_axes(axes)) for array, axes in reads]
    names = list(sizes)
    groups: dict[tuple[int, ...], list[Any]] = defaultdict(list)
    for combo in itertools.product(*(range(sizes[name]) for name in names)):
        values = dict(zip(names, combo, strict=True))
        where = tuple(axis.position(values) for axis in target_axes)
        assert all(0 <= p < n for p, n in zip(where, shape, strict=True)), (where, shape)
        groups[where].append(combine(*(read(a, axes, values) for a, axes in accesses)))
    out = np.zeros(tuple(shape))
    for where, terms in groups.items():
        out[where] = REDUCERS[reduce](terms)
    return out


# ----------------------------------------------------------------------------- torch references


def t(array: Any) -> torch.Tensor:
    """A torch tensor of a NumPy array (a copy, so that nothing is shared)."""
    return torch.from_numpy(np.array(array, copy=True))


def torch_conv(x: np.ndarray, w: np.ndarray, **options: Any) -> np.ndarray:
    """``F.conv1d/2d/3d`` (by the input's rank) in the input's dtype, as NumPy."""
    conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.ndim]
    return conv(t(x), t(w), **options).numpy()


def torch_pool(kind: str, x: np.ndarray, kernel: Any, stride: Any, **options: Any) -> np.ndarray:
    """``F.max_pool*`` / ``F.avg_pool*`` (``kind`` "max" or "avg") by the input's rank."""
    rank = x.ndim - 2
    pool = getattr(F, f"{kind}_pool{rank}d")
    return pool(t(x), kernel, stride, **options).numpy()
