"""`fieldscope compare`: several field kinds on one scene at an equal parameter budget, headless: a
sweep of one scene (app/commands/sweep.py's `execute`: one run per kind, its config fitted to the
budget, each run `fit`'s build, training and evaluation, fields/training/sweep.py), its runs one
after the other here by default (timing is fair with one run at a time), or on Ray with --workers N or
--address. With --report DIR the sweep's results folder (sweep.json, runs/, snapshots/, results.json,
results.csv, results.md, curves.png, pareto.png: `fieldscope view DIR` opens it as it opens a sweep's)
and compare's own pictures.png, the trained fields' pictures side by side."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from fieldscope.app.commands import command_parser
from fieldscope.app.commands.plots import save_png
from fieldscope.app.commands.sweep import execute, ray_options
from fieldscope.app.commands.sweep_report import markdown
from fieldscope.app.options import (
    Subparsers,
    add_device_option,
    add_scene_options,
    add_train_options,
    scene_options,
)
from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.paths import write_atomic
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.render.cameras import orbit_camera
from fieldscope.fields.render.render3d import render_field
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.scenes.image import render_image
from fieldscope.fields.training.compare import parse_kinds
from fieldscope.fields.training.sweep import RunSpec, grid
from fieldscope.fields.training.sweep_folder import SweepFolder

PICTURE_SIDE = 256
#: Training seconds per field when neither --steps nor --time-budget is given.
DEFAULT_SECONDS = 60.0


def add_parser(sub: Subparsers) -> None:
    compare = command_parser(sub, "compare")
    compare.add_argument("path", help="the scene (image, mesh, volume, NeRF folder)")
    compare.add_argument("--task", help="what to fit (default: from the path)")
    compare.add_argument(
        "--fields", default=",".join(configs.kinds()), help="comma-separated kinds (default: every registered kind)"
    )
    compare.add_argument("--params", type=int, default=300_000, help="parameter budget per field (default 300000)")
    compare.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help=f"training seconds per field (default {DEFAULT_SECONDS:g}), the fields one after the other",
    )
    compare.add_argument("--steps", type=int, help="steps per field (every field gets the same number)")
    add_device_option(compare)
    compare.add_argument("--json", action="store_true", help='print the rows as one JSON object ({"runs": [...]})')
    compare.add_argument(
        "--report", metavar="DIR", help="write the sweep's results folder there (and pictures.png); again: resume"
    )
    engine = compare.add_argument_group("engine (default: the runs one after the other, here)")
    engine.add_argument(
        "--workers", type=int, help="run on a local Ray of N CPUs, a run (one thread, on the CPU) per CPU"
    )
    engine.add_argument("--address", help="run on the Ray cluster there (auto, HOST:PORT or ray://HOST:PORT)")
    add_scene_options(compare)
    add_train_options(compare)
    compare.set_defaults(run=run)


def on_ray(args: argparse.Namespace) -> bool:
    return args.workers is not None or args.address is not None


def specs_of(args: argparse.Namespace) -> list[RunSpec]:
    """The comparison's runs: one per kind on the scene, fitted to --params, with the same seed and stop."""
    stop = args.steps is not None or args.time_budget is not None
    return grid(
        parse_kinds(args.fields),
        [args.path],
        [args.params],
        [args.seed],
        task=args.task,
        steps=args.steps,
        time_budget=args.time_budget if stop else DEFAULT_SECONDS,
        lr=args.lr,
        batch_size=args.batch_size,
        scene_options=tuple(sorted(scene_options(args).items())),
        device="cpu" if on_ray(args) else args.device,  # on Ray: a CPU each (GPUs: sweep --gpus-per-run)
    )


def run(args: argparse.Namespace) -> int:
    specs = specs_of(args)
    folder = SweepFolder(args.report) if args.report else None
    scene = open_scene(args.path, args.task, **scene_options(args))  # a bad scene: one line now, not a row per kind
    options = ray_options(args.address, args.workers) if on_ray(args) else None
    if folder is not None:
        folder.begin(specs)
    rows = execute(specs, folder, options, threads=None)
    if folder is not None:
        write_extras(folder, scene, rows, caption(specs[0]))
    print(json.dumps({"runs": rows}) if args.json else markdown_table(rows, caption(specs[0])))
    failed = [row for row in rows if row.get("error")]
    if failed:
        raise FieldscopeError(
            f"{failed[0]['kind']}: {failed[0]['error']}"
            + (f" (and {len(failed) - 1} more failed runs)" if len(failed) > 1 else "")
        )
    return 0


def caption(spec: RunSpec) -> str:
    """What the comparison was: its budget and its stop, and how the runs were timed."""
    stops = [f"{spec.steps} steps"] if spec.steps is not None else []
    stops += [f"{spec.time_budget:g} s of training"] if spec.time_budget is not None else []
    first = " (whichever comes first)" if len(stops) > 1 else ""
    return (
        f"Budget {spec.params:,} parameters per field; each field {' or '.join(stops)}{first}, one run per field "
        "(a sweep of one scene); the final metric is the scene's full evaluation, as `fit`'s."
    )


def markdown_table(rows: Sequence[dict[str, Any]], text: str) -> str:
    """The rows as the sweep's Markdown table, under the comparison's caption."""
    return f"{text}\n\n{markdown(rows)}"


def write_extras(folder: SweepFolder, scene: Scene, rows: Sequence[dict[str, Any]], text: str) -> None:
    """compare's own files besides the sweep's: results.md under the comparison's caption and
    pictures.png (each trained field's picture, from its snapshot, side by side)."""
    write_atomic(folder.root / "results.md", (markdown_table(rows, text) + "\n").encode())
    done = [row for row in rows if row.get("snapshot")]
    if done:
        models = [snapshots.field_from(snapshots.load(folder.root / row["snapshot"])) for row in done]
        pictures = [pictures_of(scene, model) for model in models]
        save_png(folder.root / "pictures.png", side_by_side(pictures, [row["kind"] for row in done]))


def pictures_of(scene: Scene, model: FieldBase) -> np.ndarray:
    """What the field shows, as float RGB (H, W, 3) in [0,1]: the image (2D) or the rendered surface
    or volume from an orbit camera (3D)."""
    facts = scene.describe()
    if facts.get("task") == "image":
        width, height = facts["size"][:2]
        scale = PICTURE_SIDE / max(width, height)
        pixels = render_image(model, max(1, round(width * scale)), max(1, round(height * scale)))
    else:
        camera = orbit_camera(30.0, 20.0, 2.0, PICTURE_SIDE, PICTURE_SIDE, 40.0)
        pixels = render_field(model, facts, camera)
    channels = pixels.shape[-1]
    rgb = pixels[..., :3] if channels >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    return np.clip(rgb, 0.0, 1.0)


def side_by_side(pictures: Sequence[np.ndarray], labels: Sequence[str]) -> Image.Image:
    """The pictures in one row, each with its label above."""
    margin, label_height = 8, 18
    width = sum(p.shape[1] for p in pictures) + margin * (len(pictures) + 1)
    height = max(p.shape[0] for p in pictures) + label_height + 2 * margin
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = margin
    for picture, label in zip(pictures, labels, strict=True):
        draw.text((x, margin), label, fill=(0, 0, 0))
        canvas.paste(Image.fromarray(to_uint8(picture)), (x, margin + label_height))
        x += picture.shape[1] + margin
    return canvas
