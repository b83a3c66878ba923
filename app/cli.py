"""The `fieldscope` command line: view (the window; also with no arguments), fit, render, export-mesh,
bench, make-test-image, make-views, compare, ntk, flow, sweep."""

from __future__ import annotations

import os

# Before anything imports torch (fieldscope.app.options does): OpenMP reads its settings once, when torch
# loads it, and spinning waiters make small ops 10-20x slower on shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from tqdm import tqdm

# The subcommand modules load with the parser (their options show in --help); what only the window needs
# (DearPyGui, ModernGL) and the heavy optional libraries (mesh, image and volume readers) load when used.
from fieldscope.app.commands import (
    bench,
    compare,
    flow,
    kinds,
    make_views,
    ntk,
    render_path,
    sweep,
    timelapse,
    warmup,
)
from fieldscope.app.commands.bigimage import make_test_image, write_png
from fieldscope.app.commands.frames_out import headline_metric
from fieldscope.app.options import (
    DEFAULT_IMAGE,
    add_device_option,
    add_field_options,
    add_scene_options,
    add_train_options,
    field_options,
    kind_help,
    metric_summary,
    scene_options,
    scene_summary,
    train_options,
)
from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.devices import resolve
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.pixels import encode_image, to_uint8, write_image
from fieldscope.fields.render.cameras import Camera, orbit_camera
from fieldscope.fields.render.mesh_export import (
    MESH_OUTPUTS,
    check_resolution,
    extract_mesh,
    transform_points,
    vertex_normals,
    write_mesh,
)
from fieldscope.fields.render.render3d import RenderOptions, render_field
from fieldscope.fields.scenes import TASKS, open_scene
from fieldscope.fields.scenes.image import render_bands
from fieldscope.fields.scenes.nerf import head_from, vertex_colours
from fieldscope.fields.training.run import build_run
from fieldscope.fields.training.trainer import Snapshot

#: The subcommands defined in their own modules, each with add_parser(subparsers) and run(args).
COMMAND_MODULES = (bench, compare, ntk, flow, warmup, kinds, sweep, make_views)



def cmd_fit(args: argparse.Namespace) -> int:
    if args.steps is None and args.time_budget is None:
        args.steps = 1000
    out = Path(args.out)
    if not out.parent.is_dir():
        raise FieldscopeError(f"{out}: the folder {out.parent} does not exist")
    try:
        scene = open_scene(args.path, task=args.task, device=args.device, **scene_options(args))
    except TypeError as error:  # an unknown scene option
        raise ConfigError(f"{args.path}: {error}") from None
    facts = scene.describe()
    trainer = build_run(scene, field_options(args), train_options(args), args.device)
    trainer.plan_run(args.steps, args.time_budget)
    field, config = trainer.field, trainer.field.config
    print(
        f"fitting {scene.name} ({scene_summary(facts)}) with a {config.kind} field "
        f"of {field.param_count():,} parameters"
        + (" (it grows while training)" if config.capabilities.grows_while_training else ""),
        file=sys.stderr,
    )
    bar = tqdm(
        total=args.steps if args.steps else None, unit="step", disable=args.quiet, file=sys.stderr, mininterval=0.5
    )
    started = time.perf_counter()
    last_eval, eval_cost = -math.inf, 0.0
    headline = headline_metric(scene.task)
    recorder = timelapse.start(args, trainer, headline)  # None without --timelapse
    try:
        while True:
            if recorder is not None:
                recorder.record()
            loss = trainer.step()
            bar.update(1)
            now = time.perf_counter()
            done = (
                (args.steps and trainer.step_count >= args.steps)
                or (args.time_budget and now - started >= args.time_budget)
                or trainer.strategy.finished
            )
            # evaluate every 2 s, but spend at most a tenth of the time on it (3D scenes are slow to score)
            if now - last_eval >= max(2.0, 10.0 * eval_cost) and not done:
                trainer.evaluate()
                last_eval = time.perf_counter()
                eval_cost = last_eval - now
            bar.set_postfix({"loss": f"{loss:.2e}", headline: f"{trainer.metrics.get(headline, math.nan):.4g}"})
            if done:
                break
    except BaseException as error:
        bar.close()
        if recorder is not None:
            recorder.sink.discard()
        if not isinstance(error, KeyboardInterrupt):
            raise
        print("interrupted: nothing written", file=sys.stderr)
        return 130
    bar.close()
    trainer.evaluate(full=True)
    if recorder is not None:
        print(recorder.finish(), file=sys.stderr)
    trainer.publish("stopped")
    snapshots.save(out, trainer.latest())
    print(
        f"final {metric_summary(trainer.metrics)}, {field.param_count():,} parameters, {trainer.step_count} steps "
        f"in {trainer.elapsed:.1f} s of training -> {out}"
    )
    return 0


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


def cmd_view(args: argparse.Namespace) -> int:
    from fieldscope.app.ui.launch import launch  # the window: DearPyGui and ModernGL load only when it opens

    configs.config_class(args.field)  # an unknown kind: one line before any window opens

    size = None
    if args.view_size:
        width, _, height = args.view_size.partition("x")
        size = (int(width), int(height))
    screenshot = Path(args.screenshot) if args.screenshot else None
    view_screenshot = Path(args.view_screenshot) if args.view_screenshot else None
    return launch(
        Path(args.path),
        args.task,
        args.seconds,
        screenshot,
        size,
        args.field,
        args.camera,
        view_screenshot,
        args.device,
    )


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


def cmd_export_mesh(args: argparse.Namespace) -> int:
    """Marching cubes of a 3D model's level set -> .ply / .obj (world coordinates of the scene)."""
    out = Path(args.out)
    if out.suffix.lower() not in MESH_OUTPUTS:
        raise ConfigError(f"{out}: unsupported mesh output type {out.suffix or '(none)'}; use .ply or .obj")
    if not out.parent.is_dir():
        raise FieldscopeError(f"{out}: the folder {out.parent} does not exist")
    check_resolution(args.resolution)
    snapshot = snapshots.load(args.model)
    if snapshot.config.dims != 3:
        raise ConfigError(f"{args.model}: a {snapshot.config.dims}D field; export-mesh needs a 3D field")
    facts = dict(snapshot.scene)
    level = args.level if args.level is not None else float(facts.get("level", 0.0))
    inside_is_low = bool(facts.get("inside_is_low", True))
    field = snapshots.field_from(snapshot).to(args.device)
    vertices, faces = extract_mesh(field, args.resolution, level, inside_is_low)
    colors = None
    if facts.get("task") == "nerf":
        colors = vertex_colours(field, head_from(snapshot).to(args.device), vertices, vertex_normals(vertices, faces))
    world = None if args.unit_cube else facts.get("world_from_unit")
    write_mesh(out, transform_points(vertices, world), faces, colors)
    print(f"exported {len(vertices):,} vertices and {len(faces):,} triangles (level {level:g}) -> {out}")
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


def cmd_make_test_image(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    width, height = make_test_image(args.out, args.megapixels)
    print(
        f"wrote a {width}x{height} test image ({width * height / 1e6:,.0f} MP) to {args.out} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldscope", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    fit = sub.add_parser("fit", help="train a field on a scene, headless, and save it")
    fit.add_argument("path", help="the scene: an image, a mesh, a volume (.npy, NIfTI) or a NeRF folder")
    fit.add_argument("--task", choices=sorted(TASKS), help="what to fit (default: from the path; meshes: sdf)")
    add_scene_options(fit)
    fit.add_argument("--out", required=True, help="snapshot file to write")
    budget = fit.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="number of steps (default 1000)")
    budget.add_argument("--time-budget", type=float, metavar="SECONDS", help="train for this long instead")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    add_field_options(fit)
    add_train_options(fit)
    timelapse.add_options(fit)
    add_device_option(fit)
    fit.set_defaults(run=cmd_fit)

    render = sub.add_parser("render", help="render a saved field: an image of any size, or a 3D model from a camera")
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

    view = sub.add_parser(
        "view",
        help="open the window on a scene (image, data folder), a saved model (.fsnap) or a sweep's results folder",
    )
    view.add_argument("path", nargs="?", default=str(DEFAULT_IMAGE), help="default: the bundled astronaut")
    view.add_argument("--task", help="scene task (default: detected from the path)")
    view.add_argument("--field", default="hashgrid", help=kind_help("field kind trained on a scene"))
    view.add_argument("--seconds", type=float, help="close the window after this long")
    view.add_argument("--screenshot", metavar="PNG", help="save the window as a PNG when closing")
    view.add_argument("--view-size", metavar="WxH", help="fixed view size in pixels (default: follow the window)")
    view.add_argument(
        "--camera", metavar="SPEC", help="3D view's camera: test:N (a NeRF's test view N) or orbit:AZ,EL,DIST"
    )
    view.add_argument(
        "--view-screenshot",
        metavar="PNG",
        help="save the picture the view last displayed when the window closes (2D: the scene's part)",
    )
    add_device_option(view)
    view.set_defaults(run=cmd_view)

    export = sub.add_parser("export-mesh", help="marching cubes of a 3D model's surface -> .ply or .obj")
    export.add_argument("model", help="snapshot file")
    export.add_argument("--out", required=True, help="mesh file to write (.ply or .obj)")
    export.add_argument("--resolution", type=int, default=256, help="marching-cubes grid (default 256)")
    export.add_argument("--level", type=float, help="iso-level (default: the scene's: 0 for SDF/occupancy)")
    export.add_argument("--unit-cube", action="store_true", help="keep the unit cube's coordinates")
    add_device_option(export)
    export.set_defaults(run=cmd_export_mesh)

    test_image = sub.add_parser("make-test-image", help="write a procedural tiled TIFF of any size (tile by tile)")
    test_image.add_argument("out", help="TIFF file to write (.tif)")
    test_image.add_argument("--megapixels", type=float, default=1000.0, help="size in millions of pixels")
    test_image.set_defaults(run=cmd_make_test_image)

    for command in COMMAND_MODULES:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the window on the bundled scene
        args = parser.parse_args(["view"])
    try:
        if getattr(args, "device", None) is not None:
            args.device = resolve(args.device)
        return int(args.run(args) or 0)
    except FieldscopeError as error:
        print(f"fieldscope: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fieldscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
