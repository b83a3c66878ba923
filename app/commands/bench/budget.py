"""`fieldscope bench budget`: PSNR against parameter count for the hash grid and the Gaussian-bucket
field (the compression comparison of Lagrangian Hashing's Table 1 and Fig. 6), run in one process.

Regime "ours" (default): both kinds at equal table sizes, equal steps, the bundled image. Regime
"paper": the paper's pairings on a large image (--image): Instant-NGP at T = 2^19 against Lagrangian
Hashing at T = 2^17 and 2^18, N_max = half the image width, K = 4, L~ = 2, at equal steps and (with
--seconds) equal training seconds, the sigma schedule over each run; parameters with and without
the Gaussian means; for each Gaussian run, where its points are (`point_report`). --pareto adds a
sweep of table sizes per kind and --plot draws PSNR against parameters into a PNG."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from fieldscope.app.options import DEFAULT_IMAGE, Subparsers, add_device_option, key_values
from fieldscope.app.state import collisions
from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError, InputError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.scenes import Scene, open_scene
from fieldscope.fields.training.sweep import RunSpec, train

FIELDS = ("hashgrid", "gaussian_buckets")
#: Lagrangian Hashing's Table 1 / Fig. 6 pairings: (kind, log2 T).
PAPER_PAIRS = (("hashgrid", 19), ("gaussian_buckets", 17), ("gaussian_buckets", 18))
COLOURS = {"hashgrid": (31, 119, 180), "gaussian_buckets": (214, 39, 40)}


def add_parser(which: Subparsers) -> None:
    budget = which.add_parser("budget", help="PSNR vs parameter count: hash grid vs Gaussian buckets")
    budget.add_argument("--json", action="store_true")
    budget.add_argument("--regime", choices=("ours", "paper"), default="ours", help="see the module doc")
    budget.add_argument("--image", action="append", help="image(s) to fit besides the bundled one")
    budget.add_argument("--only-images", action="store_true", help="fit only the --image ones")
    budget.add_argument("--log2-table-sizes", default="12,14,16", help="table sizes 2^K to compare (default 12,14,16)")
    budget.add_argument("--steps", type=int, default=500, help="training steps per fit (default 500)")
    budget.add_argument("--seconds", type=float, help="paper regime: also fit each pairing for this many seconds")
    budget.add_argument("--pareto", help="paper regime: also sweep these table sizes 2^K per kind, e.g. 15,17,19")
    budget.add_argument("--plot", help="write PSNR against parameters to this PNG")
    budget.add_argument("--batch-size", type=int, help="samples per step (default: the scene's suggestion)")
    budget.add_argument("--field", action="append", choices=FIELDS, help="default: both")
    add_device_option(budget)
    budget.add_argument("--max-resolution", type=int, help="finest resolution (default: the image size; paper: W/2)")
    budget.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="extra setting for the Gaussian-bucket field"
    )


def fit_once(
    scene: Scene, kind: str, log2_table_size: int, args: argparse.Namespace, steps: int | None, seconds: float | None
) -> dict[str, Any]:
    """Fit one field for `steps` steps or `seconds` of training (the run plan the sigma schedule
    follows), as a sweep's run (fields/training/sweep.py: `fit`'s build, training and final
    evaluation); its final PSNR and parameter counts (Gaussian means included, and not)."""
    lagrangian = configs.config_class(kind).capabilities.lagrangian_points
    extra = key_values(args.option, "--option") if lagrangian else {}
    settings = tuple(sorted({**extra, "log2_table_size": log2_table_size}.items()))
    resolution = max_resolution(scene, args)
    spec = RunSpec(
        kind=kind,
        scene=scene.name,
        steps=steps,
        time_budget=seconds,
        settings=settings,
        max_resolution=resolution,
        batch_size=args.batch_size,
        device=args.device,
    )
    trained = train(spec, scene)
    trainer = trained.run.trainer
    field = trainer.field
    means = field.encoding.lagrangian.means.numel() if field.config.capabilities.lagrangian_points else 0
    row = {
        "image": scene.name,
        "field": kind,
        "log2_table_size": log2_table_size,
        "max_resolution": resolution,
        "params": field.param_count(),
        "params_without_means": field.param_count() - means,
        "psnr": trained.metrics["psnr"],
        "steps": trainer.step_count,
        "seconds": trainer.elapsed,
        "budget": "seconds" if seconds is not None else "steps",
        "planned": seconds if seconds is not None else steps,
    }
    if kind == "gaussian_buckets":
        row["sigma_cells_at_end"] = float(field.encoding.lagrangian.sigma_scale)
        if args.regime == "paper":
            row["points"] = point_report(field, scene)
    return row


def max_resolution(scene: Scene, args: argparse.Namespace) -> int | None:
    """The finest grid resolution: the user's, else W/2 in the paper regime (N_max = half the
    image width), else None (the scene's extent)."""
    if args.max_resolution is not None or args.regime != "paper":
        return args.max_resolution
    return max(2, int(scene.describe()["size"][0]) // 2)


def point_report(field: FieldBase, scene: Scene) -> list[dict[str, Any]]:
    """Per Lagrangian level: its hash collisions (app/state/collisions.py), how many of its points serve
    a vertex of their bucket, how far (median over random places, in sigmas, from eq. 8's cost) the
    nearest point a place reads is (over ~3, the level adds almost nothing there), and whether the
    points sit where the image's detail is: the mean gradient norm W at the points over its mean
    over the image (1: no better than uniform)."""

    info = field.inspect()
    probe = torch.rand(1 << 14, field.config.dims, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cost = field.encoding.lagrangian.guidance(probe.to(field.encoding.lagrangian.means.device)).cpu()
    reach = torch.sqrt(2.0 * cost.clamp(min=0.0)).median(dim=0).values.tolist()  # eq. 8's min, in sigmas
    in_memory = getattr(scene, "pixels", None) is not None
    detail = scene.detail().reshape(scene.height, scene.width) if in_memory else None
    out = []
    for entry, nearest in zip(info["points"], reach, strict=True):
        key = collisions.level_key(field.config, entry["level"])
        counts = collisions.count(key) if key.interactive else None
        stats = collisions.stats(key, counts)
        means = np.asarray(entry["means"], dtype=np.float64)
        row: dict[str, Any] = {
            "level": entry["level"],
            "resolution": key.resolution,
            "vertices_per_bucket": key.vertices / key.rows,
            "colliding_entries": stats.colliding_share,
            "vertices_sharing": stats.vertices_colliding_share,
            "sigma": entry["sigma"],
            "nearest_point_sigmas": nearest,
        }
        if counts is not None:
            sharing = collisions.bucket_sharing(key, means, field.config.points_per_bucket, counts)
            row["points_serving_a_vertex"] = sharing.serving_share
        if detail is not None:
            row["detail_at_points"] = detail_ratio(detail, means)
        out.append(row)
    return out


def detail_ratio(detail: Any, means: np.ndarray) -> float:
    """Mean of the detail map (H, W) at the pixels of points (P, 2) in [0,1]^2, over its mean."""
    height, width = detail.shape
    cols = np.clip((means[:, 0] * width).astype(np.int64), 0, width - 1)
    rows = np.clip((means[:, 1] * height).astype(np.int64), 0, height - 1)
    values = detail.cpu().numpy() if hasattr(detail, "cpu") else np.asarray(detail)
    overall = float(values.mean())
    return float(values[rows, cols].mean() / overall) if overall > 0 else math.nan


def plan(args: argparse.Namespace) -> list[tuple[str, int, int | None, float | None]]:
    """The fits to run: (kind, log2 T, steps, seconds)."""
    kinds = args.field or FIELDS
    if args.regime == "ours":
        return [(kind, int(k), args.steps, None) for kind in kinds for k in args.log2_table_sizes.split(",")]
    pairs = [(kind, k) for kind, k in PAPER_PAIRS if kind in kinds]
    fits: list[tuple[str, int, int | None, float | None]] = [(kind, k, args.steps, None) for kind, k in pairs]
    if args.seconds:
        fits += [(kind, k, None, args.seconds) for kind, k in pairs]
    if args.pareto:
        sweep = [(kind, int(k)) for kind in kinds for k in args.pareto.split(",")]
        fits += [(kind, k, args.steps, None) for kind, k in sweep if (kind, k) not in pairs]
    return fits


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.regime == "paper" and not args.image:
        raise ConfigError("--regime paper needs --image: a large image (the paper's are gigapixel; e.g. 4096x4096)")
    results = []
    bundled = [] if args.only_images or args.regime == "paper" else [str(DEFAULT_IMAGE)]
    for path in [*bundled, *(args.image or [])]:
        scene = open_scene(path, device=args.device)
        for kind, k, steps, seconds in plan(args):
            row = fit_once(scene, kind, k, args, steps, seconds)
            results.append(row)
            if not args.json:
                print_row(Path(path).name, row)
    if args.plot:
        plot_pareto(results, Path(args.plot))
    return {"results": results}


def print_row(name: str, row: dict[str, Any]) -> None:
    budget = f"{row['planned']} steps" if row["budget"] == "steps" else f"{row['planned']:g} s budget"
    print(
        f"{name:24s} {row['field']:16s} T=2^{row['log2_table_size']:<2d} {row['params']:>10,} params "
        f"({row['params_without_means']:,} without means)  {row['psnr']:6.2f} dB  "
        f"({budget}: {row['steps']} steps in {row['seconds']:.0f} s)",
        flush=True,
    )
    for level in row.get("points", []):
        print(
            "      " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in level.items()),
            flush=True,
        )


def plot_pareto(results: list[dict[str, Any]], path: Path, size: tuple[int, int] = (720, 480)) -> None:
    """PSNR (dB) against parameters (log scale), one polyline per (image, kind) of the step-budget
    fits, drawn with Pillow and written atomically."""
    rows = [r for r in results if r["budget"] == "steps" and math.isfinite(r["psnr"])]
    if not rows:
        raise InputError(f"{path}: nothing to plot (no finished fit)")
    width, height = size
    left, right, top, bottom = 70, 20, 30, 50
    xs = [math.log10(r["params"]) for r in rows]
    ys = [r["psnr"] for r in rows]
    x0, x1 = math.floor(min(xs) * 2) / 2, math.ceil(max(xs) * 2) / 2 + (0.5 if min(xs) == max(xs) else 0)
    y0, y1 = math.floor(min(ys)) - 1, math.ceil(max(ys)) + 1

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x0) / (x1 - x0) * (width - left - right),
            height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom),
        )

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for tick in np.arange(x0, x1 + 1e-9, 0.5):
        px, _ = at(tick, y0)
        draw.line([px, height - bottom, px, height - bottom + 5], fill="black")
        draw.text((px - 18, height - bottom + 8), f"{10**tick:.2g}", fill="black")
    for tick in range(int(y0), int(y1) + 1, max(1, (int(y1) - int(y0)) // 8)):
        _, py = at(x0, tick)
        draw.line([left - 5, py, left, py], fill="black")
        draw.text((left - 30, py - 6), f"{tick}", fill="black")
    draw.text((width // 2 - 40, height - 20), "parameters", fill="black")
    draw.text((5, 8), "PSNR (dB)", fill="black")
    for n, (image_name, kind) in enumerate(sorted({(r["image"], r["field"]) for r in rows})):
        series = sorted((r for r in rows if (r["image"], r["field"]) == (image_name, kind)), key=lambda r: r["params"])
        points = [at(math.log10(r["params"]), r["psnr"]) for r in series]
        colour = COLOURS[kind]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
        draw.text((left + 10, top + 8 + 14 * n), f"{kind} ({image_name})", fill=colour)
    temporary = path.with_name(path.name + ".part")
    image.save(temporary, format="PNG")
    temporary.replace(path)
