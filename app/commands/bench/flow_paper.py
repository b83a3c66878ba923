"""`fieldscope bench flow --protocol paper`: HashEncoding's optical-flow experiment (sec. 4.3) as the
paper ran it, with its Table 2 beside our numbers (fields/analysis/flow_paper.py does the work).

Pairs: the bundled image plus every image in --images (files with the same bytes once; images
whose longer side exceeds --max-side, 640 like COCO's, are downsampled to it; smaller than 2 x
(shift radius + border) on a side are left out), taken in turn; each pair translates its image by a
random vector uniform in the disk of radius --max-shift. A field of the paper's grid is fitted to
each image once per k (every pair of an image shares A; only the translation differs).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fieldscope.app.options import DEFAULT_IMAGE
from fieldscope.fields.analysis.flow import fit_image
from fieldscope.fields.analysis.flow_paper import (
    ESTIMATES,
    PAPER_EPE,
    PAPER_PAIRS,
    PaperFlowOptions,
    PaperGrid,
    pair_errors,
    translated,
)
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes.image import IMAGE_SUFFIXES, ImageScene, load_image
from fieldscope.fields.training.run import FieldOptions, TrainOptions

KS = (1, 2)
#: Defaults of the options the crops protocol shares with different values.
DEFAULTS = {"fit_steps": 300, "batch_size": 1 << 14, "flow_steps": 300, "levels": 12}
NAMES = {"pixel": "Pixel-wise", "patch": "Patch-wise", "image": "Image-wise"}


def add_arguments(bench: argparse.ArgumentParser) -> None:
    """This protocol's own options (the shared ones are bench flow's)."""
    group = bench.add_argument_group("--protocol paper")
    group.add_argument("--count", type=int, default=PAPER_PAIRS, help=f"translated pairs ({PAPER_PAIRS})")
    group.add_argument("--border", type=int, default=50, help="no point within this many px of the border (50)")
    group.add_argument("--points", type=int, default=256, help="points (patch centres) per step (256)")
    group.add_argument("--flow-lr", type=float, default=2.0, help="Adam learning rate of the displacements, px (2)")
    group.add_argument("--max-side", type=int, default=640, help="downsample longer sides to this (640, COCO's)")


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """image (H, W, C) with its longer side brought down to max_side (antialiased), else unchanged."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(pixels, size=size, mode="bilinear", antialias=True)
    return out[0].permute(1, 2, 0).clamp(0.0, 1.0).numpy()


def gather_images(folder: Path | None, max_side: int, smallest: int) -> list[tuple[str, np.ndarray]]:
    """(name, pixels (H, W, C <= 3)) of the bundled image and every image in `folder`, each file's
    bytes once, downsampled to max_side; images under `smallest` px on a side are left out (said on stderr)."""
    paths = [DEFAULT_IMAGE]
    if folder is not None:
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder")
        paths += sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    seen, out = set(), []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        image = downscale(load_image(path)[..., :3], max_side)
        if min(image.shape[:2]) < smallest:
            print(f"{path.name}: {image.shape[1]}x{image.shape[0]} is under {smallest} px, left out", file=sys.stderr)
            continue
        out.append((path.name, image))
    return out


def random_shift(rng: np.random.Generator, radius: float) -> tuple[float, float]:
    """Uniform in the disk of the given radius (px)."""
    r, angle = radius * math.sqrt(float(rng.random())), 2 * math.pi * float(rng.random())
    return (r * math.cos(angle), r * math.sin(angle))


def settle(args: argparse.Namespace) -> None:
    """Fill the shared options this protocol defaults differently (None: not given)."""
    for name, value in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settle(args)
    started = time.perf_counter()
    options = PaperFlowOptions(steps=args.flow_steps, points=args.points, border=args.border, lr=args.flow_lr)
    grid = PaperGrid(levels=args.levels)
    smallest = 2 * (math.ceil(args.max_shift) + args.border)
    images = gather_images(Path(args.images) if args.images else None, args.max_side, smallest)
    if not images or args.count < 1:
        raise ConfigError(f"no pairs: {args.count} asked, {len(images)} image(s) of at least {smallest} px")
    rng = np.random.default_rng(args.seed)
    pairs = [(index % len(images), random_shift(rng, args.max_shift)) for index in range(args.count)]
    rows, fits = [], []
    for which, (name, image) in enumerate(images):
        mine = [(index, shift) for index, (used, shift) in enumerate(pairs) if used == which]
        for k in KS if mine else ():
            train = TrainOptions(batch_size=args.batch_size, seed=args.seed)
            field = fit_image(image, FieldOptions(settings=grid.settings(k)), args.fit_steps, train)
            fits.append({"image": name, "k": k, "psnr": ImageScene(image).evaluate(field)["psnr"]})
            for index, shift in mine:
                errors = pair_errors(field, translated(image, shift), shift, options, args.seed + index)
                rows += [{"pair": index, "image": name, "shift": list(shift), "k": k, "estimate": e, "epe": v}
                         for e, v in errors.items()]  # fmt: skip
                if not args.json:
                    epes = " ".join(f"{e} {v:6.2f}" for e, v in errors.items())
                    line = f"pair {index:3d} {name:18s} t=({shift[0]:6.1f},{shift[1]:6.1f}) k={k} {epes}"
                    print(line, file=sys.stderr, flush=True)
    report = summarise(rows, pairs, args, images)
    report["fits"] = fits
    report["seconds"] = time.perf_counter() - started
    if not args.json:
        print(table(report))
    return report


def summarise(rows: list[dict[str, Any]], pairs: list[Any], args: argparse.Namespace, images: list[Any]) -> dict:
    """The bench's JSON: mean EPE per (k, estimate), overall and per image, the paper's, the rows
    and what was scaled."""
    results = means(rows)
    by_image = [{"image": name, **row} for name, _ in images for row in means([r for r in rows if r["image"] == name])]
    paper = [{"k": k, "estimate": e, "epe": PAPER_EPE[k][e], "count": PAPER_PAIRS} for k in KS for e in ESTIMATES]
    zero = statistics.fmean(math.hypot(*shift) for _, shift in pairs)
    return {
        "results": results,
        "by_image": [row for row in by_image if row["count"]],
        "paper": {"source": "HashEncoding, Table 2 (COCO images)", "results": paper},
        "zero_flow_epe": zero,
        "images": [{"name": name, "width": im.shape[1], "height": im.shape[0]} for name, im in images],
        "scaling": scaling(args, len(images)),
        "config": {k: v for k, v in vars(args).items() if k != "run"},
        "pairs": rows,
    }


def means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean EPE of `rows` per (k, estimate), in KS x ESTIMATES order (epe NaN where count is 0)."""
    out = []
    for k in KS:
        for estimate in ESTIMATES:
            epes = [r["epe"] for r in rows if r["k"] == k and r["estimate"] == estimate]
            out.append({"k": k, "estimate": estimate, "epe": statistics.fmean(epes) if epes else math.nan,
                        "count": len(epes)})  # fmt: skip
    return out


def scaling(args: argparse.Namespace, images: int) -> str:
    """What differs from the paper's setting (empty when nothing the paper states does)."""
    notes = []
    if args.count != PAPER_PAIRS or images < args.count:
        notes.append(f"{args.count} pairs over {min(images, args.count)} images (paper: {PAPER_PAIRS} COCO images)")
    if args.levels != PaperGrid().levels:
        notes.append(f"L = {args.levels} (paper: {PaperGrid().levels})")
    stated = (("border", args.border, 50), ("points", args.points, 256), ("radius", args.max_shift, 50))
    for name, value, paper in stated:
        if value != paper:
            notes.append(f"{name} {value} (paper: {paper})")
    return "; ".join(notes)


def table(report: dict[str, Any]) -> str:
    """The results in the layout of the paper's Table 2, the paper's numbers beside ours."""
    ours = {(r["k"], r["estimate"]): r for r in report["results"]}
    config = report["config"]
    head = "k  " + "".join(f"{NAMES[e]:>22s}" for e in ESTIMATES)
    sub = "   " + "".join(f"{'ours':>11s}{'paper':>11s}" for _ in ESTIMATES)
    lines = [f"EPE (px) of the optical flow on image translations, {ours[(1, 'image')]['count']} pairs "
             f"(paper: {PAPER_PAIRS}); k = 1 is linear interpolation", head, sub]  # fmt: skip
    for k in KS:
        lines.append(f"{k}  " + "".join(f"{ours[(k, e)]['epe']:11.4f}{PAPER_EPE[k][e]:11.4f}" for e in ESTIMATES))
    names = ", ".join(f"{i['name']} {i['width']}x{i['height']}" for i in report["images"])
    psnr = {(f["image"], f["k"]): f["psnr"] for f in report.get("fits", [])}
    fitted = ", ".join(
        f"{i['name']} " + " / ".join(f"{psnr[(i['name'], k)]:.2f}" for k in KS)
        for i in report["images"]
        if (i["name"], 1) in psnr
    )
    lines.append("per image, k = 1 / 2:" + "".join(f"{NAMES[e]:>22s}" for e in ESTIMATES))
    for image in report["images"]:
        mine = {(r["k"], r["estimate"]): r["epe"] for r in report["by_image"] if r["image"] == image["name"]}
        if mine:
            cells = "".join(f"{mine[(1, e)]:11.4f}{mine[(2, e)]:11.4f}" for e in ESTIMATES)
            lines.append(f"  {image['name']:19s}{cells}")
    lines += [
        f"zero flow (mean |t|): {report['zero_flow_epe']:.4f} px; images: {names}",
        f"grid T = 2^12, L = {config['levels']}, N_min = 4, N_max = 346, F = 2; A fitted {config['fit_steps']} "
        f"steps of {config['batch_size']} pixels per image and k; flow: {config['flow_steps']} Adam steps, "
        f"lr {config['flow_lr']} px, {config['points']} points, border {config['border']} px",
        f"A's fitted field, PSNR dB for k = 1 / 2: {fitted}",
        f"scaled from the paper: {report['scaling'] or 'nothing'}; {report['seconds']:.0f} s",
    ]
    return "\n".join(lines)
