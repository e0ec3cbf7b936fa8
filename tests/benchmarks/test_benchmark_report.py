"""The benchmark report groups workloads (contractions, index arithmetic, tensor-valued
indices) in its tables and sections, and still reads results saved before groups existed."""

from __future__ import annotations

from typing import Any

from benchmarks import report
from benchmarks.catalog import WORKLOADS


def variant(key: str, role: str, median_ns: float) -> dict[str, Any]:
    return {
        "key": key,
        "role": role,
        "description": f"{key} code",
        "status": "ok",
        "median_ns": median_ns,
        "q1_ns": median_ns,
        "q3_ns": median_ns,
        "cpu_median_ns": median_ns,
    }


def workload(name: str, group: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": name,
        "title": name.upper(),
        "source": None,
        "sizes": {"n": 2},
        "variants": [variant("hand-written", "hand", 100.0), variant("tensorc", "tensorc", 90.0)],
    }
    if group is not None:
        record["group"] = group
    return record


def merged(*workloads: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "command": "python -m benchmarks",
        "date": "today",
        "quick": True,
        "cpu": "cpu",
        "cpu_count": 2,
        "threads": 1,
        "platform": "linux",
        "python": "3.11",
        "load_before": "0",
    }
    return {"meta": meta, "runs": {"numpy": {"meta": {}, "workloads": list(workloads)}}}


def test_workloads_are_grouped_in_tables_and_sections() -> None:
    result = merged(
        workload("bmm", "contractions and layers"),
        workload("conv2d", "index arithmetic"),
        workload("hankel", "index arithmetic"),
    )
    assert report.workload_groups(result) == [
        ("contractions and layers", ["bmm"]),
        ("index arithmetic", ["conv2d", "hankel"]),
    ]
    text = report.markdown(result)
    assert "| **index arithmetic** |  |" in text
    assert "## Per workload: contractions and layers" in text
    assert text.index("## Per workload: index arithmetic") < text.index("### conv2d: CONV2D")


def test_results_without_groups_read_as_before() -> None:
    text = report.markdown(merged(workload("bmm", None), workload("tiny", None)))
    assert "## Per workload\n" in text
    assert "** |  |" not in text  # no group heading rows


def test_each_group_is_one_run_of_the_catalog() -> None:
    groups = [w.group for w in WORKLOADS]
    runs = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(runs) == len(set(runs)) == 3
