"""`fieldscope bench budget`: PSNR against parameter count for the hash grid and the Gaussian-bucket
field, same steps, same images (the compression comparison of Lagrangian Hashing's Table 1 and
Fig. 6), run in one process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FIELDS = ("hashgrid", "gaussian_buckets")


def add_parser(which: Any) -> None:
    from fieldscope.app.options import add_device_option

    budget = which.add_parser("budget", help="PSNR vs parameter count: hash grid vs Gaussian buckets")
    budget.add_argument("--json", action="store_true")
    budget.add_argument("--image", action="append", help="image(s) to fit besides the bundled one")
    budget.add_argument("--only-images", action="store_true", help="fit only the --image ones")
    budget.add_argument("--log2-table-sizes", default="12,14,16", help="table sizes 2^K to compare (default 12,14,16)")
    budget.add_argument("--steps", type=int, default=500, help="training steps per fit (default 500)")
    budget.add_argument("--batch-size", type=int, help="samples per step (default: the scene's suggestion)")
    budget.add_argument("--field", action="append", choices=FIELDS, help="default: both")
    add_device_option(budget)
    budget.add_argument("--max-resolution", type=int, help="finest resolution (default: the image size)")
    budget.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="extra setting for the Gaussian-bucket field"
    )


def fit_once(scene: Any, kind: str, log2_table_size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fit one field with the default image settings and the given table size; its final PSNR."""
    from fieldscope.app.options import key_values
    from fieldscope.fields import config as configs
    from fieldscope.fields.run import FieldOptions, TrainOptions, build_run

    lagrangian = configs.config_class(kind).capabilities.lagrangian_points
    extra = key_values(args.option, "--option") if lagrangian else {}
    options = FieldOptions(kind, {**extra, "log2_table_size": log2_table_size}, args.max_resolution)
    trainer = build_run(scene, options, TrainOptions(batch_size=args.batch_size), args.device)
    field = trainer.field
    for _ in range(args.steps):
        trainer.step()
    psnr = trainer.evaluate()["psnr"]
    return {
        "image": scene.name,
        "field": kind,
        "log2_table_size": log2_table_size,
        "params": field.param_count(),
        "psnr": psnr,
        "steps": args.steps,
        "seconds": trainer.elapsed,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fieldscope.app.options import DEFAULT_IMAGE
    from fieldscope.fields.scenes import open_scene

    sizes = [int(k) for k in args.log2_table_sizes.split(",")]
    results = []
    images = args.image if args.only_images else [str(DEFAULT_IMAGE), *(args.image or [])]
    for path in images:
        scene = open_scene(path, device=args.device)
        for kind in args.field or FIELDS:
            for k in sizes:
                row = fit_once(scene, kind, k, args)
                results.append(row)
                if not args.json:
                    print(
                        f"{Path(path).name:24s} {kind:16s} T=2^{k:<2d} {row['params']:>10,} params  "
                        f"{row['psnr']:6.2f} dB  ({row['seconds']:.0f} s)",
                        flush=True,
                    )
    return {"results": results}
