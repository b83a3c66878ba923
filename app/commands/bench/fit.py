"""`fieldscope bench fit`: seconds to PSNR targets, the Warp field against the pure-PyTorch field,
or several kinds in one process."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import TYPE_CHECKING, Any

from fieldscope.app.options import DEFAULT_IMAGE, Subparsers, add_device_option, field_options, kind_help, train_options
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.hashgrid import level_layout
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import build_run, field_config
from fieldscope.fields.training.trainer import Trainer

if TYPE_CHECKING:  # the hash grid loads Warp (~1 s): not at --help time
    from fieldscope.fields.kinds.hashgrid import GridConfig


def add_parser(which: Subparsers) -> None:
    fit = which.add_parser("fit", help="seconds to reach PSNR targets: Warp field vs pure-PyTorch field")
    fit.add_argument("--json", action="store_true")
    fit.add_argument("--image", help="image to fit (default: the bundled one)")
    fit.add_argument(
        "--field", default="hashgrid", help=kind_help("field kind, or several separated by commas (run in turn)")
    )
    fit.add_argument(
        "--match-params",
        action="store_true",
        help="give later hash-grid kinds the table size whose parameter count is nearest the first field's",
    )
    fit.add_argument("--targets", default="30,35", help="PSNR targets in dB (default 30,35)")
    fit.add_argument("--time-budget", type=float, default=180.0, help="seconds of training per run")
    fit.add_argument("--impl", action="append", choices=("warp", "torch"), help="default: each the kind has")
    fit.add_argument(
        "--option", action="append", default=[], metavar="[KIND.]KEY=VALUE", help="a setting (of one kind only)"
    )
    for name in ("log2_table_size", "levels", "features"):
        fit.add_argument("--" + name.replace("_", "-"), type=int)
    fit.add_argument("--batch-size", type=int, help="samples per step (default: the scene's suggestion)")
    fit.add_argument("--seed", type=int, default=0)
    add_device_option(fit)
    fit.add_argument("--eval-every", type=float, default=1.0, help="seconds of training between PSNR checks")


def fit_until(trainer: Trainer, targets: list[float], time_budget: float, eval_every: float = 1.0) -> dict[str, Any]:
    """Train until the last target PSNR, the time budget, or the field's strategy has nothing left to
    train; training seconds at which each target was first reached (None if never). Evaluation time
    is not counted."""
    reached: dict[float, float | None] = dict.fromkeys(targets)
    last_eval = 0.0
    while trainer.elapsed < time_budget and not trainer.strategy.finished:
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


def matching_table_size(config: GridConfig, params: int) -> int:
    """log2 table size of a hash-grid config whose table holds about `params` parameters."""

    def size(k: int) -> int:
        layout = level_layout(config.dims, config.levels, config.base_resolution, config.growth, k)
        return layout.total_rows * config.features

    return min(range(10, 25), key=lambda k: abs(math.log(size(k)) - math.log(max(params, 1))))


def run(args: argparse.Namespace) -> dict[str, Any]:
    targets = [float(t) for t in args.targets.split(",")]
    scene = open_scene(args.image or str(DEFAULT_IMAGE), device=args.device)
    results: list[dict[str, Any]] = []
    for kind in args.field.split(","):
        config = field_config(scene, field_options(args, kind))
        if args.match_params and results and config.capabilities.hash_table and args.log2_table_size is None:
            config = dataclasses.replace(config, log2_table_size=matching_table_size(config, results[0]["params"]))
        for impl in args.impl or configs.implementations(kind):
            trainer = build_run(scene, None, train_options(args), args.device, config=config, impl=impl)
            field = trainer.field
            outcome = fit_until(trainer, targets, args.time_budget, args.eval_every)
            row: dict[str, Any] = {"impl": impl, "field": kind, "image": scene.name, "params": field.param_count()}
            for target in targets:
                row[f"seconds_to_{target:g}db"] = outcome["reached"][target]
            row["final_psnr"] = outcome["final_psnr"]
            row["steps"] = outcome["steps"]
            row["seconds"] = trainer.elapsed
            row["config"] = configs.to_dict(config)
            if config.capabilities.blocks:
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
