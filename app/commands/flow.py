"""`fieldscope flow A B --out FLOW.npy`: optical flow from A to B by backpropagation into the
coordinates of a field fitted to A (fields/analysis/flow.py): B(x) = A(x + d(x)), d in pixels."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers, add_field_options, add_train_options, field_options, train_options
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.analysis import flow
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.pixels import write_image
from fieldscope.fields.scenes.image import load_image

#: Fit settings for A when none are given: few steps of small batches (the images are small).
DEFAULT_FIT_STEPS = 300
DEFAULT_FIT_BATCH = 1 << 14


def add_parser(sub: Subparsers) -> None:
    command = command_parser(sub, "flow")
    command.add_argument("a", metavar="A", help="the first image (the field is fitted to it)")
    command.add_argument("b", metavar="B", help="the second image: B(x) = A(x + flow(x))")
    command.add_argument("--out", required=True, help="flow file to write (.npy, H x W x 2 pixels); a .png beside it")
    command.add_argument("--model", help="a fitted .fsnap of A instead of fitting one (--interpolation re-reads it)")
    command.add_argument("--mode", default="translation", help="translation (default), affine or dense")
    command.add_argument(
        "--fit-steps", type=int, default=DEFAULT_FIT_STEPS, help=f"steps fitting A ({DEFAULT_FIT_STEPS})"
    )
    command.add_argument("--flow-steps", type=int, default=300, help="optimisation steps of the motion (300)")
    command.add_argument("--search-radius", type=float, default=56.0, help="coarse search radius in pixels (0: none)")
    command.add_argument("--resize", action="store_true", help="resample B to A's size when they differ")
    command.add_argument("--json", action="store_true", help="print one JSON object")
    add_field_options(command)
    add_train_options(command)
    command.set_defaults(run=run)


def check_output(out: Path) -> None:
    if out.suffix.lower() != ".npy":
        raise ConfigError(f"{out}: the flow is written as .npy, not {out.suffix or '(no suffix)'}")
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: the folder {out.parent} does not exist")


def load_pair(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """A and B as float arrays (H, W, C) of the same size (B resampled with --resize)."""
    a, b = load_image(args.a), load_image(args.b)
    if a.shape[2] != b.shape[2]:
        raise ConfigError(f"{args.b}: has {b.shape[2]} channels, {args.a} has {a.shape[2]}")
    if a.shape[:2] != b.shape[:2]:
        if not args.resize:
            raise ConfigError(
                f"{args.b} is {b.shape[1]}x{b.shape[0]} but {args.a} is {a.shape[1]}x{a.shape[0]}; "
                "pass --resize to resample B to A's size"
            )
        pixels = torch.from_numpy(np.ascontiguousarray(b)).permute(2, 0, 1)[None]
        b = torch.nn.functional.interpolate(pixels, size=a.shape[:2], mode="bilinear", antialias=True)
        b = b[0].permute(1, 2, 0).clamp(0, 1).numpy()
    return a, b


def field_of(args: argparse.Namespace, a: np.ndarray) -> FieldBase:
    """A's field: the --model snapshot (with --interpolation applied), or a fit through build_run."""
    if args.model:
        snapshot = snapshots.load(args.model)
        config = snapshot.config
        if config.dims != 2 or config.out_dims != a.shape[2]:
            raise ConfigError(f"{args.model}: not a field of a {a.shape[2]}-channel image like {args.a}")
        if args.interpolation and hasattr(config, "interpolation"):
            config = dataclasses.replace(config, interpolation=args.interpolation)
            snapshot = dataclasses.replace(snapshot, config=config)
        field = snapshots.field_from(snapshot)
        field.eval()
        return field
    train = train_options(args)
    if train.batch_size is None:
        train = dataclasses.replace(train, batch_size=min(DEFAULT_FIT_BATCH, a.shape[0] * a.shape[1]))
    return flow.fit_image(a, field_options(args), args.fit_steps, train)


def write_flow(out: Path, result: flow.FlowResult) -> Path:
    """The flow as .npy and its colour wheel as .png beside it (both atomic); returns the PNG's path."""
    buffer = io.BytesIO()
    np.save(buffer, result.flow)
    picture = out.with_suffix(".png")
    write_image(picture, flow.colour_wheel(result.flow))
    snapshots.write_atomic(out, buffer.getvalue())
    return picture


def run(args: argparse.Namespace) -> int:
    options = flow.FlowOptions(mode=args.mode, steps=args.flow_steps, search_radius=args.search_radius, seed=args.seed)
    out = Path(args.out)
    check_output(out)
    a, b = load_pair(args)
    field = field_of(args, a)
    result = flow.estimate_flow(field, b, options)
    picture = write_flow(out, result)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        dx, dy = summary["flow_mean"]
        print(
            f"{result.mode} flow, mean ({dx:.3f}, {dy:.3f}) px, warped A vs B {result.warped_psnr:.2f} dB, "
            f"{result.seconds:.1f} s -> {out}, {picture}",
            file=sys.stderr,
        )
    return 0
