"""`fieldscope bench curve PATH`: a scene's quality against training time (IoU and Chamfer for
meshes, PSNR for images, volumes and NeRF test views), scored with the scene's full evaluation at
checkpoints of training seconds. Evaluation time is not counted; setting the scene up (loading,
ground-truth sample pool) is reported on its own.

With --reference MESH, the surface the model has at each checkpoint (export-mesh's: marching cubes
at the scene's iso-level, in the scene's world coordinates) is also scored against MESH: Chamfer
distance (halved symmetric, MESH's units and % of its bounding-box diagonal) and normal consistency
(fields/analysis/surface_metrics.py). Exporting and scoring are not counted as training seconds."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from PIL import Image

from fieldscope.app.commands.plots import plot_lines, save_png
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
from fieldscope.fields.analysis.surface_metrics import DEFAULT_POINTS, Reference
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.render.mesh_export import check_resolution, scene_surface
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.scenes.mesh import load_mesh
from fieldscope.fields.training.run import build_run

#: What --plot draws, when a row has it: (key in the row or its "reference", panel title).
PLOTTED = (
    ("psnr", "PSNR (dB)"),
    ("iou", "IoU"),
    ("chamfer_percent", "Chamfer distance to the reference (% of its diagonal)"),
    ("normal_consistency", "normal consistency with the reference"),
)


def add_parser(which: Subparsers) -> None:
    curve = which.add_parser("curve", help="quality against training seconds on any scene (full metrics)")
    curve.add_argument("path", help="the scene: an image, a mesh, a volume or a NeRF folder")
    curve.add_argument("--task", help="what to fit (default: from the path)")
    curve.add_argument(
        "--checkpoints", default="30,60,120,240", help="training seconds to score at (default 30,60,120,240)"
    )
    curve.add_argument(
        "--reference", metavar="MESH", help="score the model's exported surface against this mesh (world coordinates)"
    )
    curve.add_argument("--resolution", type=int, default=128, help="--reference: marching-cubes grid (default 128)")
    curve.add_argument(
        "--points", type=int, default=DEFAULT_POINTS, help="--reference: samples on each surface (default 100000)"
    )
    curve.add_argument(
        "--reference-every", type=int, default=1, metavar="K", help="--reference: every K-th checkpoint and the last"
    )
    curve.add_argument("--plot", metavar="PNG", help="write the metrics against training seconds to this PNG")
    add_scene_options(curve)
    curve.add_argument("--json", action="store_true", help="print one JSON object")
    add_field_options(curve)
    add_train_options(curve)


def run(args: argparse.Namespace) -> dict[str, Any]:
    checkpoints = sorted(float(c) for c in args.checkpoints.split(","))
    started = time.perf_counter()
    scene = open_scene(args.path, task=args.task, **scene_options(args))
    facts = scene.describe()
    reference = open_reference(args, scene, facts) if args.reference else None
    trainer = build_run(scene, field_options(args), train_options(args))
    field, config = trainer.field, trainer.field.config
    setup = time.perf_counter() - started
    if not args.json:
        print(
            f"{scene.name} ({facts['task']}): set up in {setup:.1f} s; {field.param_count():,} parameters at the start",
            flush=True,
        )
        if reference is not None:
            print(reference_line(args, reference), flush=True)
    rows = []
    for index, checkpoint in enumerate(checkpoints):
        while trainer.elapsed < checkpoint:
            trainer.step()
        scored = time.perf_counter()
        metrics = {k: v for k, v in trainer.evaluate(full=True).items() if k in ("psnr", "iou", "chamfer")}
        # a Laplacian-block field's parameters grow as its finer scales start
        params = field.param_count()
        row: dict[str, Any] = {"seconds": trainer.elapsed, "steps": trainer.step_count, "params": params, **metrics}
        if reference is not None and (index % args.reference_every == 0 or index == len(checkpoints) - 1):
            row["reference"] = score_surface(field, facts, reference, args.resolution)
        rows.append(row)
        if not args.json:
            print(
                f"{trainer.elapsed:7.1f} s  {trainer.step_count:6d} steps  {params:>11,} parameters  "
                f"{metric_summary(metrics)}{surface_summary(row.get('reference'))}"
                f"  (scored in {time.perf_counter() - scored:.1f} s)",
                flush=True,
            )
    report = {
        "scene": facts["name"],
        "task": facts["task"],
        "field": configs.to_dict(config),
        "params": field.param_count(),
        "setup_seconds": setup,
        "batch_size": trainer.batch_size,
        "results": rows,
    }
    if reference is not None:
        report["reference"] = reference_facts(args, reference)
    if args.plot:
        save_png(Path(args.plot), plot_curve(report))
    return report


def open_reference(args: argparse.Namespace, scene: Scene, facts: dict[str, Any]) -> Reference:
    """The --reference mesh sampled once, after checking that the scene's model has a surface
    (a 3D scene with an iso-level) and the options are in range (before any training)."""
    if scene.dims != 3 or "level" not in facts:
        raise ConfigError(
            f"{args.path}: a {scene.dims}D {facts['task']} scene has no surface to score against {args.reference}; "
            "--reference needs a 3D task (sdf, occupancy, nerf, surface)"
        )
    check_resolution(args.resolution)
    if args.reference_every < 1:
        raise ConfigError(f"--reference-every must be at least 1, not {args.reference_every}")
    if args.points < 100:
        raise ConfigError(f"--points must be at least 100, not {args.points}")
    return Reference(*load_mesh(args.reference), points=args.points, seed=args.seed)


def score_surface(field: FieldBase, facts: dict[str, Any], reference: Reference, resolution: int) -> dict[str, Any]:
    """The field's surface (export-mesh's, in world coordinates) against the reference: Chamfer
    (absolute, % of diagonal), accuracy, completeness, normal consistency, the mesh's size and the
    seconds taken; None metrics when the field has no surface at its level yet."""
    started = time.perf_counter()
    try:
        vertices, faces, _ = scene_surface(field, facts, resolution)
        scores: dict[str, Any] = {**reference.score(vertices, faces).as_dict(), "vertices": len(vertices)}
    except ConfigError:  # no surface yet (the level is not crossed) or one without area
        scores = {"chamfer": None, "chamfer_percent": None, "normal_consistency": None, "vertices": 0}
    return {**scores, "seconds": time.perf_counter() - started}


def surface_summary(scores: dict[str, Any] | None) -> str:
    if scores is None:
        return ""
    if scores["chamfer"] is None:
        return ", reference: no surface yet"
    return (
        f", reference: Chamfer {scores['chamfer']:.4g} ({scores['chamfer_percent']:.3f}% of diagonal), "
        f"normals {scores['normal_consistency']:.4f} ({scores['seconds']:.1f} s)"
    )


def reference_facts(args: argparse.Namespace, reference: Reference) -> dict[str, Any]:
    floor = reference.floor
    return {
        "path": str(args.reference),
        "diagonal": reference.diagonal,
        "points": reference.points,
        "resolution": args.resolution,
        "floor": {k: floor.as_dict()[k] for k in ("chamfer", "chamfer_percent", "normal_consistency")},
    }


def reference_line(args: argparse.Namespace, reference: Reference) -> str:
    floor = reference.floor
    return (
        f"reference {args.reference}: diagonal {reference.diagonal:.4g}, {reference.points:,} samples a surface "
        f"(floor: Chamfer {floor.chamfer_relative * 100:.3f}% of diagonal, normals {floor.normal_consistency:.4f}), "
        f"marching cubes at {args.resolution}^3"
    )


def plot_curve(report: dict[str, Any]) -> Image.Image:
    """One panel per metric the rows have (PLOTTED), each against training seconds, stacked."""
    panels = []
    for key, title in PLOTTED:
        points = []
        for row in report["results"]:
            value = row.get(key, (row.get("reference") or {}).get(key))
            if value is not None:
                points.append((row["seconds"], value))
        if points:
            panels.append(plot_lines([points], [report["task"]], f"{report['scene']}: {title}", "training seconds",
                                     markers=True))  # fmt: skip
    if not panels:
        raise ConfigError("nothing to plot: no checkpoint has a metric")
    canvas = Image.new("RGB", (max(p.width for p in panels), sum(p.height for p in panels)), (255, 255, 255))
    y = 0
    for panel in panels:
        canvas.paste(panel, (0, y))
        y += panel.height
    return canvas
