"""`fieldscope ntk --protocol paper`: the NTK paper's scaling experiment (fields/analysis/ntk_experiment.py)
on one photograph (2D, default the bundled image) or a mesh's occupancy (3D, default a torus made
here), with its table beside the paper's Table 3 and, with --report DIR, the spectra in the layout of
its Figure 4 (Fourier, multigrid, the best of each; middle of training dashed, end solid) next to its
Figure 2 (the multigrid spectra with and without the grid term), the table and results.json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from fieldscope.app.commands.plots import plot_lines, save_png
from fieldscope.app.options import DEFAULT_IMAGE
from fieldscope.fields import devices
from fieldscope.fields.analysis.ntk_experiment import (
    NAMES,
    PAPER_TABLE3,
    PaperProtocol,
    Task,
    image_task,
    occupancy_task,
    run_experiment,
)
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.paths import write_atomic
from fieldscope.fields.scenes.image import load_image
from fieldscope.fields.scenes.mesh import MeshOracle, load_mesh, normalise

#: The panels of the report's figure: (title, [(encoding, colour index)]) - the paper's Figure 4 left
#: to right, then its Figure 2.
FIGURE4 = (
    ("Fourier features", [("baseline", 0), ("fourier_low", 1), ("fourier_mid", 2), ("fourier_high", 3)]),
    ("multigrid", [("baseline", 0), ("grid_coarse", 4), ("grid_fine", 5)]),
    ("best of each", [("baseline", 0), ("fourier_high", 3), ("grid_coarse", 4), ("grid_fine", 5)]),
)
ROW_KEYS = ("name", "psnr", "ms_ssim", "eigenvalues", "eigenvalues_without_grid_term")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of --protocol paper (the shared --dims, --batch-size, --seed, --json too)."""
    group = parser.add_argument_group("--protocol paper")
    group.add_argument("--image", help="the photograph (2D; default: the bundled astronaut)")
    group.add_argument("--mesh", help="the mesh whose occupancy is learnt (3D; default: a torus)")
    group.add_argument("--scale", choices=("cpu", "paper"), default="cpu", help="the sizes (default cpu)")
    group.add_argument("--size", type=int, help="image side in pixels (2D) / NTK lattice points per axis (3D)")
    group.add_argument("--width", type=int, help="hidden units per layer")
    group.add_argument("--depth", type=int, help="hidden layers")
    group.add_argument("--epochs", type=int, help="training epochs (spectra at 0, half and all of them)")
    group.add_argument("--lr", type=float, help="SGD learning rate")
    group.add_argument("--spectrum-points", type=int, help="eigenvalues kept per spectrum (resampled)")
    group.add_argument("--encodings", default=",".join(NAMES), help="comma-separated subset of " + ", ".join(NAMES))
    group.add_argument("--device", default="auto", help="auto (CUDA when there, else the CPU), cpu, cuda, cuda:N")
    group.add_argument("--report", help="write spectra.png, table.md and results.json into this folder")


def protocol_of(args: argparse.Namespace) -> PaperProtocol:
    base = PaperProtocol.paper(args.dims) if args.scale == "paper" else PaperProtocol.cpu(args.dims)
    given = {
        "size": args.size,
        "width": args.width,
        "depth": args.depth,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "spectrum_count": args.spectrum_points,
        "batch_size": args.batch_size,
    }
    protocol = replace(base, seed=args.seed, **{k: v for k, v in given.items() if v is not None})
    protocol.check()
    return protocol


def square_image(path: str | Path, size: int) -> np.ndarray:
    """The photograph's centred square, box-filtered to size x size, RGB -> float32 (size, size, 3)."""
    pixels = load_image(path)[..., :3]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = np.clip(pixels[top : top + side, left : left + side], 0.0, 1.0)
    picture = Image.fromarray((crop * 255.0 + 0.5).astype(np.uint8)).resize((size, size), Image.Resampling.BOX)
    return np.asarray(picture, dtype=np.float32) / 255.0


def task_of(args: argparse.Namespace, protocol: PaperProtocol, device: torch.device) -> tuple[Task, str]:
    """The task and its source in words."""
    if protocol.dims == 2:
        path = args.image or str(DEFAULT_IMAGE)
        return image_task(square_image(path, protocol.size), protocol, device), f"{Path(path).name}"
    if args.mesh:
        vertices, faces = load_mesh(args.mesh)
        name = Path(args.mesh).name
    else:
        import trimesh  # ~1-5 s to import: only the 3D run without --mesh needs it, not --help

        mesh = trimesh.creation.torus(major_radius=1.0, minor_radius=0.35)
        vertices, faces, name = np.asarray(mesh.vertices), np.asarray(mesh.faces), "a torus (made here)"
    unit, _ = normalise(np.asarray(vertices, np.float64), np.asarray(faces), 0.05)
    oracle = MeshOracle(unit.astype(np.float32), np.asarray(faces), device=str(device))
    return occupancy_task(oracle.inside, protocol, device), name


def run(args: argparse.Namespace) -> int:
    protocol = protocol_of(args)
    names = tuple(n.strip() for n in args.encodings.split(",") if n.strip())
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise ConfigError(f"unknown encodings {unknown}: choose from {', '.join(NAMES)}")
    device = torch.device(devices.resolve(args.device))
    task, source = task_of(args, protocol, device)
    started = time.perf_counter()
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if not args.json else (lambda _: None)
    report = run_experiment(task, protocol, device, names, say)
    report["scaling"] = f"on {source}: " + report["scaling"]
    seconds = time.perf_counter() - started
    public = {"encodings": [public_row(row) for row in report["encodings"]], "scaling": report["scaling"]}
    if args.report:
        write_report(Path(args.report), report, public)
    if args.json:
        print(json.dumps(public))
    else:
        print(table(report))
        print(f"\n{seconds:.0f} s in all; {report['scaling']}")
    return 0


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row in the issue's JSON shape (3D rows keep their "iou" too)."""
    return {k: row[k] for k in ROW_KEYS + (("iou",) if "iou" in row else ())}


def number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(report: dict[str, Any]) -> str:
    """Markdown: each encoding's PSNR / MS-SSIM beside the paper's Table 3, its smallest eigenvalue at
    the end with and without the grid term, and its seconds."""
    rows = report["encodings"]
    three_d = any("iou" in row for row in rows)
    quality = ["IoU"] if three_d else ["PSNR (dB)", "paper", "MS-SSIM", "paper"]
    columns = ["encoding", *quality, "min eigenvalue, end", "without grid term", "max eigenvalue, end", "seconds"]
    lines = ["| " + " | ".join(columns) + " |", "| --- |" + " ---: |" * (len(columns) - 1)]
    for row in rows:
        paper = PAPER_TABLE3[row["name"]]
        if three_d:
            measured = f"| {number(row.get('iou'), 3)} |"
        else:
            measured = (
                f"| {number(row['psnr'], 2)} | {paper['psnr']:g} | {number(row['ms_ssim'], 3)} | {paper['ms_ssim']:g} |"
            )
        end, bare = row["eigenvalues"]["end"], row["eigenvalues_without_grid_term"]["end"]
        lines.append(
            f"| {row['name']} {measured} {end[-1]:.3e} | {bare[-1]:.3e} | {end[0]:.3e} | {row.get('seconds', 0):.0f} |"
        )
    return "\n".join(lines)


def plot_spectra(rows: list[dict[str, Any]]) -> Image.Image:
    """Four panels side by side: the paper's Figure 4 (Fourier, multigrid, the best of each; the
    middle of training dashed, the end solid) and its Figure 2 (the multigrid at the end, with the
    grid term solid, without it dashed)."""
    by_name = {row["name"]: row for row in rows}
    panels = []

    def line(values: list[float]) -> list[tuple[float, float]]:
        return [(i + 1.0, v) for i, v in enumerate(values)]

    for title, members in FIGURE4:
        series, labels, styles = [], [], []
        for name, colour in members:
            if name in by_name:
                for when, dashed in (("middle", True), ("end", False)):
                    series.append(line(by_name[name]["eigenvalues"][when]))
                    labels.append(f"{name} {when}")
                    styles.append((colour, dashed))
        panels.append(plot_lines(series, labels, title, "eigenvalue index", True, (560, 420), styles))
    series, labels, styles = [], [], []
    for name, colour in (("baseline", 0), ("grid_coarse", 4), ("grid_fine", 5)):
        if name in by_name:
            for key, dashed, tag in (("eigenvalues", False, ""), ("eigenvalues_without_grid_term", True, " no grid")):
                if name == "baseline" and dashed:
                    continue
                series.append(line(by_name[name][key]["end"]))
                labels.append(name + tag)
                styles.append((colour, dashed))
    panels.append(plot_lines(series, labels, "grid term (end)", "eigenvalue index", True, (560, 420), styles))
    canvas = Image.new("RGB", (sum(p.width for p in panels), max(p.height for p in panels)), (255, 255, 255))
    x = 0
    for panel in panels:
        canvas.paste(panel, (x, 0))
        x += panel.width
    return canvas


def write_report(folder: Path, report: dict[str, Any], public: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_png(folder / "spectra.png", plot_spectra(report["encodings"]))
    write_atomic(folder / "table.md", (table(report) + f"\n\nScaling: {report['scaling']}\n").encode())
    write_atomic(folder / "results.json", json.dumps(public, indent=1).encode())
