"""Driver: run each framework's benchmarks in its own subprocess, merge, report.

python -m benchmarks                      # full run (several minutes)
python -m benchmarks --quick              # smoke test: small sizes, few repeats
python -m benchmarks --only bmm,attention --frameworks numpy,torch
python -m benchmarks --only sharded_mlp   # sharded workloads: benchmarks.sharding, 8 devices
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import report, sharding
from benchmarks.catalog import WORKLOAD_NAMES, select
from benchmarks.frameworks import FRAMEWORKS, thread_env

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results"
DOCS_CHART = REPO_ROOT / "docs" / "benchmarks.png"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark tensorc against hand-written NumPy / PyTorch / JAX code "
        "and einsum-style libraries.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and few repeats: a smoke test"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORKLOAD",
        help="run only these workloads (comma-separated, repeatable): "
        + ", ".join((*WORKLOAD_NAMES, *sharding.NAMES)),
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help="comma-separated subset of " + ",".join(FRAMEWORKS),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="directory for results.json and results.md (default: benchmarks/results/)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=None,
        help="where to write the PNG chart (default: docs/benchmarks.png "
        "for a full run of everything, else OUT/benchmarks.png)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per framework (default 1: multi-threaded BLAS / OpenMP / XLA timings "
        "swing by 100x when other work competes for the cores)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds allowed per framework (default: 300 quick, 3600 full)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="RESULTS_JSON",
        help="measure nothing: rebuild results.md and the chart from a results.json",
    )
    args = parser.parse_args(argv)
    args.only = [name for item in args.only for name in comma_list(item)]
    # sharded workloads run in a process of their own, with 8 simulated devices
    args.sharded = sharding.wanted(args.only)
    args.frameworks_too = not args.only or any(n not in sharding.NAMES for n in args.only)
    args.only = [name for name in args.only if name not in sharding.NAMES]
    requested = comma_list(args.frameworks)
    unknown = sorted(set(requested) - set(FRAMEWORKS))
    args.frameworks = [fw for fw in FRAMEWORKS if fw in requested]
    if unknown or not args.frameworks:
        parser.error(
            f"unknown framework(s) {', '.join(unknown)}; choose from " + ", ".join(FRAMEWORKS)
        )
    try:
        select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def run_framework(framework: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``benchmarks.run_framework`` in a fresh interpreter and collect its JSON lines.

    The child prints each workload's results as soon as they are measured, so a run that
    times out or crashes still reports what it finished.
    """
    command = [
        sys.executable,
        "-m",
        "benchmarks.run_framework",
        "--framework",
        framework,
        "--threads",
        str(args.threads),
    ]
    if args.quick:
        command.append("--quick")
    if args.only:
        command += ["--only", ",".join(args.only)]
    env = {**os.environ, **thread_env(framework, args.threads)}
    timeout = args.timeout or (300.0 if args.quick else 3600.0)
    log(f"== {framework}: {' '.join(command[1:])}")
    start = time.perf_counter()
    failure = None
    try:
        proc = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
        stdout = proc.stdout
        if proc.returncode != 0:
            failure = f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout or ""
        stdout = output.decode(errors="replace") if isinstance(output, bytes) else output
        failure = f"timed out after {timeout:.0f} s"
    log(f"== {framework}: done in {time.perf_counter() - start:.1f} s ({failure or 'ok'})")
    result = assemble(framework, stdout)
    if failure is not None:
        result["error"] = failure + (f"; {result['error']}" if "error" in result else "")
    return result


def run_sharding(args: argparse.Namespace) -> bool:
    """Run ``benchmarks.sharding`` in a fresh interpreter whose XLA_FLAGS ask for its devices;
    it writes sharding.md and sharding.json next to the other results."""
    command = [sys.executable, "-m", "benchmarks.sharding", "--out", str(args.out)]
    command += ["--only", ",".join(args.sharded)] + (["--quick"] if args.quick else [])
    env = {**os.environ, "XLA_FLAGS": sharding.device_flags(os.environ.get("XLA_FLAGS"))}
    log(f"== sharded: {' '.join(command[1:])}")
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, timeout=args.timeout, check=False)
    return done.returncode == 0


def assemble(framework: str, stdout: str) -> dict[str, Any]:
    """Build one framework's result from the child's JSON lines."""
    result: dict[str, Any] = {"framework": framework, "meta": {}, "workloads": [], "compile": None}
    done = False
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
            part, data = message["part"], message["data"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a partial last line after a kill
        if part == "meta":
            result["meta"] = data
        elif part == "workload":
            result["workloads"].append(data)
        elif part == "compile":
            result["compile"] = data
        elif part == "memory":
            for workload in result["workloads"]:
                for variant in workload["variants"] if workload["name"] == data["workload"] else []:
                    if variant["key"] == data["key"]:
                        variant.update(peak_bytes=data["peak"], peak_method=data["method"])
        elif part == "error":
            result["error"] = data
        elif part == "done":
            done = True
    if not done and "error" not in result:
        result["error"] = "incomplete output"
    return result


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def chart_destination(args: argparse.Namespace, merged: dict[str, Any]) -> Path:
    """docs/benchmarks.png for a full run of everything; OUT/benchmarks.png otherwise."""
    if args.chart is not None:
        return Path(args.chart)
    meta = merged["meta"]
    everything = not meta.get("only") and list(merged["runs"]) == list(FRAMEWORKS)
    return DOCS_CHART if everything and not meta["quick"] else args.out / "benchmarks.png"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        merged = json.loads(args.from_json.read_text())
        chart_path = chart_destination(args, merged)
        print(report.write(merged, args.out, chart_path))
        log(f"rebuilt {args.out / 'results.md'} and {chart_path} from {args.from_json}")
        return 0
    merged = {
        "meta": {
            "command": " ".join(
                ["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)]
            ),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": args.quick,
            "only": args.only,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu": cpu_model(),
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "load_before": load_average(),
        },
        "runs": {},
    }
    sharded_ok = run_sharding(args) if args.sharded else True
    if not args.frameworks_too:
        return 0 if sharded_ok else 1
    for framework in args.frameworks:
        load_before = load_average().split(",")[0]
        merged["runs"][framework] = run_framework(framework, args)
        merged["runs"][framework]["load"] = [load_before, load_average().split(",")[0]]
    merged["meta"]["load_after"] = load_average()
    chart_path = chart_destination(args, merged)
    text = report.write(merged, args.out, chart_path)
    print(text)
    log(f"wrote {args.out / 'results.json'}, {args.out / 'results.md'}, {chart_path}")
    failed = [fw for fw, run in merged["runs"].items() if run.get("error")]
    return 1 if failed or not sharded_ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
