"""`fieldscope bench curve PATH`: a scene's quality against training time (IoU and Chamfer for
meshes, PSNR for images, volumes and NeRF test views), scored with the scene's full evaluation at
checkpoints of training seconds. Evaluation time is not counted; setting the scene up (loading,
ground-truth sample pool) is reported on its own."""

from __future__ import annotations

import argparse
import time
from typing import Any

from fieldscope.app.options import (
    Subparsers,
    add_field_options,
    add_scene_options,
    add_train_options,
    field_options,
    metric_summary,
    scene_options,
    train_options,
)
from fieldscope.fields import config as configs
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import build_run


def add_parser(which: Subparsers) -> None:
    curve = which.add_parser("curve", help="quality against training seconds on any scene (full metrics)")
    curve.add_argument("path", help="the scene: an image, a mesh, a volume or a NeRF folder")
    curve.add_argument("--task", help="what to fit (default: from the path)")
    curve.add_argument(
        "--checkpoints", default="30,60,120,240", help="training seconds to score at (default 30,60,120,240)"
    )
    add_scene_options(curve)
    curve.add_argument("--json", action="store_true", help="print one JSON object")
    add_field_options(curve)
    add_train_options(curve)


def run(args: argparse.Namespace) -> dict[str, Any]:
    checkpoints = sorted(float(c) for c in args.checkpoints.split(","))
    started = time.perf_counter()
    scene = open_scene(args.path, task=args.task, **scene_options(args))
    facts = scene.describe()
    trainer = build_run(scene, field_options(args), train_options(args))
    field, config = trainer.field, trainer.field.config
    setup = time.perf_counter() - started
    if not args.json:
        print(
            f"{scene.name} ({facts['task']}): set up in {setup:.1f} s; {field.param_count():,} parameters at the start",
            flush=True,
        )
    rows = []
    for checkpoint in checkpoints:
        while trainer.elapsed < checkpoint:
            trainer.step()
        scored = time.perf_counter()
        metrics = {k: v for k, v in trainer.evaluate(full=True).items() if k in ("psnr", "iou", "chamfer")}
        # a Laplacian-block field's parameters grow as its finer scales start
        params = field.param_count()
        rows.append({"seconds": trainer.elapsed, "steps": trainer.step_count, "params": params, **metrics})
        if not args.json:
            print(
                f"{trainer.elapsed:7.1f} s  {trainer.step_count:6d} steps  {params:>11,} parameters  "
                f"{metric_summary(metrics)}"
                f"  (scored in {time.perf_counter() - scored:.1f} s)",
                flush=True,
            )
    return {
        "scene": facts["name"],
        "task": facts["task"],
        "field": configs.to_dict(config),
        "params": field.param_count(),
        "setup_seconds": setup,
        "batch_size": trainer.batch_size,
        "results": rows,
    }
