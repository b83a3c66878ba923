"""`fieldscope bench sweep`: what the Ray engine of sweeps costs and gains, in one process. The same
runs (one kind on one image, a seed each, one torch thread each) first one after the other here
(the serial engine), then on a local Ray of --workers CPUs started for them. Reported: both wall
times and their ratio (the speed-up), Ray's start-up, and the engine's overhead per run: the
workers' time not spent inside a run (start-up, scheduling, gathering, idle ends), over the runs:
(Ray's wall time x workers - the runs' own wall times) / runs, and its parts (`timeline`)."""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

from fieldscope.app.options import DEFAULT_IMAGE
from fieldscope.fields.training.sweep import Outcome, RunSpec, grid, run_serial


def add_parser(which: Any) -> None:
    bench = which.add_parser("sweep", help="a sweep's runs one after the other vs on a local Ray (overhead, speed-up)")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--runs", type=int, default=8, help="runs (seeds 0..N-1; default 8)")
    bench.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray, one run each (default 2)")
    bench.add_argument("--field", default="hashgrid", help="the runs' field kind (default hashgrid)")
    bench.add_argument("--image", default=str(DEFAULT_IMAGE), help="the runs' scene (default: the bundled image)")
    bench.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    bench.add_argument("--batch-size", type=int, default=1 << 14, help="samples per step (default 16384)")


def timed(engine: Any, specs: list[RunSpec]) -> tuple[float, list[dict[str, Any]]]:
    """(wall seconds, rows) of `engine(specs, deliver)`; each row gets `delivered_at` and
    `submitted_at` (time.time(), as the rows' started_at and ended_at)."""
    rows: list[dict[str, Any]] = []

    def deliver(spec: RunSpec, outcome: Outcome) -> None:
        rows.append({**outcome[0], "submitted_at": submitted, "delivered_at": time.time()})

    started, submitted = time.perf_counter(), time.time()
    engine(specs, deliver)
    return time.perf_counter() - started, rows


def timeline(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Where a Ray sweep's time outside the runs goes: the first run's start after submission
    (workers import fieldscope), the mean gap between two runs of a worker (scheduling) and the
    mean time from a run's end to its row here (gathering: the row and snapshot cross processes)."""
    gaps = []
    for host in {row["host"] for row in rows}:
        mine = sorted((row for row in rows if row["host"] == host), key=lambda row: row["started_at"])
        gaps += [after["started_at"] - before["ended_at"] for before, after in itertools.pairwise(mine)]
    return {
        "first_start_seconds": min(row["started_at"] for row in rows) - rows[0]["submitted_at"],
        "gap_between_runs_seconds": sum(gaps) / len(gaps) if gaps else 0.0,
        "gather_seconds": sum(row["delivered_at"] - row["ended_at"] for row in rows) / len(rows),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fieldscope.fields.training import ray_engine  # Ray takes ~1 s to import: only for this bench

    specs = grid([args.field], [args.image], seeds=range(args.runs), steps=args.steps, batch_size=args.batch_size)
    serial, serial_rows = timed(lambda s, d: run_serial(s, d, threads=1), specs)
    options = ray_engine.RayOptions(local_cpus=args.workers)
    started = time.perf_counter()
    with ray_engine.session(options):
        startup = time.perf_counter() - started
        on_ray, ray_rows = timed(lambda s, d: ray_engine.run_on_ray(s, d, options), specs)
    errors = [row["error"] for row in serial_rows + ray_rows if row["error"]]
    run_walls = sum(row["wall"] for row in ray_rows)
    total = startup + on_ray
    report = {
        "runs": args.runs,
        "workers": args.workers,
        "field": args.field,
        "steps": args.steps,
        "serial_seconds": serial,
        "ray_seconds": total,
        "ray_startup_seconds": startup,
        "speedup": serial / total,
        "run_seconds_mean": sum(row["wall"] for row in serial_rows) / args.runs,
        "ray_run_seconds_mean": run_walls / args.runs,
        "overhead_per_run_seconds": (total * args.workers - run_walls) / args.runs,
        "errors": errors,
        **timeline(ray_rows),
    }
    if not args.json:
        print(
            f"{args.runs} runs of {args.field}, {args.steps} steps: one after the other {serial:.1f} s, on a local "
            f"Ray of {args.workers} workers {total:.1f} s (start-up {startup:.1f} s): {report['speedup']:.2f}x; "
            f"engine overhead {report['overhead_per_run_seconds']:.2f} s per run "
            f"(a run: {report['run_seconds_mean']:.1f} s here, {report['ray_run_seconds_mean']:.1f} s on Ray); "
            f"first run started {report['first_start_seconds']:.1f} s after submission, "
            f"{report['gap_between_runs_seconds']:.2f} s between runs, {report['gather_seconds']:.2f} s to gather a row"
        )
    return report
