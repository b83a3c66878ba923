"""`fieldscope bench curve PATH`: a scene's quality against training time (IoU and Chamfer for
meshes, PSNR for images, volumes and NeRF test views), scored with the scene's full evaluation at
checkpoints of training seconds. Evaluation time is not counted; setting the scene up (loading,
ground-truth sample pool) is reported on its own."""

from __future__ import annotations

import argparse
import time
from typing import Any


def add_parser(which: Any) -> None:
    from fieldscope.app.cli import add_field_options, add_train_options

    curve = which.add_parser("curve", help="quality against training seconds on any scene (full metrics)")
    curve.add_argument("path", help="the scene: an image, a mesh, a volume or a NeRF folder")
    curve.add_argument("--task", help="what to fit (default: from the path)")
    curve.add_argument(
        "--checkpoints", default="30,60,120,240", help="training seconds to score at (default 30,60,120,240)"
    )
    curve.add_argument("--scene-option", action="append", default=[], metavar="KEY=VALUE")
    curve.add_argument("--memory-budget", type=float, default=4.0, metavar="GIB")
    curve.add_argument("--json", action="store_true", help="print one JSON object")
    add_field_options(curve)
    add_train_options(curve)


def bench_curve(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from fieldscope.app.cli import field_config, key_values, learning_rate, metric_summary
    from fieldscope.fields import config as configs
    from fieldscope.fields.scenes import open_scene
    from fieldscope.fields.train import TrainConfig, Trainer

    checkpoints = sorted(float(c) for c in args.checkpoints.split(","))
    started = time.perf_counter()
    options = key_values(args.scene_option, "--scene-option")
    scene = open_scene(args.path, task=args.task, memory_budget=int(args.memory_budget * 2**30), **options)
    facts = scene.describe()
    config = field_config(args, scene.dims, scene.out_dims, facts["extent"])
    torch.manual_seed(args.seed)
    field = configs.build_field(config)
    trainer = Trainer(
        field, scene, TrainConfig(lr=learning_rate(args, facts), batch_size=args.batch_size, seed=args.seed)
    )
    setup = time.perf_counter() - started
    if not args.json:
        print(
            f"{scene.name} ({facts['task']}): set up in {setup:.1f} s; {field.param_count():,} parameters", flush=True
        )
    rows = []
    for checkpoint in checkpoints:
        while trainer.elapsed < checkpoint:
            trainer.step()
        scored = time.perf_counter()
        metrics = {k: v for k, v in trainer.evaluate(full=True).items() if k in ("psnr", "iou", "chamfer")}
        rows.append({"seconds": trainer.elapsed, "steps": trainer.step_count, **metrics})
        if not args.json:
            print(
                f"{trainer.elapsed:7.1f} s  {trainer.step_count:6d} steps  {metric_summary(metrics)}"
                f"  (scored in {time.perf_counter() - scored:.1f} s)",
                flush=True,
            )
    return {
        "scene": facts["name"],
        "task": facts["task"],
        "field": configs.to_dict(config),
        "params": field.param_count(),
        "setup_seconds": setup,
        "batch_size": args.batch_size,
        "results": rows,
    }
