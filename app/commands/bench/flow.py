"""`fieldscope bench flow`: optical flow by backpropagation into coordinates (HashEncoding sec. 4.3),
linear (k = 1) against Lagrange (k = 2) interpolation, in the same process. Two protocols:

- `--protocol crops` (the default, this module): random crops of real images (160 px), B(x) = A(x + t)
  (bicubic resampling of the source image, so B holds real pixels outside A), t uniform in the disk of
  radius --max-shift px; a field (T = 2^15, L = 10, N_min = 8) is fitted to A once per interpolation
  and the translation estimated image-wise twice: with the coarse search (what `fieldscope flow`
  does) and from zero by gradient descent alone. The end-point error is |t_estimated - t| in pixels.
  With --dense, also a dense flow on a known smooth warp of one crop. Its sizes are not the paper's.
- `--protocol paper` (bench/flow_paper.py): the paper's setting and its three estimates, beside its
  Table 2 (4.26 px with k = 1, 2.94 px with k = 2, image-wise).
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from fieldscope.app.commands.bench import flow_paper
from fieldscope.app.options import Subparsers
from fieldscope.fields.analysis import flow
from fieldscope.fields.analysis.flow import fit_image, shift_image
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.scenes.image import load_image
from fieldscope.fields.training.run import FieldOptions, TrainOptions

DATA = Path("/work/shared/data/images")
DENSE_CANDIDATES = 16
#: A crop: (image name, source image (H, W, 3), top row, left column).
Crop = tuple[str, np.ndarray, int, int]


PROTOCOLS = ("crops", "paper")
#: Defaults of the options --protocol paper defaults differently (None on the command line: not given).
DEFAULTS = {"fit_steps": 200, "batch_size": 8192, "flow_steps": 200, "levels": 10}


def add_parser(which: Subparsers) -> None:
    bench = which.add_parser("flow", help="optical flow EPE on shifted images: linear vs Lagrange interpolation")
    bench.add_argument("--protocol", choices=PROTOCOLS, default="crops",
                       help="crops (default): 160 px crops, image-wise; paper: HashEncoding's Table 2")  # fmt: skip
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--images", default=str(DATA) if DATA.is_dir() else None,
                       help=f"folder of photos (default {DATA}; paper: used beside the bundled image)")  # fmt: skip
    bench.add_argument("--crops", type=int, default=20, help="crops: number of random crops (20; 0: only --dense)")
    bench.add_argument("--size", type=int, default=160, help="crops: crop side in pixels (160)")
    bench.add_argument("--max-shift", type=float, default=50.0, help="largest translation in pixels (50)")
    bench.add_argument("--fit-steps", type=int, help="steps fitting each image (crops 200, paper 300)")
    bench.add_argument("--batch-size", type=int, help="pixels per fitting step (crops 8192, paper 16384)")
    bench.add_argument("--levels", type=int, help="grid levels L (crops 10, paper 12)")
    bench.add_argument("--flow-steps", type=int, help="optimisation steps of each estimate (crops 200, paper 300)")
    bench.add_argument("--dense", action="store_true", help="crops: also a dense flow on a smooth warp of one crop")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--smoothness", type=float, default=1.0, help="dense: smoothness weight (1.0)")
    bench.add_argument("--dense-lr", type=float, default=0.05, help="dense: residual field learning rate, px (0.05)")
    flow_paper.add_arguments(bench)


def crops(folder: Path, count: int, size: int, margin: int, rng: np.random.Generator) -> list[Crop]:
    """(name, source image, row, col) of `count` random crops with `margin` px of source around them."""
    images = [(p.name, load_image(p)[..., :3]) for p in sorted(folder.iterdir()) if p.suffix in (".png", ".webp")]
    usable = [(n, im) for n, im in images if min(im.shape[:2]) >= size + 2 * margin + 2]
    out = []
    for _ in range(count):
        name, image = usable[int(rng.integers(len(usable)))]
        row = int(rng.integers(margin + 1, image.shape[0] - size - margin - 1))
        col = int(rng.integers(margin + 1, image.shape[1] - size - margin - 1))
        out.append((name, image, row, col))
    return out


def moved_crop(image: np.ndarray, row: int, col: int, size: int, flow: np.ndarray, margin: int) -> np.ndarray:
    """B (size, size, C): the source image at the crop's pixels + flow (size, size, 2) px, bicubic
    (through a window of `margin` px around the crop, which the flow must not leave)."""
    window = image[row - margin : row + size + margin, col - margin : col + size + margin]
    full = np.zeros((*window.shape[:2], 2), np.float32)
    full[margin : margin + size, margin : margin + size] = flow
    return shift_image(window, full)[margin : margin + size, margin : margin + size]


def random_shift(rng: np.random.Generator, radius: float) -> tuple[float, float]:
    """Uniform in the disk of the given radius."""
    r, angle = radius * math.sqrt(float(rng.random())), 2 * math.pi * float(rng.random())
    return (r * math.cos(angle), r * math.sin(angle))


def fit(a: np.ndarray, args: argparse.Namespace, interpolation: str) -> FieldBase:
    settings = {"interpolation": interpolation, "levels": args.levels, "log2_table_size": 15, "base_resolution": 8}
    options = FieldOptions(settings=settings)
    return fit_image(a, options, args.fit_steps, TrainOptions(batch_size=args.batch_size, seed=args.seed))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen protocol's report (see the module's docstring)."""
    if args.protocol == "paper":
        return flow_paper.run(args)
    for name, value in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.images is None:
        raise ConfigError(f"--protocol crops needs --images (no {DATA} here)")
    rng = np.random.default_rng(args.seed)
    margin = int(np.ceil(args.max_shift)) + 2
    interpolations = ("linear", "lagrange")
    protocols = {
        "search": flow.FlowOptions(steps=args.flow_steps, search_radius=args.max_shift + 6.0, search_points=512),
        "from_zero": flow.FlowOptions(steps=args.flow_steps, search_radius=0.0, lr=2.0),
    }
    rows = []
    for index, (name, image, row, col) in enumerate(crops(Path(args.images), args.crops, args.size, margin, rng)):
        shift = random_shift(rng, args.max_shift)
        truth = np.broadcast_to(np.array(shift, np.float32), (args.size, args.size, 2))
        a = image[row : row + args.size, col : col + args.size]
        b = moved_crop(image, row, col, args.size, truth, margin)
        for interpolation in interpolations:
            field = fit(a, args, interpolation)
            for protocol, options in protocols.items():
                result = flow.estimate_flow(field, b, options)
                epe = float(np.hypot(*(np.array(result.summary()["flow_mean"]) - np.array(shift))))
                rows.append({"crop": index, "image": name, "shift": list(shift), "interpolation": interpolation,
                             "protocol": protocol, "epe": epe, "seconds": result.seconds})  # fmt: skip
                if not args.json:
                    print(f"crop {index:2d} {name:16s} t=({shift[0]:6.1f},{shift[1]:6.1f}) {interpolation:8s} "
                          f"{protocol:9s} EPE {epe:7.3f} px", flush=True)  # fmt: skip
    summary = {}
    for interp in interpolations:
        for protocol in protocols:
            epes = [r["epe"] for r in rows if r["interpolation"] == interp and r["protocol"] == protocol]
            if not epes:
                continue
            summary[f"{interp}/{protocol}"] = {
                "mean_epe": statistics.fmean(epes),
                "median_epe": statistics.median(epes),
            }
    report: dict[str, Any] = {"config": {k: v for k, v in vars(args).items() if k != "run"}, "translation": summary}
    report["rows"] = rows
    if args.dense:
        report["dense"] = dense_warp(args, rng)
    if not args.json:
        for key, value in summary.items():
            print(f"{key:20s} mean EPE {value['mean_epe']:.3f} px, median {value['median_epe']:.3f} px")
        if args.dense:
            print(f"dense: {report['dense']}")
    return report


def structure(pixels: np.ndarray) -> float:
    """The smaller eigenvalue of the structure tensor of pixels (H, W, C) summed over the crop: how
    well a flow can be seen there in both directions (0 along a lone edge: the aperture problem)."""
    gy, gx = np.gradient(pixels.mean(axis=-1))
    xx, yy, xy = float((gx * gx).mean()), float((gy * gy).mean()), float((gx * gy).mean())
    return 0.5 * (xx + yy - ((xx - yy) ** 2 + 4 * xy * xy) ** 0.5)


def textured_crop(candidates: list[Crop], size: int) -> Crop:
    """The candidate crop with the most structure in both directions (see `structure`)."""
    return max(candidates, key=lambda c: structure(c[1][c[2] : c[2] + size, c[3] : c[3] + size]))


def dense_warp(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, float]:
    """EPE of the dense flow on B(x) = A(x + d(x)) with a smooth d of a few pixels, against the zero
    flow and the best single translation (the mean of d), over the crop's inner part. The crop is
    the most textured of DENSE_CANDIDATES random ones: on a crop with one edge direction (a crop of
    a smooth 4096 px photo) no flow is seen along the edge, and the warp is unrecoverable by any
    method (the translation alone came out at 4.5 px EPE there, the zero flow at 2.9)."""
    name, image, row, col = textured_crop(crops(Path(args.images), DENSE_CANDIDATES, args.size, 8, rng), args.size)
    s = args.size
    yy, xx = np.meshgrid(np.arange(s) + 0.5, np.arange(s) + 0.5, indexing="ij")
    truth = np.stack([2.0 + 2.5 * np.sin(2 * np.pi * yy / s), -1.0 + 2.0 * np.cos(2 * np.pi * xx / s)], -1)
    truth = truth.astype(np.float32)
    a = image[row : row + s, col : col + s]
    b = moved_crop(image, row, col, s, truth, 8)
    field = fit(a, args, "lagrange")
    options = flow.FlowOptions(
        mode="dense",
        steps=args.flow_steps,
        dense_steps=3 * args.flow_steps,
        search_radius=8.0,
        smoothness=args.smoothness,
        dense_lr=args.dense_lr,
    )
    result = flow.estimate_flow(field, b, options)
    inner = np.zeros((s, s), bool)
    inner[8:-8, 8:-8] = True
    mean = np.broadcast_to(truth[inner].mean(0), truth.shape)
    return {
        "image": name,
        "epe_dense": flow.end_point_error(result.flow, truth, inner),
        "epe_zero_flow": flow.end_point_error(np.zeros_like(truth), truth, inner),
        "epe_best_translation": flow.end_point_error(mean, truth, inner),
        "warped_psnr": result.warped_psnr,
        "seconds": result.seconds,
    }
