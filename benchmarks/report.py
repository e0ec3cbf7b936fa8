"""Turn the merged per-framework results into a markdown report, results.json and a chart."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

Result = dict[str, Any]

TENSORC = "tensorc"
HAND = "hand-written"


# ---------------------------------------------------------------------------------------
# Access helpers


def framework_names(merged: Result) -> list[str]:
    return list(merged["runs"])


def workload_names(merged: Result) -> list[str]:
    names: list[str] = []
    for run in merged["runs"].values():
        for workload in run.get("workloads", []):
            if workload["name"] not in names:
                names.append(workload["name"])
    return names


def workload_groups(merged: Result) -> list[tuple[str, list[str]]]:
    """The workloads in report order, in runs of the same group ("index arithmetic", ...)."""
    groups: list[tuple[str, list[str]]] = []
    for name in workload_names(merged):
        group = next(
            (
                str(w.get("group", ""))
                for run in merged["runs"].values()
                for w in run.get("workloads", [])
                if w["name"] == name
            ),
            "",
        )
        if groups and groups[-1][0] == group:
            groups[-1][1].append(name)
        else:
            groups.append((group, [name]))
    return groups


def find_workload(merged: Result, framework: str, name: str) -> Result | None:
    for workload in merged["runs"][framework].get("workloads", []):
        if workload["name"] == name:
            return workload
    return None


def find_variant(workload: Result | None, key: str) -> Result | None:
    if workload is None:
        return None
    for variant in workload["variants"]:
        if variant["key"] == key:
            return variant
    return None


def median(variant: Result | None) -> float | None:
    if variant is None or variant.get("status") != "ok" or "median_ns" not in variant:
        return None
    return float(variant["median_ns"])


def cpu_median(variant: Result | None) -> float | None:
    if median(variant) is None or variant is None or variant.get("cpu_median_ns") is None:
        return None
    return float(variant["cpu_median_ns"])


def ratio(
    merged: Result, framework: str, name: str, numerator: str, denominator: str
) -> float | None:
    workload = find_workload(merged, framework, name)
    top, bottom = (
        median(find_variant(workload, numerator)),
        median(find_variant(workload, denominator)),
    )
    if top is None or bottom is None or bottom <= 0:
        return None
    return top / bottom


# ---------------------------------------------------------------------------------------
# Formatting


def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}×" if value < 100 else f"{value:.0f}×"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 2**20:.1f} MiB" if value >= 2**20 else f"{value / 2**10:.1f} KiB"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def grouped_rows(
    merged: Result, row_for: Callable[[str], list[str]], width: int
) -> list[list[str]]:
    """One row per workload, with a heading row before each group when there are several."""
    groups = workload_groups(merged)
    rows: list[list[str]] = []
    for group, names in groups:
        if len(groups) > 1:
            rows.append([f"**{group or 'other'}**", *([""] * (width - 1))])
        rows += [row_for(name) for name in names]
    return rows


def status_cell(variant: Result | None, footnotes: list[str]) -> str:
    """The cell for a variant that has no time: '—', 'skipped', or a footnoted failure."""
    if variant is None:
        return "—"
    status = variant.get("status")
    if status == "skipped":
        return "skipped"
    footnotes.append(f"{variant['key']}: {status}: {variant.get('error', '')}")
    label = "WRONG" if status == "wrong" else "error"
    return f"{label} [{len(footnotes)}]"


# ---------------------------------------------------------------------------------------
# Markdown


def markdown(merged: Result) -> str:
    meta = merged["meta"]
    fws = framework_names(merged)
    lines = [
        "# tensorc benchmarks",
        "",
        f"`{meta['command']}` — {meta['date']} — "
        + ("QUICK (smoke test: small sizes, few repeats)" if meta["quick"] else "full run"),
        "",
        f"Machine: {meta['cpu']} ({meta['cpu_count']} cores, {meta['threads']} thread(s) "
        f"per framework), {meta['platform']}, "
        f"Python {meta['python']}; load average {meta['load_before']} before, "
        f"{meta.get('load_after', '?')} after.",
        "",
    ]
    for fw in fws:
        run = merged["runs"][fw]
        m = run.get("meta", {})
        lines.append(
            f"- **{fw}** {m.get('framework_version', '?')}: {m.get('threads_note', '')}; "
            f"tensorc {m.get('tensorc', '?')}, opt_einsum {m.get('opt_einsum', '?')}, "
            f"einx {m.get('einx', '?')}, einops {m.get('einops', '?')}; 1-min load "
            f"{' → '.join(run.get('load', ['?']))}"
            + (f" — **run failed: {run['error']}**" if run.get("error") else "")
        )
    lines += [
        "",
        "Each framework runs in its own process. Times are the median per-call wall time "
        "(`time.perf_counter_ns`) over blocks of back-to-back calls, variants interleaved "
        "block by block, after warm-up; [brackets] give the interquartile range. float32 "
        "inputs. On JAX every variant is `jax.jit`-ed (unless marked *no jax.jit*) and "
        "synchronised with `jax.block_until_ready`. Every result is checked against the "
        "hand-written one "
        "(`allclose`, atol scaled by the largest magnitude) before it is timed; a wrong "
        "result is reported, never timed. In the tables, *tensorc ÷* is tensorc's median "
        "time divided by that row's: below 1, tensorc is faster.",
        "",
        "## Summary: tensorc time ÷ hand-written time (below 1: tensorc is faster)",
        "",
    ]
    names = workload_names(merged)

    def wall_row(name: str) -> list[str]:
        row = [name]
        for fw in fws:
            workload = find_workload(merged, fw, name)
            tc_v, hand_v = find_variant(workload, TENSORC), find_variant(workload, HAND)
            value = ratio(merged, fw, name, TENSORC, HAND)
            if value is None:
                row.append(_failure_word(tc_v) if median(hand_v) is not None else "—")
            else:
                row.append(
                    f"**{fmt_ratio(value)}** ({fmt_time(median(tc_v))} vs "
                    f"{fmt_time(median(hand_v))})"
                )
        return row

    lines += table(["workload", *fws], grouped_rows(merged, wall_row, 1 + len(fws)))
    lines += [
        "",
        "The same ratio by process CPU time (median per call; unaffected by waiting for a "
        "core when other work loads the machine; comparable to wall time only with one "
        "thread per framework):",
        "",
    ]

    def cpu_row(name: str) -> list[str]:
        row = [name]
        for fw in fws:
            workload = find_workload(merged, fw, name)
            top = cpu_median(find_variant(workload, TENSORC))
            bottom = cpu_median(find_variant(workload, HAND))
            row.append(
                "—"
                if top is None or bottom is None or bottom <= 0
                else f"{fmt_ratio(top / bottom)} ({fmt_time(top)} vs {fmt_time(bottom)})"
            )
        return row

    lines += table(["workload", *fws], grouped_rows(merged, cpu_row, 1 + len(fws)))
    lines += ["", "Best competitor other than hand-written code, tensorc time ÷ its time:", ""]

    def anchor_row(name: str) -> list[str]:
        row = [name]
        for fw in fws:
            best = _best_anchor(merged, fw, name)
            if best is None:
                row.append("—")
            else:
                key, value, best_ns = best
                row.append(f"{fmt_ratio(value)} vs {key} ({fmt_time(best_ns)})")
        return row

    lines += table(["workload", *fws], grouped_rows(merged, anchor_row, 1 + len(fws)))
    lines += _flops_section(merged, names, fws)
    lines += _memory_section(merged)
    lines += _compile_section(merged, fws)
    lines += _problems_section(merged, names, fws)
    legend: dict[str, str] = {}
    groups = workload_groups(merged)
    for group, group_names in groups:
        heading = f"## Per workload: {group}" if len(groups) > 1 and group else "## Per workload"
        lines += ["", heading, ""]
        for name in group_names:
            lines += _workload_section(merged, name, fws, legend)
    lines += ["", "## Variants", ""]
    lines += [f"- **{key}**: {text}" for key, text in legend.items()]
    return "\n".join(lines) + "\n"


def _failure_word(variant: Result | None) -> str:
    if variant is None:
        return "—"
    return {"wrong": "WRONG", "error": "error", "skipped": "skipped"}.get(
        variant.get("status", ""), "—"
    )


def _best_anchor(merged: Result, fw: str, name: str) -> tuple[str, float, float] | None:
    workload = find_workload(merged, fw, name)
    tc_time = median(find_variant(workload, TENSORC))
    if workload is None or tc_time is None:
        return None
    anchors = [(v["key"], median(v)) for v in workload["variants"] if v["role"] == "anchor"]
    timed = [(key, t) for key, t in anchors if t is not None]
    if not timed:
        return None
    key, best = min(timed, key=lambda item: item[1])
    return key, tc_time / best, best


def _workload_section(
    merged: Result, name: str, fws: list[str], legend: dict[str, str]
) -> list[str]:
    first = next(w for fw in fws if (w := find_workload(merged, fw, name)) is not None)
    sizes = ", ".join(f"{k}={v}" for k, v in first["sizes"].items())
    lines = [f"### {name}: {first['title']}", "", f"Sizes: {sizes}."]
    if first.get("source"):
        lines += ["", "```", first["source"].rstrip(), "```"]
    keys: list[str] = []
    local: list[str] = []  # variants described differently here than in the legend
    for fw in fws:
        for variant in (find_workload(merged, fw, name) or {"variants": []})["variants"]:
            key, description = variant["key"], variant["description"]
            if key not in keys:
                keys.append(key)
                if legend.setdefault(key, description) != description:
                    local.append(f"- **{key}** here: {description}")
    footnotes: list[str] = []
    rows = []
    for key in keys:
        row = [key]
        for fw in fws:
            workload = find_workload(merged, fw, name)
            variant = find_variant(workload, key)
            t = median(variant)
            if t is None or variant is None:
                row += [status_cell(variant, footnotes), ""]
                continue
            iqr = f"[{fmt_time(variant['q1_ns'])}–{fmt_time(variant['q3_ns'])}]"
            row += [f"{fmt_time(t)} {iqr}", fmt_ratio(ratio(merged, fw, name, TENSORC, key))]
        rows.append(row)
    header = ["variant"]
    for fw in fws:
        header += [f"{fw} median [IQR]", "tensorc ÷"]
    lines += ["", *table(header, rows)]
    if local:
        lines += ["", *local]
    if footnotes:
        lines += ["", *(f"- [{i}] {text}" for i, text in enumerate(footnotes, 1))]
    for numerator, denominator in first.get("pairs", []):
        parts = []
        for fw in fws:
            workload = find_workload(merged, fw, name)
            top = median(find_variant(workload, numerator))
            bottom = median(find_variant(workload, denominator))
            if top is not None and bottom is not None:
                parts.append(f"{fw} {fmt_ratio(top / bottom)} ({_signed(top - bottom)})")
        if parts:
            lines += ["", f"*{numerator} ÷ {denominator}:* " + "; ".join(parts)]
    lines.append("")
    return lines


def _signed(ns: float) -> str:
    return ("+" if ns >= 0 else "−") + fmt_time(abs(ns))


def _flops_section(merged: Result, names: list[str], fws: list[str]) -> list[str]:
    rows = []
    for name in names:
        for fw in fws:
            workload = find_workload(merged, fw, name)
            if workload is None or not workload.get("flops"):
                continue
            cells = [name, fw]
            for key in (TENSORC, HAND):
                t = median(find_variant(workload, key))
                cells.append("—" if t is None else f"{workload['flops'] / t:.1f}")
            rows.append(cells)
    if not rows:
        return []
    return [
        "",
        "## Throughput (GFLOP/s)",
        "",
        *table(["workload", "framework", "tensorc", "hand-written"], rows),
    ]


def _memory_section(merged: Result) -> list[str]:
    lines: list[str] = []
    for fw in framework_names(merged):
        for workload in merged["runs"][fw].get("workloads", []):
            measured = [v for v in workload["variants"] if "peak_bytes" in v]
            if not measured:
                continue
            method = measured[0].get("peak_method", "tracemalloc")
            lines += ["", f"## Peak extra memory: {workload['name']} on {fw} ({method})", ""]
            if workload.get("broadcast_bytes"):
                lines += [
                    f"The broadcast product A[i, j] * B[j, k] would take "
                    f"{fmt_bytes(workload.get('broadcast_bytes'))}; the result takes "
                    f"{fmt_bytes(4 * workload['sizes']['i'] * workload['sizes']['k'])}.",
                    "",
                ]
            lines += table(
                ["variant", "peak"], [[v["key"], fmt_bytes(v["peak_bytes"])] for v in measured]
            )
    return lines


def _compile_section(merged: Result, fws: list[str]) -> list[str]:
    records = {fw: merged["runs"][fw].get("compile") for fw in fws}
    present = {fw: r for fw, r in records.items() if r}
    if not present:
        return []
    some = next(iter(present.values()))
    lines = [
        "",
        "## Compile time (three-statement program, grammar already loaded)",
        "",
        "```",
        some["source"].rstrip(),
        "```",
        "",
    ]
    keys: list[str] = []
    for record in present.values():
        keys += [e["key"] for e in record["entries"] if e["key"] not in keys]
    rows = []
    for key in keys:
        row = [key]
        for fw in fws:
            entry = next(
                (e for e in (present.get(fw) or {}).get("entries", []) if e["key"] == key), None
            )
            row.append(
                "—"
                if entry is None
                else f"{fmt_time(entry['median_ns'])} [{fmt_time(entry['q1_ns'])}–"
                f"{fmt_time(entry['q3_ns'])}]"
            )
        rows.append(row)
    lines += table(["measurement", *fws], rows)
    for fw, record in present.items():
        if record.get("error"):
            lines.append(f"\n{fw}: compile benchmark failed: {record['error']}")
    return lines


def _problems_section(merged: Result, names: list[str], fws: list[str]) -> list[str]:
    problems = []
    for fw in fws:
        run = merged["runs"][fw]
        if run.get("error"):
            problems.append(f"{fw}: run failed: {run['error']}")
        for name in names:
            workload = find_workload(merged, fw, name)
            if workload is None:
                continue
            if workload.get("tensorc_error"):
                problems.append(f"{name} / {fw}: tc.compile failed: {workload['tensorc_error']}")
            for v in workload["variants"]:
                if workload.get("tensorc_error") and str(v.get("error", "")).startswith(
                    "RuntimeError: tc.compile failed"
                ):
                    continue  # the compile failure, reported just above
                if v["role"] in ("tensorc", "tensorc-extra"):
                    if v["status"] in ("error", "wrong"):
                        problems.append(
                            f"{name} / {fw} / {v['key']}: {v['status']}: {v.get('error', '')}"
                        )
                    elif str(v.get("check", "")).startswith("ok, but"):
                        problems.append(f"{name} / {fw} / {v['key']}: {v['check']}")
    if not problems:
        return ["", "## tensorc problems", "", "None: every tensorc result matched."]
    return ["", "## tensorc problems", "", *(f"- {p}" for p in problems)]


# ---------------------------------------------------------------------------------------
# Chart

COLORS = {"numpy": "#4c72b0", "torch": "#dd8452", "jax": "#55a868"}
# Filled markers first, then the same shapes hollow: 24 distinguishable anchor styles.
MARKER_SHAPES = "osD^v<>pP*Xh"
MARKER_STYLES = [(m, True) for m in MARKER_SHAPES] + [(m, False) for m in MARKER_SHAPES]


def chart(merged: Result, path: Path) -> None:
    """Top: tensorc ÷ hand-written per workload and framework. Bottom: tensorc ÷ each anchor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fws = framework_names(merged)
    names = workload_names(merged)
    if not names:
        return
    width = 0.8 / max(1, len(fws))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(9.0, 1.15 * len(names)), 9), sharex=True)
    anchor_keys: list[str] = []
    for f_index, fw in enumerate(fws):
        color = COLORS.get(fw, "gray")
        offset = (f_index - (len(fws) - 1) / 2) * width
        xs, heights = [], []
        for n_index, name in enumerate(names):
            value = ratio(merged, fw, name, TENSORC, HAND)
            if value is not None:
                xs.append(n_index + offset)
                heights.append(value)
            workload = find_workload(merged, fw, name)
            tc_time = median(find_variant(workload, TENSORC))
            if workload is None or tc_time is None:
                continue
            for variant in workload["variants"]:
                t = median(variant)
                if variant["role"] != "anchor" or t is None:
                    continue
                if variant["key"] not in anchor_keys:
                    anchor_keys.append(variant["key"])
                shape, filled = MARKER_STYLES[anchor_keys.index(variant["key"]) % 24]
                bottom.scatter(
                    n_index + offset,
                    tc_time / t,
                    marker=shape,
                    s=30,
                    facecolors=color if filled else "none",
                    edgecolors=color,
                    linewidths=1.0,
                    alpha=0.9,
                )
        bars = top.bar(xs, heights, width=width * 0.92, color=color, label=fw)
        for bar, value in zip(bars, heights, strict=True):
            top.annotate(
                f"{value:.2f}",
                (bar.get_x() + bar.get_width() / 2, value * 1.04),
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
            )
    for ax in (top, bottom):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.grid(axis="y", which="major", alpha=0.3)
    low, high = top.get_ylim()
    top.set_ylim(low, high * 1.8)  # room for the value labels
    _mark_groups(merged, top, bottom)
    top.set_ylabel("tensorc ÷ hand-written\n(time ratio, lower is better)")
    top.legend(title="framework", fontsize=8)
    kind = "QUICK smoke run" if merged["meta"]["quick"] else "median wall time"
    threads = merged["meta"].get("threads", "?")
    top.set_title(f"tensorc vs hand-written code ({kind}, {threads} thread(s) per framework)")
    bottom.set_ylabel("tensorc ÷ other implementations\n(time ratio, lower is better)")
    handles = [
        Line2D(
            [],
            [],
            linestyle="",
            marker=MARKER_STYLES[i % 24][0],
            label=key,
            markerfacecolor="gray" if MARKER_STYLES[i % 24][1] else "none",
            markeredgecolor="gray",
        )
        for i, key in enumerate(anchor_keys)
    ]
    handles += [
        Line2D([], [], linestyle="", marker="s", color=color, label=fw)
        for fw, color in COLORS.items()
        if fw in fws
    ]
    if handles:
        bottom.legend(
            handles=handles, fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0)
        )
    bottom.set_xticks(range(len(names)))
    bottom.set_xticklabels(names, rotation=30, ha="right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mark_groups(merged: Result, top: Any, bottom: Any) -> None:
    """Dashed lines between groups of workloads; each group's name above its workloads."""
    groups = workload_groups(merged)
    if len(groups) < 2:
        return
    start = 0
    for index, (group, names) in enumerate(groups):
        if index > 0:
            for ax in (top, bottom):
                ax.axvline(start - 0.5, color="gray", linestyle="--", linewidth=0.8)
        top.text(
            start + (len(names) - 1) / 2,
            0.98,
            group,
            transform=top.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            style="italic",
        )
        start += len(names)


# ---------------------------------------------------------------------------------------


def write(merged: Result, out_dir: Path, chart_path: Path) -> str:
    """Write results.json, results.md and the chart; return the markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(merged, indent=1, default=_json_default))
    text = markdown(merged)
    (out_dir / "results.md").write_text(text)
    chart(merged, chart_path)
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
