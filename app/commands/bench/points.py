"""`fieldscope bench points PATH`: what the Lagrangian points of a Gaussian-bucket field do while it
trains on an image. Per Lagrangian level: how far the points moved (median and p90, in cells of that
level, and the share that moved one cell or more), the share a guidance gradient ever reached, the
share within one cell of a vertex that hashes to their bucket (where the bucket is read), the share
on the image's detail (the top 10% of pixels by gradient norm: uniform points give 0.10), and the
feature scale over the run (RMS of the points' features and of the level's output at probe places).
With --against-hashgrid a hash grid of the same settings trains in the same process, a step of each
in turn, for the PSNR and the speed ratio at equal steps."""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from fieldscope.app.options import add_device_option, add_field_options, add_train_options, field_options, train_options
from fieldscope.fields import reference
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import build_run

#: Share of the image's pixels, by gradient norm, that counts as its detail.
DETAIL_SHARE = 0.10


def add_parser(which: Any) -> None:
    parser = which.add_parser("points", help="where the Gaussian-bucket field's Lagrangian points go while it trains")
    parser.add_argument("path", help="image to fit")
    parser.add_argument("--json", action="store_true")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="training steps (default 100; reproducible)")
    budget.add_argument("--seconds", type=float, help="seconds of training instead of a step count")
    parser.add_argument("--checkpoints", type=int, default=5, help="feature-scale samples over the run (default 5)")
    parser.add_argument(
        "--against-hashgrid", action="store_true", help="also train a hash grid of the same settings, interleaved"
    )
    add_field_options(parser)
    add_train_options(parser)
    add_device_option(parser)
    parser.set_defaults(field="gaussian_buckets")


def detail_mask(scene: Any, share: float = DETAIL_SHARE) -> torch.Tensor:
    """(H, W) bool: the image's top `share` of pixels by gradient norm (ties broken by pixel order)."""
    detail = scene.detail().detach().cpu().reshape(-1)
    mask = torch.zeros(detail.shape[0], dtype=torch.bool)
    mask[torch.argsort(detail, descending=True, stable=True)[: max(1, round(share * detail.shape[0]))]] = True
    return mask.reshape(scene.height, scene.width)


def on_mask(mask: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """(P,) bool: whether points (P, 2) in [0,1]^2 lie on a True pixel of mask (H, W)."""
    height, width = mask.shape
    cols = (means[:, 0].clamp(0.0, 1.0) * width).long().clamp(0, width - 1)
    rows = (means[:, 1].clamp(0.0, 1.0) * height).long().clamp(0, height - 1)
    return mask[rows, cols]


def serving(means: torch.Tensor, layout: Any, level: int, points: int, first_row: int) -> torch.Tensor:
    """(P,) bool: whether each point (rows first_row.. of means, bucket = row // K) lies within one
    cell (per axis) of a vertex that hashes to its bucket: a corner of the cell it is in."""

    n = layout.resolution[level]
    cell = torch.clamp(torch.floor(means.clamp(0.0, 1.0) * n), max=n - 1).long()
    corners = cell[:, None, :] + reference.corner_bits(means.shape[1])[None]
    close = (means[:, None, :] - corners / n).abs().amax(dim=-1) < 1.0 / n
    bucket = (torch.arange(means.shape[0]) + first_row) // points
    return ((reference.vertex_rows(corners, layout, level) == bucket[:, None]) & close).any(dim=1)


def feature_scale(field: Any, probe: torch.Tensor) -> list[dict[str, float]]:
    """Per Lagrangian level: RMS of its points' features and of its output features at probe (M, D)."""
    lag = field.encoding.lagrangian
    with torch.no_grad():
        out = lag(probe.to(lag.means.device)).cpu()
    f = lag.values.shape[1]
    rows = []
    for i, (o, r) in enumerate(zip(lag.layout.offset, lag.layout.rows, strict=True)):
        values = lag.values.detach()[o * lag.points : (o + r) * lag.points]
        rows.append(
            {
                "values_rms": float(values.pow(2).mean().sqrt()),
                "output_rms": float(out[:, i * f : (i + 1) * f].pow(2).mean().sqrt()),
            }
        )
    return rows


def level_report(field: Any, mask: torch.Tensor | None) -> list[dict[str, Any]]:
    """Per Lagrangian level: displacement median, p90 (cells), moved >= 1 cell, pulled, serving, on detail."""
    lag = field.encoding.lagrangian
    means, start = lag.means.detach().cpu(), lag.start.detach().cpu()
    pulls = None if lag.pulls is None else lag.pulls.cpu()
    report = []
    for i, (o, r, n) in enumerate(zip(lag.layout.offset, lag.layout.rows, lag.layout.resolution, strict=True)):
        part = slice(o * lag.points, (o + r) * lag.points)
        moved = (means[part] - start[part]).norm(dim=1).double() * n
        row: dict[str, Any] = {
            "level": field.encoding.coarse_count + i,
            "resolution": n,
            "hashed": bool(lag.layout.hashed[i]),
            "points": int(moved.shape[0]),
            "moved_median_cells": float(moved.median()),
            "moved_p90_cells": float(torch.quantile(moved[:: max(1, moved.shape[0] // 1_000_000)], 0.9)),
            "moved_one_cell": float((moved >= 1.0).double().mean()),
            "never_moved": float((moved == 0).double().mean()),
            "pulled": None if pulls is None else float(pulls[part].double().mean()),
            "serving": float(serving(means[part], lag.layout, i, lag.points, o * lag.points).double().mean()),
        }
        if mask is not None and field.config.dims == 2:
            row["on_detail_at_start"] = float(on_mask(mask, start[part]).double().mean())
            row["on_detail"] = float(on_mask(mask, means[part]).double().mean())
        report.append(row)
    return report


def train_points(
    scene: Any, args: argparse.Namespace, steps: int | None, seconds: float | None
) -> tuple[dict[str, Any], Any]:
    """Train the Gaussian-bucket field (and, with --against-hashgrid, a hash grid, a step of each in
    turn) for `steps` or `seconds`; the report and the trainer."""

    options = field_options(args)
    trainer = build_run(scene, options, train_options(args), args.device)
    field = trainer.field
    if not field.config.capabilities.lagrangian_points:
        raise ConfigError(f"the {options.kind} field has no Lagrangian points (use --field gaussian_buckets)")
    grid = None
    if args.against_hashgrid:
        grid = build_run(scene, field_options(args, "hashgrid"), train_options(args), args.device)
        grid.plan_run(steps, seconds)
    trainer.plan_run(steps, seconds)
    field.encoding.lagrangian.track_pulls()
    probe = torch.rand(1 << 12, field.config.dims, generator=torch.Generator().manual_seed(1))
    total = steps if steps is not None else None
    marks = (
        sorted({max(1, round(total * (c + 1) / args.checkpoints)) for c in range(args.checkpoints)}) if total else []
    )
    scales: list[dict[str, Any]] = [
        {"step": 0, "sigma_cells": float(field.encoding.lagrangian.sigma_scale), "levels": feature_scale(field, probe)}
    ]
    grid_seconds = 0.0
    while (steps is not None and trainer.step_count < steps) or (seconds is not None and trainer.elapsed < seconds):
        trainer.step()
        if grid is not None:
            began = time.perf_counter()
            grid.step()
            grid_seconds += time.perf_counter() - began
        due = trainer.step_count in marks if marks else trainer.step_count % 25 == 0
        if due:
            sigma = float(field.encoding.lagrangian.sigma_scale)
            scales.append({"step": trainer.step_count, "sigma_cells": sigma, "levels": feature_scale(field, probe)})
    report: dict[str, Any] = {
        "image": scene.name,
        "size": [scene.width, scene.height],
        "config": {k: v for k, v in vars(field.config).items() if isinstance(v, (int, float, str))},
        "params": field.param_count(),
        "steps": trainer.step_count,
        "seconds": trainer.elapsed,
        "steps_per_second": trainer.step_count / max(trainer.elapsed, 1e-9),
        "psnr": trainer.evaluate()["psnr"],
        "levels": level_report(field, detail_mask(scene) if getattr(scene, "pixels", None) is not None else None),
        "feature_scale": scales,
    }
    if grid is not None:
        report["hashgrid"] = {
            "params": grid.field.param_count(),
            "steps": grid.step_count,
            "seconds": grid_seconds,
            "psnr": grid.evaluate()["psnr"],
            "step_time_ratio": (trainer.elapsed / trainer.step_count) / max(grid_seconds / grid.step_count, 1e-9),
        }
    return report, trainer


def run(args: argparse.Namespace) -> dict[str, Any]:
    scene = open_scene(args.path, device=args.device)
    steps = args.steps if args.steps is not None or args.seconds is not None else 100
    report, _trainer = train_points(scene, args, steps, args.seconds)
    if not args.json:
        print_report(report)
    return report


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['image']} {report['size'][0]}x{report['size'][1]}: {report['params']:,} params, "
        f"{report['steps']} steps in {report['seconds']:.1f} s ({report['steps_per_second']:.2f}/s), "
        f"PSNR {report['psnr']:.2f} dB"
    )
    if "hashgrid" in report:
        g = report["hashgrid"]
        print(
            f"  hash grid (same settings, interleaved): {g['params']:,} params, PSNR {g['psnr']:.2f} dB, "
            f"Gaussian step / hash-grid step = {g['step_time_ratio']:.2f}"
        )
    for row in report["levels"]:
        pulled = "-" if row["pulled"] is None else f"{row['pulled']:.3f}"
        detail = f", on detail {row['on_detail_at_start']:.3f} -> {row['on_detail']:.3f}" if "on_detail" in row else ""
        print(
            f"  level {row['level']} (N={row['resolution']}, {'hashed' if row['hashed'] else 'dense'}, "
            f"{row['points']:,} points): moved median {row['moved_median_cells']:.2f} p90 {row['moved_p90_cells']:.2f}"
            f" cells, >=1 cell {row['moved_one_cell']:.3f}, never {row['never_moved']:.3f}, pulled {pulled}, "
            f"serving {row['serving']:.3f}{detail}"
        )
    for mark in report["feature_scale"]:
        levels = ", ".join(f"{lv['values_rms']:.2e}/{lv['output_rms']:.2e}" for lv in mark["levels"])
        print(f"  step {mark['step']:>6}: sigma {mark['sigma_cells']:.1f} cells, features RMS points/output {levels}")
