"""`fieldscope bench sweep`: what the Ray engine of sweeps costs and gains, in one process. The same
runs (one kind on one image, a seed each, one torch thread each) first one after the other here
(the serial engine), then on a local Ray of --workers CPUs started for them. Reported: both wall
times and their ratio (the speed-up), Ray's start-up, and the engine's overhead per run: the
workers' time not spent inside a run (start-up, scheduling, gathering, idle ends), over the runs:
(Ray's wall time x workers - the runs' own wall times) / runs."""

from __future__ import annotations

import argparse
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
    """(wall seconds, rows) of `engine(specs, deliver)`."""
    rows: list[dict[str, Any]] = []

    def deliver(spec: RunSpec, outcome: Outcome) -> None:
        rows.append(outcome[0])

    started = time.perf_counter()
    engine(specs, deliver)
    return time.perf_counter() - started, rows


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
    }
    if not args.json:
        print(
            f"{args.runs} runs of {args.field}, {args.steps} steps: one after the other {serial:.1f} s, on a local "
            f"Ray of {args.workers} workers {total:.1f} s (start-up {startup:.1f} s): {report['speedup']:.2f}x; "
            f"engine overhead {report['overhead_per_run_seconds']:.2f} s per run "
            f"(a run: {report['run_seconds_mean']:.1f} s here, {report['ray_run_seconds_mean']:.1f} s on Ray)"
        )
    return report
