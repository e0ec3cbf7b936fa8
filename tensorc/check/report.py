"""What `tc.check` found: a `Difference` per backend and value, and the report's text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import inf

REFERENCE = "reference"
FINITE_DIFFERENCES = "finite diff"


@dataclass(frozen=True)
class Difference:
    """How far one backend's value (an output, or a gradient) is from what it is checked against.

    `max_rel` is `max_abs` divided by the largest finite magnitude of the reference value.
    `error` says why there is no value to compare (the backend failed, or gave the wrong shape).
    """

    backend: str
    value: str  # an output's name, or "grad A"
    against: str  # "reference", "finite diff", or the backend it is compared with
    max_abs: float
    max_rel: float
    error: str | None = None

    def within(self, tolerance: float) -> bool:
        """Whether the absolute or the relative difference is at most `tolerance`."""
        return self.error is None and (self.max_abs <= tolerance or self.max_rel <= tolerance)


@dataclass(frozen=True)
class CheckReport:
    """What `check` found: one `Difference` per backend and value, and what was not checked."""

    source: str
    inputs: Mapping[str, tuple[int, ...]]  # the shape of every input (() for a scalar)
    sizes: Mapping[str, int]  # the size of every index
    differences: tuple[Difference, ...]
    skipped: Mapping[str, str]  # backend -> why it was not run
    notes: tuple[str, ...]
    tolerance: float
    dtype: str
    seed: int

    @property
    def ok(self) -> bool:
        """Every difference is within the tolerance, and no backend failed."""
        return all(d.within(self.tolerance) for d in self.differences)

    @property
    def failures(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.within(self.tolerance))

    @property
    def max_abs(self) -> float:
        """The largest absolute difference of all (0 when nothing was compared)."""
        return max((d.max_abs for d in self.differences), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((d.max_rel for d in self.differences), default=0.0)

    def __str__(self) -> str:
        inputs = ", ".join(f"{name} {_shape_text(shape)}" for name, shape in self.inputs.items())
        sizes = " ".join(f"{index}={size}" for index, size in self.sizes.items())
        lines = [
            f"tensorc check: {_first_line(self.source)}",
            f"inputs: {inputs or '(none)'}",
            f"sizes: {sizes or '(none)'}; {self.dtype} inputs, seed {self.seed}",
            "reference: the program on NumPy in float64, with no optimising passes",
            "",
        ]
        header = ("backend", "value", "against", "max abs", "max rel", f"within {self.tolerance:g}")
        rows = [header]
        for d in self.differences:
            verdict = "error" if d.error else "yes" if d.within(self.tolerance) else "NO"
            numbers = ("-", "-") if d.error else (_number(d.max_abs), _number(d.max_rel))
            rows.append((d.backend, d.value, d.against, *numbers, verdict))
        widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (rows if self.differences else [])
        ]
        errors = [f"{d.backend} {d.value}: {d.error}" for d in self.differences if d.error]
        if errors:
            lines += ["", "errors:", *(f"  {text}" for text in errors)]
        if self.skipped:
            lines.append("")
            lines += [f"skipped {backend}: {why}" for backend, why in self.skipped.items()]
        if self.notes:
            lines.append("")
            lines += [f"note: {note}" for note in self.notes]
        lines.append("")
        largest = f"largest difference {_number(self.max_abs)} abs, {_number(self.max_rel)} rel"
        failed = len(self.failures)
        if not self.differences:
            lines.append("nothing was compared: every backend named was skipped")
        elif failed:
            lines.append(
                f"FAILED: {failed} of {len(self.differences)} are not within {self.tolerance:g} "
                f"({largest})"
            )
        else:
            lines.append(f"ok: every difference is within {self.tolerance:g} ({largest})")
        return "\n".join(lines)


def not_compared(backend: str, values: list[str], against: str, why: str) -> list[Difference]:
    """A difference for each value that could not be compared, saying why."""
    return [Difference(backend, value, against, inf, inf, why) for value in values]


def _number(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _first_line(source: str) -> str:
    lines = [line.strip() for line in source.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return (lines[0] if len(lines[0]) <= 60 else lines[0][:57] + "...") + more
