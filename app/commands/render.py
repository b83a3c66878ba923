"""`fieldscope render`: a saved field as an image of any size (2D, written band by band), a 3D model
from an orbit camera or one of its test views, or a camera path as a video (app/commands/render_path.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fieldscope.app.commands import command_parser, render_path
from fieldscope.app.commands.bigimage import write_png
from fieldscope.app.options import Subparsers, add_device_option
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.pixels import encode_image, to_uint8, write_image
from fieldscope.fields.render.cameras import Camera, orbit_camera
from fieldscope.fields.render.render3d import RenderOptions, render_field
from fieldscope.fields.scenes.image import render_bands
from fieldscope.fields.scenes.nerf import head_from
from fieldscope.fields.training.trainer import Snapshot


def add_parser(sub: Subparsers) -> None:
    render = command_parser(sub, "render")
    render.add_argument("model", help="snapshot file")
    render.add_argument("--out", required=True, help="image file to write (.png); with --camera-path: a video or DIR/")
    render.add_argument("--width", type=int)
    render.add_argument("--height", type=int)
    camera = render.add_argument_group("3D camera (orbit around the unit cube's centre, y up)")
    camera.add_argument("--azimuth", type=float, default=30.0, help="degrees around y (default 30)")
    camera.add_argument("--elevation", type=float, default=20.0, help="degrees above the x-z plane (default 20)")
    camera.add_argument("--distance", type=float, default=2.0, help="from the cube's centre (default 2.0)")
    camera.add_argument("--fov", type=float, default=40.0, help="vertical field of view, degrees (default 40)")
    camera.add_argument("--view", type=int, help="a NeRF model's test view (index) instead of the orbit camera")
    camera.add_argument("--level", type=float, help="iso-level of the surface (a volume: draws it instead of MIP)")
    render_path.add_options(render)
    add_device_option(render)
    render.set_defaults(run=cmd_render)


IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


def check_image_output(out: Path) -> None:
    if out.suffix.lower() not in IMAGE_OUTPUTS:
        raise ConfigError(f"{out}: unsupported output type {out.suffix or '(none)'}; use .png")


def cmd_render(args: argparse.Namespace) -> int:
    snapshot = snapshots.load(args.model)
    if args.camera_path:
        return render_path.render_camera_path(args, snapshot)
    if snapshot.config.dims == 3:
        return render_3d(args, snapshot)
    if args.view is not None:
        raise ConfigError("--view needs a model of a NeRF scene (it picks one of its test views)")
    size = snapshot.scene.get("size", [512, 512])
    width = args.width or (round(size[0] * args.height / size[1]) if args.height else size[0])
    height = args.height or (round(size[1] * width / size[0]))
    if not (1 <= width <= 1 << 20 and 1 <= height <= 1 << 20):
        raise ConfigError(f"render size {width}x{height} is out of range (1..1048576)")
    out = Path(args.out)
    check_image_output(out)
    suffix = out.suffix.lower()
    if suffix != ".png" and width * height > WHOLE_RENDER_PIXELS:
        raise ConfigError(f"{out}: a {width}x{height} render is written in parts only as PNG; use .png")
    field = snapshots.field_from(snapshot).to(args.device)
    with snapshots.atomic_output(out) as handle:
        write_render(handle, field, width, height, suffix)
    print(f"rendered {width}x{height} -> {out}")
    return 0


def render_3d(args: argparse.Namespace, snapshot: Snapshot) -> int:
    """Render a 3D model from an orbit camera (unit-cube coordinates) or one of its test views."""

    out = Path(args.out)
    check_image_output(out)
    facts = dict(snapshot.scene)
    task = facts.get("task")
    if args.view is not None:
        views = facts.get("test_views") or []
        if not 0 <= args.view < len(views):
            raise ConfigError(
                f"{args.model}: --view {args.view} is out of range (the model has {len(views)} test views)"
            )
        camera = Camera.from_dict(views[args.view])
        if args.width or args.height:
            width = args.width or round(camera.width * args.height / camera.height)
            camera = camera.resized(width, args.height or round(camera.height * width / camera.width))
    else:
        width, height = args.width or 512, args.height or args.width or 512
        camera = orbit_camera(args.azimuth, args.elevation, args.distance, width, height, args.fov)
    if not (1 <= camera.width <= 16384 and 1 <= camera.height <= 16384):
        raise ConfigError(f"render size {camera.width}x{camera.height} is out of range (1..16384)")
    head = None
    if task == "nerf":
        head = head_from(snapshot).to(args.device)
    field = snapshots.field_from(snapshot).to(args.device)
    options = RenderOptions(level=args.level)
    pixels = render_field(field, facts, camera, world_camera=args.view is not None, head=head, options=options)
    write_image(out, pixels[:, :, :3] if task == "nerf" else pixels)
    print(f"rendered {task} model at {camera.width}x{camera.height} -> {out}")
    return 0


#: Renders up to this many pixels may be encoded whole (any format); larger ones stream as PNG.
WHOLE_RENDER_PIXELS = 1 << 26


def write_render(handle: BinaryIO, field: FieldBase, width: int, height: int, suffix: str) -> None:
    """Evaluate the field on a width x height grid, band by band, into an image file."""
    channels = field.config.out_dims
    if suffix == ".png" and 1 <= channels <= 4:
        write_png(handle, width, height, channels, (to_uint8(b) for b in render_bands(field, width, height)))
        return
    encode_image(handle, np.concatenate(list(render_bands(field, width, height))), suffix)
