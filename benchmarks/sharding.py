"""Sharded benchmarks (issue 12): tensorc programs laid out by `shard=` against the same
written by hand with `jax.jit` and explicit `NamedSharding`s, on 8 simulated CPU devices
(a 2 x 4 mesh, "data" x "model", in both mesh axis modes); and a sharded matmul on 1, 2, 4
and 8 devices.

    python -m benchmarks.sharding                 # everything; tables in benchmarks/results/
    python -m benchmarks.sharding --quick         # small sizes, few repeats
    python -m benchmarks --only sharded_mlp       # the driver starts this module for it

XLA reads XLA_FLAGS once, when JAX starts, so this runs in a process of its own. The devices
are CPU cores standing in for accelerators (few here, shared by all 8): the times say little
about real devices, and the collectives in the compiled HLO and the bytes they carry are what
carries over; both are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEVICES = 8
CASE_NAMES = (
    "sharded_bmm",
    "sharded_mlp",
    "sharded_attention",
    "sharded_layer_norm",
    "sharded_conv",
    "sharded_transformer",
)
SCALING = "sharded_matmul_scaling"
NAMES = (*CASE_NAMES, SCALING)
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
SCALING_SIZES = {"full": 1024, "quick": 256}


def device_flags(flags: str | None) -> str:
    """XLA_FLAGS that ask for DEVICES host devices (keeping any other flags)."""
    kept = [f for f in (flags or "").split() if "xla_force_host_platform_device_count" not in f]
    return " ".join([*kept, f"--xla_force_host_platform_device_count={DEVICES}"])


def wanted(only: Sequence[str]) -> list[str]:
    """The sharded workloads among names asked for (all of them when none is asked for)."""
    return list(NAMES) if not only else [name for name in NAMES if name in only]


# --- measuring (JAX imported by now) ---------------------------------------------------------


def _timed(functions: list[Any], args: tuple[Any, ...], quick: bool) -> list[tuple[float, float]]:
    """Median milliseconds per call of each function, timed interleaved: wall-clock, and
    process CPU time (steadier when other work shares the cores)."""
    from benchmarks.timing import Timed, TimingConfig, measure_interleaved, warm_up

    config = TimingConfig.quick() if quick else TimingConfig.full()
    items = [Timed(f, args, sync=lambda out: out.block_until_ready()) for f in functions]
    estimates = [warm_up(item, config) for item in items]
    stats = measure_interleaved(items, estimates, config)
    return [(s.median_ns / 1e6, (s.cpu_median_ns or 0.0) / 1e6) for s in stats]


def _traffic(function: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """The collectives of the compiled program and the bytes they produce per device."""
    import jax

    from benchmarks.hlo import collectives, payload_bytes

    text = jax.jit(function).lower(*args).compile().as_text()
    found = {kind: n for kind, n in collectives(text).items() if n}
    return {"collectives": found, "bytes": payload_bytes(text)}


def _row(times: list[tuple[float, float]], traffic: tuple[Any, Any]) -> dict[str, Any]:
    """Times, ratios (tensorc / hand) and traffic of a hand-written and a tensorc variant."""
    (hand_ms, hand_cpu), (tensorc_ms, tensorc_cpu) = times
    return {
        "hand_ms": hand_ms,
        "tensorc_ms": tensorc_ms,
        "ratio": tensorc_ms / hand_ms,
        "cpu_ratio": tensorc_cpu / hand_cpu if hand_cpu else None,
        "hand": traffic[0],
        "tensorc": traffic[1],
    }


def measure_case(name: str, mode: str, quick: bool) -> dict[str, Any]:
    """One sharded workload in one mesh axis mode: tensorc against hand-written."""
    import jax
    import numpy as np

    import tensorc as tc
    from benchmarks.sharded_cases import CASES, Hand

    case = next(case for case in CASES if case.name == name)
    kind = getattr(jax.sharding.AxisType, mode.capitalize())
    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(kind, kind))
    hand = Hand(mesh, mode == "explicit")
    sizes = case.sizes if quick else case.bench_sizes
    args = case.placed(hand, sizes)
    program = tc.compile(case.source, backend="jax", mesh=mesh, shard=case.shard)
    by_hand = case.hand_jitted(hand)
    with jax.set_mesh(mesh):  # the hand-written code's specs name the mesh in context
        np.testing.assert_allclose(program(*args), by_hand(*args), rtol=1e-4, atol=1e-4)
        times = _timed([by_hand, program], args, quick)
        traffic = (_traffic(by_hand, args), _traffic(program.function_for(*args), args))
    return {
        "workload": name,
        "title": case.title,
        "mode": mode,
        "sizes": dict(sizes),
        **_row(times, traffic),
    }


def measure_scaling(devices: int, split: str, quick: bool) -> dict[str, Any]:
    """`C[i, k] = A[i, j] * B[j, k]` on `devices` devices, its rows (`split="i"`) or its
    summed index (`split="j"`: partial sums, all-reduced) split over them."""
    import jax
    import numpy as np

    import tensorc as tc
    from benchmarks.sharded_cases import Hand

    n = SCALING_SIZES["quick" if quick else "full"]
    explicit = jax.sharding.AxisType.Explicit
    mesh = jax.make_mesh(
        (devices,), ("x",), axis_types=(explicit,), devices=jax.devices()[:devices]
    )
    hand = Hand(mesh, True)
    a_spec, b_spec = (("x", None), (None, None)) if split == "i" else ((None, "x"), ("x", None))
    out = ("x", None) if split == "i" else (None, None)
    by_hand = hand.jit(lambda a, b: hand.einsum("ij,jk->ik", a, b, out=out), (a_spec, b_spec), out)
    program = tc.compile(
        "C[i, k] = A[i, j] * B[j, k]", backend="jax", mesh=mesh, shard={split: "x"}
    )
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, n), dtype=np.float32) for _ in range(2)]
    args = tuple(
        jax.device_put(a, hand.sharding(s)) for a, s in zip(arrays, (a_spec, b_spec), strict=True)
    )
    with jax.set_mesh(mesh):
        times = _timed([by_hand, program], args, quick)
        traffic = (_traffic(by_hand, args), _traffic(program.function_for(*args), args))
    return {"devices": devices, "split": split, "n": n, **_row(times, traffic)}


# --- the report ------------------------------------------------------------------------------


def _collectives(traffic: dict[str, Any]) -> str:
    found = traffic["collectives"]
    return ", ".join(f"{n} {kind}" for kind, n in found.items()) or "none"


def _ratio(row: dict[str, Any]) -> str:
    return "" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.2f}"


def _kib(traffic: dict[str, Any]) -> str:
    return f"{traffic['bytes'] / 1024:.1f}"


def markdown(results: dict[str, Any]) -> str:
    """The tables: each workload's times, ratio and collectives; the scaling of the matmul."""
    lines = [
        f"# Sharded programs on {DEVICES} simulated CPU devices",
        "",
        f"`{results['command']}` · jax {results['jax']} · {results['cpus']} CPU cores for "
        f"{DEVICES} devices · median ms per call, interleaved · collectives in the compiled "
        "HLO · KiB: bytes the collectives produce per device",
        "",
        "| workload | mode | hand ms | tensorc ms | ratio | ratio (CPU) | collectives (hand) "
        "| collectives (tensorc) | KiB hand | KiB tensorc |",
        "|---|---|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for row in results["workloads"]:
        lines.append(
            f"| {row['workload']} | {row['mode']} | {row['hand_ms']:.3f} | "
            f"{row['tensorc_ms']:.3f} | {row['ratio']:.2f} | {_ratio(row)} | "
            f"{_collectives(row['hand'])} | "
            f"{_collectives(row['tensorc'])} | {_kib(row['hand'])} | {_kib(row['tensorc'])} |"
        )
    if results["scaling"]:
        n = results["scaling"][0]["n"]
        lines += [
            "",
            f"## `C[i, k] = A[i, j] * B[j, k]`, {n} x {n} float32, on 1 to {DEVICES} devices",
            "",
            "i split: each device computes its rows (no communication); j split: each device "
            "sums its part of j, then the partial sums are all-reduced.",
            "",
            "| split | devices | hand ms | tensorc ms | ratio | ratio (CPU) "
            "| collectives (tensorc) | KiB hand | KiB tensorc |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for row in results["scaling"]:
            lines.append(
                f"| {row['split']} | {row['devices']} | {row['hand_ms']:.3f} | "
                f"{row['tensorc_ms']:.3f} | {row['ratio']:.2f} | {_ratio(row)} | "
                f"{_collectives(row['tensorc'])} | {_kib(row['hand'])} | "
                f"{_kib(row['tensorc'])} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sharding", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(NAMES))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the tables go")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        parser.error(f"unknown sharded workload(s) {', '.join(unknown)}")
    os.environ["XLA_FLAGS"] = device_flags(os.environ.get("XLA_FLAGS"))
    import jax  # only now: XLA reads the flags as it starts

    if len(jax.devices()) < DEVICES:
        print(f"JAX started with {len(jax.devices())} devices, not {DEVICES}", file=sys.stderr)
        return 1
    names = wanted(only)
    results: dict[str, Any] = {
        "command": "python -m benchmarks.sharding "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "jax": jax.__version__,
        "cpus": os.cpu_count(),
        "workloads": [
            measure_case(name, mode, args.quick)
            for name in names
            if name in CASE_NAMES
            for mode in ("explicit", "auto")
        ],
        "scaling": [
            measure_scaling(devices, split, args.quick)
            for split in ("i", "j")
            for devices in (1, 2, 4, 8)
            if SCALING in names
        ],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sharding.json").write_text(json.dumps(results, indent=1) + "\n")
    text = markdown(results)
    (args.out / "sharding.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
