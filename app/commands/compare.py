"""`fieldscope compare`: several field kinds on one scene at an equal parameter budget, headless
(fields/training/compare.py runs it); with --report DIR a PNG plot of the curves, the final pictures side
by side and a Markdown table. Drawn with Pillow: one line plot does not need matplotlib."""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from fieldscope.app.commands import command_parser
from fieldscope.app.options import (
    Subparsers,
    add_device_option,
    add_scene_options,
    add_train_options,
    scene_options,
    train_options,
)
from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.render.cameras import orbit_camera
from fieldscope.fields.render.render3d import render_field
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.scenes.image import render_image
from fieldscope.fields.snapshot import atomic_output, write_atomic
from fieldscope.fields.training.compare import FieldRun, compare, parse_kinds

#: Line colours of the curves, one per field (at most five kinds are registered today).
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)]
PICTURE_SIDE = 256


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
        help="training seconds per field on average (default 60); every field gets the same steps",
    )
    compare.add_argument("--steps", type=int, help="steps per field (every field gets the same number)")
    add_device_option(compare)
    compare.add_argument("--json", action="store_true", help="print the report as one JSON object")
    compare.add_argument("--report", metavar="DIR", help="write curves.png, pictures.png and results.md there")
    add_scene_options(compare)
    add_train_options(compare)
    compare.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    kinds = parse_kinds(args.fields)
    report_dir = Path(args.report) if args.report else None
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise ConfigError(f"--report {report_dir}: not a folder")
    scene = open_scene(args.path, args.task, device=args.device, **scene_options(args))
    time_budget = args.time_budget if args.time_budget is not None or args.steps is not None else 60.0

    def progress(runs: Sequence[FieldRun]) -> None:
        if not args.json:
            parts = [f"{run.kind} {run.curve[-1][1]:.2f}" for run in runs]
            print(f"step {runs[0].trainer.step_count:6d}: " + ", ".join(parts), flush=True)

    train = train_options(args)
    report, runs = compare(scene, kinds, args.params, time_budget, args.steps, train, args.device, progress)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        write_report(report_dir, report, [pictures_of(scene, run.trainer.field) for run in runs])
    if args.json:
        print(json.dumps(report))
    else:
        print(markdown_table(report))
    return 0


def metric_of(row: dict[str, Any]) -> tuple[str, float]:
    for name in ("psnr", "iou", "loss"):
        if name in row:
            return name, float(row[name])
    return "metric", math.nan


def markdown_table(report: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    name = metric_of(report["results"][0])[0] if report["results"] else "metric"
    lines = [
        f"Scene {report['scene']}, budget {report['params_target']:,} parameters, {report['schedule']}.",
        "",
        f"| field | parameters | steps | seconds | {name} | measured on |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['field']} | {row['params']:,} | {row['steps']} | {row['seconds']:.1f} | "
            f"{metric_of(row)[1]:.4g} | {row['measured_on']} |"
        )
    return "\n".join(lines)


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


def write_report(folder: Path, report: dict[str, Any], pictures: Sequence[np.ndarray]) -> None:
    """curves.png, pictures.png, results.md and results.json in `folder` (each written atomically)."""
    labels = [row["field"] for row in report["results"]]
    save_png(folder / "curves.png", plot_curves([row["curve"] for row in report["results"]], labels, report))
    save_png(folder / "pictures.png", side_by_side(pictures, labels))
    write_atomic(folder / "results.md", (markdown_table(report) + "\n").encode())
    write_atomic(folder / "results.json", json.dumps(report, indent=1).encode())


def save_png(path: Path, image: Image.Image) -> None:
    with atomic_output(path) as handle:
        image.save(handle, format="PNG")


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


def plot_curves(
    curves: Sequence[Sequence[Sequence[float]]], labels: Sequence[str], report: dict[str, Any]
) -> Image.Image:
    """The metric against each field's training seconds, one line per field."""
    name = metric_of(report["results"][0])[0] if report["results"] else "metric"
    title = f"{name} vs seconds, {report['params_target']:,} parameters"
    return plot_lines(curves, labels, title, "training seconds (each field's own)")


def plot_lines(
    series: Sequence[Sequence[Sequence[float]]],
    labels: Sequence[str],
    title: str,
    x_label: str,
    log: bool = False,
    size: tuple[int, int] = (720, 440),
    styles: Sequence[tuple[int, bool]] | None = None,
    log_x: bool = False,
    markers: bool = False,
) -> Image.Image:
    """A line plot, one line per series of (x, y) points, with axes, ticks and a key; `log`: both
    axes logarithmic, `log_x`: the x axis only (ticks show the values); `styles`: per series (colour
    index, dashed), by default the i-th colour, solid; `markers`: a dot at each point."""
    left, right, top, bottom = 64, 150, 30, 44
    width, height = size
    canvas = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(canvas)

    log_x = log or log_x

    def scaled(x: float, y: float) -> tuple[float, float]:
        return (math.log10(x) if log_x else x, math.log10(y) if log else y)

    def shown(x: float, y: float) -> bool:
        return math.isfinite(y) and (not log_x or x > 0) and (not log or y > 0)

    lines = [[scaled(x, y) for x, y in line if shown(x, y)] for line in series]
    points = [p for line in lines for p in line]
    if not points:
        return canvas
    x_lo = min(x for x, _ in points) if log_x else 0.0
    x_hi = max(x for x, _ in points)
    y_lo, y_hi = min(y for _, y in points), max(y for _, y in points)
    x_hi = x_hi if x_hi > x_lo else x_lo + 1.0
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 1.0, y_hi + 1.0
    if markers:  # a margin of 5%: no dot on the frame
        x_pad, y_pad = (x_hi - x_lo) / 20, (y_hi - y_lo) / 20
        x_lo, x_hi, y_lo, y_hi = x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad

    def xy(x: float, y: float) -> tuple[float, float]:
        return (
            left + (width - left - right) * (x - x_lo) / (x_hi - x_lo),
            height - bottom - (height - top - bottom) * (y - y_lo) / (y_hi - y_lo),
        )

    def tick(v: float, logged: bool) -> str:
        return f"1e{v:.0f}" if logged and abs(v - round(v)) < 1e-6 else f"{10**v:.3g}" if logged else f"{v:.4g}"

    draw.rectangle([left, top, width - right, height - bottom], outline=(0, 0, 0))
    for i in range(5):
        tx, ty = x_lo + (x_hi - x_lo) * i / 4, y_lo + (y_hi - y_lo) * i / 4
        x, _ = xy(tx, y_lo)
        _, y = xy(x_lo, ty)
        draw.line([(x, height - bottom), (x, height - bottom + 4)], fill=(0, 0, 0))
        draw.text((x - 10, height - bottom + 6), tick(tx, log_x), fill=(0, 0, 0))
        draw.line([(left - 4, y), (left, y)], fill=(0, 0, 0))
        draw.text((left - 58, y - 6), tick(ty, log), fill=(0, 0, 0))
    draw.text((left + (width - left - right) / 2 - 60, height - 18), x_label, fill=(0, 0, 0))
    draw.text((left, 8), title, fill=(0, 0, 0))
    styles = styles or [(i, False) for i in range(len(lines))]
    for i, (line, label, (hue, dashed)) in enumerate(zip(lines, labels, styles, strict=True)):
        colour = COLOURS[hue % len(COLOURS)]
        if len(line) > 1:
            draw_line(draw, [xy(x, y) for x, y in line], colour, dashed)
        for px, py in [xy(x, y) for x, y in line] if markers else []:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        y = top + 10 + 18 * i
        draw_line(draw, [(width - right + 10, y + 6), (width - right + 30, y + 6)], colour, dashed)
        draw.text((width - right + 36, y), label, fill=(0, 0, 0))
    return canvas


def draw_line(draw: ImageDraw.ImageDraw, points: Sequence[tuple[float, float]], colour: tuple, dashed: bool) -> None:
    """A polyline 2 px wide; dashed: 6 px on, 4 px off along its length."""
    if not dashed:
        draw.line(list(points), fill=colour, width=2)
        return
    travelled = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        steps = max(1, math.ceil(length))
        for k in range(steps):
            if (travelled + k) % 10 < 6:
                a, b = k / steps, min(1.0, (k + 1) / steps)
                draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                          fill=colour, width=2)  # fmt: skip
        travelled += steps
