"""The `fieldscope` command line: fit, render, bench, make-test-image (and, with no arguments, the app)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fields.errors import ConfigError, FieldscopeError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_IMAGE = ASSETS / "astronaut.png"


def add_field_options(parser: argparse.ArgumentParser) -> None:
    """Options that build a field config (any kind); unset ones keep the kind's defaults."""
    group = parser.add_argument_group("field")
    group.add_argument("--field", default="hashgrid", help="field kind (default hashgrid)")
    group.add_argument("--levels", type=int, help="number of levels L")
    group.add_argument("--features", type=int, help="features per level F (1, 2, 4, 8)")
    group.add_argument("--log2-table-size", type=int, help="hash table size T = 2^K")
    group.add_argument("--base-resolution", type=int, help="coarsest resolution N_min")
    group.add_argument("--growth", type=float, help="per-level growth b")
    group.add_argument("--max-resolution", type=int, help="finest resolution N_max (sets b); default: image size")
    group.add_argument("--interpolation", choices=("linear", "smoothstep"))
    group.add_argument("--hidden-width", type=int, help="decoder hidden width (default 64)")
    group.add_argument("--hidden-layers", type=int, help="decoder hidden layers (default 1)")
    group.add_argument("--scales", type=int, help="laplacian_blocks: Laplacian pyramid scales J (default 4)")
    group.add_argument("--block-size", type=int, help="laplacian_blocks: block side in samples (default 32 / 16^3)")
    group.add_argument("--target-mse", type=float, help="laplacian_blocks: per-block target error tau (1e-4)")
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="any other config setting")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 1e-2)")
    group.add_argument("--batch-size", type=int, default=1 << 16, help="samples per step (default 65536)")
    group.add_argument("--seed", type=int, default=0)


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def field_config(
    args: argparse.Namespace, dims: int, out_dims: int, extent: int, size: Sequence[int] | None = None
) -> Any:
    """The config the options describe, for a scene of `dims` dims, `out_dims` outputs and `extent`
    samples along its longest axis (the default finest resolution); `size` (samples per axis) goes
    to kinds that take one."""
    from fields import config as configs
    from fields.hashgrid import growth_for

    cls = configs.config_class(args.field)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {"dims": dims, "out_dims": out_dims}
    for name in (
        "levels",
        "features",
        "log2_table_size",
        "base_resolution",
        "growth",
        "interpolation",
        "hidden_width",
        "hidden_layers",
        "scales",
        "block_size",
        "target_mse",
    ):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    for item in args.option:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--option needs KEY=VALUE, not {item!r}")
        values[key.strip().replace("-", "_")] = _parse_value(text.strip())
    if "size" in names and size is not None and "size" not in values:
        values["size"] = tuple(size)
    if "growth" in names and "growth" not in values:
        levels = values.get("levels", cls.levels)
        base = values.get("base_resolution", cls.base_resolution)
        top = args.max_resolution or max(extent, base)
        values["growth"] = growth_for(base, top, levels)
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"the {args.field} field has no setting(s) {', '.join(unknown)}")
    return cls(**values)


def cmd_fit(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from fields import config as configs
    from fields import snapshot as snapshots
    from fields.scenes import open_scene
    from fields.train import TrainConfig, Trainer

    if args.steps is None and args.time_budget is None:
        args.steps = 1000
    out = Path(args.out)
    if not out.parent.is_dir():
        raise FieldscopeError(f"{out}: the folder {out.parent} does not exist")
    train = TrainConfig(lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    scene = open_scene(args.path, memory_budget=int(args.memory_budget * 2**30))
    facts = scene.describe()
    config = field_config(args, scene.dims, scene.out_dims, facts["extent"], facts.get("size"))
    torch.manual_seed(args.seed)
    field = configs.build_field(config)
    trainer = Trainer(field, scene, train)
    print(
        f"fitting {scene.name} ({' x '.join(map(str, facts['size']))}) with a {config.kind} field "
        f"of {field.param_count():,} parameters"
        + (" (it grows while training)" if getattr(field, "grows_while_training", False) else ""),
        file=sys.stderr,
    )
    bar = tqdm(
        total=args.steps if args.steps else None, unit="step", disable=args.quiet, file=sys.stderr, mininterval=0.5
    )
    started = time.perf_counter()
    last_eval = -math.inf
    try:
        while True:
            loss = trainer.step()
            bar.update(1)
            now = time.perf_counter()
            done = (
                (args.steps and trainer.step_count >= args.steps)
                or (args.time_budget and now - started >= args.time_budget)
                or getattr(trainer.strategy, "finished", False)
            )
            if now - last_eval >= 2.0 or done:
                trainer.evaluate()
                last_eval = time.perf_counter()
            bar.set_postfix(loss=f"{loss:.2e}", psnr=f"{trainer.metrics.get('psnr', math.nan):.2f}")
            if done:
                break
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: nothing written", file=sys.stderr)
        return 130
    bar.close()
    trainer.evaluate()
    trainer.publish("stopped")
    snapshots.save(out, trainer.latest())
    psnr = trainer.metrics["psnr"]
    print(
        f"final PSNR {psnr:.2f} dB, {field.param_count():,} parameters, {trainer.step_count} steps "
        f"in {trainer.elapsed:.1f} s of training -> {out}"
    )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from fields import snapshot as snapshots

    snapshot = snapshots.load(args.model)
    if snapshot.config.dims != 2:
        raise FieldscopeError(f"{args.model}: a {snapshot.config.dims}D field; render needs a 2D (image) field")
    size = snapshot.scene.get("size", [512, 512])
    width = args.width or (round(size[0] * args.height / size[1]) if args.height else size[0])
    height = args.height or (round(size[1] * width / size[0]))
    if not (1 <= width <= 1 << 20 and 1 <= height <= 1 << 20):
        raise ConfigError(f"render size {width}x{height} is out of range (1..1048576)")
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"):
        raise ConfigError(f"{out}: unsupported output type {out.suffix or '(none)'}; use .png")
    if suffix != ".png" and width * height > WHOLE_RENDER_PIXELS:
        raise ConfigError(f"{out}: a {width}x{height} render is written in parts only as PNG; use .png")
    field = snapshots.field_from(snapshot)
    with snapshots.atomic_output(out) as handle:
        write_render(handle, field, width, height, suffix)
    print(f"rendered {width}x{height} -> {out}")
    return 0


#: Renders up to this many pixels may be encoded whole (any format); larger ones stream as PNG.
WHOLE_RENDER_PIXELS = 1 << 26


def write_render(handle: Any, field: Any, width: int, height: int, suffix: str) -> None:
    """Evaluate the field on a width x height grid, band by band, into an image file."""
    import imageio.v3 as iio
    import numpy as np

    from app.bigimage import write_png
    from fields.scenes.image import render_bands

    def as_bytes(pixels: Any) -> Any:
        return (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    channels = field.config.out_dims
    if suffix == ".png" and 1 <= channels <= 4:
        write_png(handle, width, height, channels, (as_bytes(b) for b in render_bands(field, width, height)))
        return
    image = as_bytes(np.concatenate(list(render_bands(field, width, height))))
    handle.write(iio.imwrite("<bytes>", image[:, :, 0] if image.shape[2] == 1 else image, extension=suffix))


def cmd_make_test_image(args: argparse.Namespace) -> int:
    from app.bigimage import make_test_image

    started = time.perf_counter()
    width, height = make_test_image(args.out, args.megapixels)
    print(
        f"wrote a {width}x{height} test image ({width * height / 1e6:,.0f} MP) to {args.out} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from app import bench

    return bench.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldscope", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    fit = sub.add_parser("fit", help="train a field on a scene, headless, and save it")
    fit.add_argument("path", help="the scene (an image file)")
    fit.add_argument("--out", required=True, help="snapshot file to write")
    budget = fit.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="number of steps (default 1000)")
    budget.add_argument("--time-budget", type=float, metavar="SECONDS", help="train for this long instead")
    fit.add_argument(
        "--memory-budget",
        type=float,
        default=4.0,
        metavar="GIB",
        help="memory for the image (default 4): images whose float32 pixels need more than half stream from disk",
    )
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    add_field_options(fit)
    add_train_options(fit)
    fit.set_defaults(run=cmd_fit)

    render = sub.add_parser("render", help="reconstruct a saved 2D field as an image of any size")
    render.add_argument("model", help="snapshot file")
    render.add_argument("--out", required=True, help="image file to write (.png)")
    render.add_argument("--width", type=int)
    render.add_argument("--height", type=int)
    render.set_defaults(run=cmd_render)

    test_image = sub.add_parser("make-test-image", help="write a procedural tiled TIFF of any size (tile by tile)")
    test_image.add_argument("out", help="TIFF file to write (.tif)")
    test_image.add_argument("--megapixels", type=float, default=1000.0, help="size in millions of pixels")
    test_image.set_defaults(run=cmd_make_test_image)

    from app import bench

    bench.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["fit", str(DEFAULT_IMAGE), "--out", "astronaut.fsnap", "--time-budget", "60"])
    try:
        return int(args.run(args) or 0)
    except FieldscopeError as error:
        print(f"fieldscope: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fieldscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
