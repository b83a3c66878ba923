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
    fit.add_argument("--field", default="hashgrid", help="field kind, or several separated by commas (run in turn)")
    fit.add_argument(
        "--match-params",
        action="store_true",
        help="give later hash-grid kinds the table size whose parameter count is nearest the first field's",
    )
    fit.add_argument("--targets", default="30,35", help="PSNR targets in dB (default 30,35)")
    fit.add_argument("--time-budget", type=float, default=180.0, help="seconds of training per run")
    fit.add_argument("--impl", action="append", choices=("warp", "torch"), help="default: both")
    fit.add_argument(
        "--option", action="append", default=[], metavar="[KIND.]KEY=VALUE", help="a setting (of one kind only)"
    )
    for name in ("log2_table_size", "levels", "features"):
        fit.add_argument("--" + name.replace("_", "-"), type=int)
    fit.add_argument("--batch-size", type=int, default=1 << 16)
    fit.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    fit.add_argument("--eval-every", type=float, default=1.0, help="seconds of training between PSNR checks")
    from fieldscope.app import bench_budget, bench_curve, bench_render, bench_ui

    bench_budget.add_parser(which)
    bench_render.add_parser(which)
    bench_ui.add_parser(which)
    bench_curve.add_parser(which)
    for parser in which.choices.values():
        parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    return main(args)


def main(args: argparse.Namespace) -> int:
    if args.bench == "ui":
        from fieldscope.app.bench_ui import bench_ui

        bench_ui(args)  # prints its own JSON (it runs a window)
        return 0
    from fieldscope.app import bench_budget, bench_render
    from fieldscope.app.bench_curve import bench_curve
    from fieldscope.app.bench_inside import bench_collisions

    benches = {"encoding": bench_encoding, "fit": bench_fit, "budget": bench_budget.run, "curve": bench_curve,
               "render": bench_render.run, "collisions": bench_collisions}  # fmt: skip
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
    from fieldscope.fields import config as configs

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
    """Train until the last target PSNR, the time budget, or the field's strategy has nothing left to
    train; training seconds at which each target was first reached (None if never). Evaluation time
    is not counted."""
    reached: dict[float, float | None] = dict.fromkeys(targets)
    last_eval = 0.0
    while trainer.elapsed < time_budget and not getattr(trainer.strategy, "finished", False):
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
    for target in targets:
        if reached[target] is None and final >= target:
            reached[target] = trainer.elapsed
    return {"reached": reached, "final_psnr": final, "steps": trainer.step_count}


def kind_options(args: argparse.Namespace, kind: str, names: set[str]) -> argparse.Namespace:
    """The field options of `args` that apply to `kind`: grid flags only where the kind has them,
    --option KEY=VALUE for every kind and KIND.KEY=VALUE for that one."""
    options = []
    for item in args.option:
        key, sep, value = item.partition("=")
        owner, dot, name = key.rpartition(".")
        if not dot:
            options.append(item)
        elif owner == kind:
            options.append(f"{name}{sep}{value}")
    flags = {n: getattr(args, n) if n in names else None for n in ("log2_table_size", "levels", "features")}
    return argparse.Namespace(field=kind, option=options, max_resolution=None, **flags)


def matching_table_size(config: Any, params: int) -> int:
    """log2 table size of a hash-grid config whose table holds about `params` parameters."""
    import math

    from fieldscope.fields.hashgrid import level_layout

    def size(k: int) -> int:
        layout = level_layout(config.dims, config.levels, config.base_resolution, config.growth, k)
        return layout.total_rows * config.features

    return min(range(10, 25), key=lambda k: abs(math.log(size(k)) - math.log(max(params, 1))))


def bench_fit(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    import torch
    from fieldscope.app.cli import DEFAULT_IMAGE, field_config
    from fieldscope.fields import config as configs
    from fieldscope.fields.scenes import open_scene
    from fieldscope.fields.train import TrainConfig, Trainer

    targets = [float(t) for t in args.targets.split(",")]
    scene = open_scene(args.image or str(DEFAULT_IMAGE), device=args.device)
    facts = scene.describe()
    results: list[dict[str, Any]] = []
    for kind in args.field.split(","):
        names = {f.name for f in dataclasses.fields(configs.config_class(kind))}
        options = kind_options(args, kind, names)
        config = field_config(options, scene.dims, scene.out_dims, facts["extent"], facts.get("size"))
        if args.match_params and results and "log2_table_size" in names and args.log2_table_size is None:
            config = dataclasses.replace(config, log2_table_size=matching_table_size(config, results[0]["params"]))
        for impl in args.impl or ["warp", "torch"]:
            torch.manual_seed(0)
            field = configs.build_field(config, impl=impl).to(args.device)
            trainer = Trainer(field, scene, TrainConfig(batch_size=args.batch_size))
            outcome = fit_until(trainer, targets, args.time_budget, args.eval_every)
            row: dict[str, Any] = {"impl": impl, "field": kind, "image": scene.name, "params": field.param_count()}
            for target in targets:
                row[f"seconds_to_{target:g}db"] = outcome["reached"][target]
            row["final_psnr"] = outcome["final_psnr"]
            row["steps"] = outcome["steps"]
            row["seconds"] = trainer.elapsed
            row["config"] = configs.to_dict(config)
            if kind == "laplacian_blocks":
                row["scales"] = [
                    {k: level[k] for k in ("scale", "total", "active", "converged", "stopped", "pruned", "params")}
                    for level in field.inspect()["levels"]
                ]
            results.append(row)
            if not args.json:
                print_fit_row(row, targets)
    return {"results": results}


def print_fit_row(row: dict[str, Any], targets: list[float]) -> None:
    times = ", ".join(f"{t:g} dB at {_fmt(row[f'seconds_to_{t:g}db'])}" for t in targets)
    print(
        f"{row['impl']:5s} {row['field']} {row['params']:,} params: {times}; "
        f"final {row['final_psnr']:.2f} dB after {row['steps']} steps, {row['seconds']:.1f} s",
        flush=True,
    )
    for level in row.get("scales", []):
        print(
            f"      scale {level['scale']}: {level['total']} blocks, {level['active']} active, "
            f"{level['converged']} converged, {level['stopped']} stopped, {level['pruned']} pruned, "
            f"{level['params']:,} params",
            flush=True,
        )


def _fmt(seconds: float | None) -> str:
    return "never" if seconds is None or math.isnan(seconds) else f"{seconds:.1f} s"
