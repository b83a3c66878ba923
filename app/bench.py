"""`fieldscope bench`: speed and quality figures, each measured against a reference run in the same
process (ratios, never absolute asserts)."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

ENCODING_BENCH = {
    "points": 1 << 18,
    "levels": 16,
    "features": 2,
    "log2_table_size": 19,
    "base_resolution": 16,
    "growth": 1.5,
}


def add_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks (ratios against a reference in the same process)")
    which = bench.add_subparsers(dest="bench", required=True)

    enc = which.add_parser("encoding", help="encoding throughput: Warp vs pure PyTorch, D=2 and D=3")
    enc.add_argument("--json", action="store_true", help="print one JSON object")
    enc.add_argument("--points", type=int, default=ENCODING_BENCH["points"])
    enc.add_argument("--repeats", type=int, default=3)
    enc.add_argument("--field", action="append", help="field kinds to time (default: all)")
    enc.add_argument("--device", default="cpu", help="cpu (default) or cuda")

    fit = which.add_parser("fit", help="seconds to reach PSNR targets: Warp field vs pure-PyTorch field")
    fit.add_argument("--json", action="store_true")
    fit.add_argument("--image", help="image to fit (default: the bundled one)")
    fit.add_argument("--field", default="hashgrid")
    fit.add_argument("--targets", default="30,35", help="PSNR targets in dB (default 30,35)")
    fit.add_argument("--time-budget", type=float, default=180.0, help="seconds of training per run")
    fit.add_argument("--impl", action="append", choices=("warp", "torch"), help="default: both")
    fit.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    for name in ("log2_table_size", "levels", "features"):
        fit.add_argument("--" + name.replace("_", "-"), type=int)
    fit.add_argument("--batch-size", type=int, default=1 << 16)
    fit.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    fit.add_argument("--eval-every", type=float, default=1.0, help="seconds of training between PSNR checks")
    from app import bench_budget, bench_curve, bench_ui

    bench_budget.add_parser(which)
    bench_ui.add_parser(which)
    bench_curve.add_parser(which)
    for parser in which.choices.values():
        parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    return main(args)


def main(args: argparse.Namespace) -> int:
    if args.bench == "ui":
        from app.bench_ui import bench_ui

        bench_ui(args)  # prints its own JSON (it runs a window)
        return 0
    from app import bench_budget
    from app.bench_curve import bench_curve
    from app.bench_inside import bench_collisions

    benches = {"encoding": bench_encoding, "fit": bench_fit, "budget": bench_budget.run, "curve": bench_curve}
    benches["collisions"] = bench_collisions
    report = benches[args.bench](args)
    if args.json:
        print(json.dumps(report))
    return 0


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call (waiting for the GPU, if any)."""
    import torch

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    fn()
    times = []
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def encoding_throughput(encoding: Any, x: Any, repeats: int) -> tuple[float, float]:
    """Points per second of encoding(x) forward, and forward + backward to the parameters."""
    import torch

    def forward() -> None:
        with torch.no_grad():
            encoding(x)

    def forward_backward() -> None:
        encoding.zero_grad(set_to_none=True)
        encoding(x).sum().backward()

    n = x.shape[0]
    return n / timed(forward, repeats), n / timed(forward_backward, repeats)


def grid_encodings(dims: int, settings: dict[str, Any], only: list[str] | None, device: str = "cpu") -> Any:
    """(kind, impl, encoding module) for every grid field kind that takes the benchmark settings."""
    import dataclasses

    import torch

    from fields import config as configs

    for kind in only or configs.kinds():
        cls = configs.config_class(kind)
        names = {f.name for f in dataclasses.fields(cls)}
        grid = {k: v for k, v in settings.items() if k not in ("points", "device")}
        values = {k: v for k, v in grid.items() if k in names}
        if len(values) < len(grid):  # not a grid kind
            continue
        config = cls(dims=dims, **values)
        for impl in ("warp", "torch"):
            torch.manual_seed(0)
            yield kind, impl, configs.build_field(config, impl=impl).encoding.to(device)


def bench_encoding(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    config = {**ENCODING_BENCH, "points": args.points, "device": args.device}
    results = []
    for dims in (2, 3):
        x = torch.rand(args.points, dims, generator=torch.Generator().manual_seed(dims)).to(args.device)
        for kind, impl, encoding in grid_encodings(dims, config, args.field, args.device):
            fwd, fwd_bwd = encoding_throughput(encoding, x, args.repeats)
            row = {
                "dims": dims,
                "field": kind,
                "impl": impl,
                "forward_points_per_s": fwd,
                "forward_backward_points_per_s": fwd_bwd,
            }
            results.append(row)
            if not args.json:
                print(
                    f"D={dims} {kind:16s} {impl:5s}  forward {fwd / 1e6:7.3f} M points/s   "
                    f"forward+backward {fwd_bwd / 1e6:7.3f} M points/s",
                    flush=True,
                )
    if not args.json:
        for row in results:
            if row["impl"] == "warp":
                ref = next(
                    (
                        r
                        for r in results
                        if r["dims"] == row["dims"] and r["field"] == row["field"] and r["impl"] == "torch"
                    ),
                    None,
                )
                if ref:
                    print(
                        f"D={row['dims']} {row['field']}: Warp / PyTorch = "
                        f"{row['forward_points_per_s'] / ref['forward_points_per_s']:.1f}x forward, "
                        f"{row['forward_backward_points_per_s'] / ref['forward_backward_points_per_s']:.1f}x "
                        "forward+backward"
                    )
    return {"config": config, "results": results}


def fit_until(trainer: Any, targets: list[float], time_budget: float, eval_every: float = 1.0) -> dict[str, Any]:
    """Train until the last target PSNR or the time budget; training seconds at which each target was
    first reached (None if never). Evaluation time is not counted."""
    reached: dict[float, float | None] = dict.fromkeys(targets)
    last_eval = 0.0
    while trainer.elapsed < time_budget:
        trainer.step()
        if trainer.elapsed - last_eval >= eval_every:
            psnr = trainer.evaluate()["psnr"]
            last_eval = trainer.elapsed
            for target in targets:
                if reached[target] is None and psnr >= target:
                    reached[target] = trainer.elapsed
            if all(v is not None for v in reached.values()):
                break
    final = trainer.evaluate()["psnr"]
    return {"reached": reached, "final_psnr": final, "steps": trainer.step_count}


def bench_fit(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from app.cli import DEFAULT_IMAGE, field_config
    from fields import config as configs
    from fields.scenes import open_scene
    from fields.train import TrainConfig, Trainer

    targets = [float(t) for t in args.targets.split(",")]
    scene = open_scene(args.image or str(DEFAULT_IMAGE), device=args.device)
    options = argparse.Namespace(
        field=args.field,
        option=args.option,
        max_resolution=None,
        log2_table_size=args.log2_table_size,
        levels=args.levels,
        features=args.features,
    )
    config = field_config(options, scene.dims, scene.out_dims, scene.describe()["extent"])
    results = []
    for impl in args.impl or ["warp", "torch"]:
        torch.manual_seed(0)
        field = configs.build_field(config, impl=impl).to(args.device)
        trainer = Trainer(field, scene, TrainConfig(batch_size=args.batch_size))
        outcome = fit_until(trainer, targets, args.time_budget, args.eval_every)
        row: dict[str, Any] = {"impl": impl, "field": config.kind, "image": scene.name, "params": field.param_count()}
        for target in targets:
            row[f"seconds_to_{target:g}db"] = outcome["reached"][target]
        row["final_psnr"] = outcome["final_psnr"]
        row["steps"] = outcome["steps"]
        row["seconds"] = trainer.elapsed
        results.append(row)
        if not args.json:
            times = ", ".join(f"{t:g} dB at {_fmt(outcome['reached'][t])}" for t in targets)
            print(
                f"{impl:5s} {config.kind} {field.param_count():,} params: {times}; "
                f"final {outcome['final_psnr']:.2f} dB after {outcome['steps']} steps, {trainer.elapsed:.1f} s",
                flush=True,
            )
    return {"results": results}


def _fmt(seconds: float | None) -> str:
    return "never" if seconds is None or math.isnan(seconds) else f"{seconds:.1f} s"
