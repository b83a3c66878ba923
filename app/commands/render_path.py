"""`fieldscope render MODEL --camera-path PATH.json --out VIDEO.mp4 | DIR/`: a video (or PNG frames)
of a saved field along a camera path (fields/render/camera_path_files.py reads the file), drawn by
the headless renderer one frame at a time with a progress bar. Size, frame rate and length come
from the file unless given. A 3D path is in the NeRF data set's own world for a NeRF model, in
the unit cube (y up) for the other 3D models; a 2D path holds view centres and zooms. With --mode,
--overlay or --lod the frames are drawn as the window's view draws them (app/commands/looks.py)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from fieldscope.app.commands import looks
from fieldscope.app.commands.frames_out import FrameSink
from fieldscope.app.render.camera import Camera2D
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.render.camera_path import frame_times
from fieldscope.fields.render.camera_path_files import read_camera_path
from fieldscope.fields.render.render3d import RenderOptions, render_field
from fieldscope.fields.scenes.nerf import head_from

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase
    from fieldscope.fields.render.camera_path_files import Shot
    from fieldscope.fields.render.cameras import Camera
    from fieldscope.fields.scenes.nerf import NerfHead
    from fieldscope.fields.training.trainer import Snapshot

MAX_SIDE = 16384
MAX_FRAMES = 100_000


def add_options(render: argparse.ArgumentParser) -> None:
    """The camera path options of `fieldscope render`."""
    group = render.add_argument_group("camera path: a video (--out VIDEO.mp4) or PNG frames (--out DIR/)")
    group.add_argument(
        "--camera-path", metavar="JSON", help="nerfstudio camera_path.json, Instant-NGP base_cam.json or a 2D path"
    )
    group.add_argument("--fps", type=float, help="frames per second (default: the file's)")
    group.add_argument("--seconds", type=float, help="length of the video (default: the file's)")
    group.add_argument(
        "--dataparser-transforms", metavar="JSON", help="nerfstudio's dataparser_transforms.json of the path's run"
    )
    group.add_argument("--codec", default="libx264", help="ffmpeg video encoder (default libx264, in yuv420p)")
    looks.add_options(group)


def field_and_head(snapshot: Snapshot, device: str | torch.device) -> tuple[FieldBase, NerfHead | None]:
    """The snapshot's field (and a NeRF's colour head, else None) on `device`."""
    head = None
    if snapshot.scene.get("task") == "nerf":
        head = head_from(snapshot).to(device)
    return snapshots.field_from(snapshot).to(device), head


def draw_3d(snapshot: Snapshot, device: str | torch.device, level: float | None) -> Callable[[Camera], np.ndarray]:
    """A function camera -> frame (H, W, 3) uint8 of a 3D model (a NeRF's cameras in its world)."""

    field, head = field_and_head(snapshot, device)
    facts = dict(snapshot.scene)
    options = RenderOptions(level=level)
    world = facts.get("task") == "nerf"

    def draw(camera: Camera) -> np.ndarray:
        pixels = render_field(field, facts, camera, world_camera=world, head=head, options=options)
        return to_uint8(pixels[..., :3])

    return draw


def draw_2d(
    snapshot: Snapshot, device: str | torch.device, width: int, height: int
) -> Callable[[Sequence[float], float], np.ndarray]:
    """A function (centre, zoom) -> frame (H, W, 3) uint8 of a 2D model: the field over the view
    (black outside the image's extent), as the window's 2D view frames it."""

    field = snapshots.field_from(snapshot).to(device)
    size = tuple(snapshot.scene.get("size", (width, height)))

    @torch.no_grad()
    def draw(center: Sequence[float], zoom: float) -> np.ndarray:
        coords = Camera2D((float(center[0]), float(center[1])), float(zoom)).field_coords(width, height, size)
        points = torch.from_numpy(coords.reshape(-1, 2))
        values = torch.cat([field(part.to(device)).float().cpu() for part in points.split(1 << 16)]).numpy()
        values = values.reshape(height, width, -1)
        rgb = np.repeat(values[..., :1], 3, axis=2) if values.shape[2] < 3 else values[..., :3]
        inside = np.all((coords >= 0.0) & (coords <= 1.0), axis=-1)
        return to_uint8(np.where(inside[..., None], rgb, 0.0))

    return draw


def video_size(args: argparse.Namespace, shot: Shot) -> tuple[int, int]:
    width = args.width or (round(shot.width * args.height / shot.height) if args.height else shot.width)
    height = args.height or round(shot.height * width / shot.width)
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ConfigError(f"video size {width}x{height} is out of range (1..{MAX_SIDE})")
    return width, height


def render_camera_path(args: argparse.Namespace, snapshot: Snapshot) -> int:
    """Render the model along args.camera_path into args.out (a video file or a folder of PNGs)."""

    source = Path(args.camera_path)
    shot = read_camera_path(source, args.dataparser_transforms)
    width, height = video_size(args, shot)
    fps, seconds = args.fps or shot.fps, args.seconds or shot.seconds
    times = frame_times(fps, seconds)
    if len(times) > MAX_FRAMES:
        raise ConfigError(f"{len(times)} frames is too many (at most {MAX_FRAMES})")
    dims = int(snapshot.config.dims)
    path_dims = shot.path.dims if shot.path is not None else 3
    if path_dims != dims:
        raise ConfigError(f"{source}: a {path_dims}D camera path, but {args.model} is a {dims}D model")
    look = looks.Look.from_args(args)
    if look.by_view:
        frame = view_frames(args, snapshot, shot, look, width, height, fps, seconds)
    elif dims == 3:
        poses = shot.poses(fps, seconds)
        draw_camera = draw_3d(snapshot, args.device, args.level)

        def frame(i: int) -> np.ndarray:
            return draw_camera(poses.camera(i, width, height))
    else:
        views = shot.path.views(times * (shot.path.seconds / seconds))
        draw_view = draw_2d(snapshot, args.device, width, height)

        def frame(i: int) -> np.ndarray:
            return draw_view(views.center[i], float(views.zoom[i]))

    count = len(times)
    try:
        with FrameSink(args.out, width, height, fps, args.codec) as sink:
            for i in tqdm(range(count), unit="frame", file=sys.stderr, mininterval=0.5):
                sink.add(frame(i))
            target = sink.finish()
    except (OSError, RuntimeError) as error:  # the encoder or the disk gave up: nothing was kept
        raise FieldscopeError(f"{args.out}: could not write ({error})") from None
    fps_text = f"{fps:g}" if math.isfinite(fps) else str(fps)
    print(f"rendered {count} frames of {width}x{height} at {fps_text} fps along {source} -> {target}")
    return 0


def view_frames(
    args: argparse.Namespace,
    snapshot: Snapshot,
    shot: Shot,
    look: looks.Look,
    width: int,
    height: int,
    fps: float,
    seconds: float,
) -> Callable[[int], np.ndarray]:
    """Frame i -> (H, W, 3) uint8 drawn by the window's renderer in `look` (its options checked
    against the model here, before any file is opened)."""
    from fieldscope.app.commands import view_frames as by_view  # ModernGL and the window's renderer

    by_view.view_options(look, snapshot, width, height)
    drawer = by_view.ViewDrawer(look)
    if int(snapshot.config.dims) == 3:
        poses = shot.poses(fps, seconds)
        facts = snapshot.scene or {}
        unit = facts.get("unit_from_world") if facts.get("task") == "nerf" else None

        def frame_3d(i: int) -> np.ndarray:
            return drawer.frame(snapshot, by_view.view_camera(poses.camera(i, width, height), unit), width, height)

        return frame_3d
    views = shot.path.views(frame_times(fps, seconds) * (shot.path.seconds / seconds))

    def frame_2d(i: int) -> np.ndarray:
        camera = Camera2D((float(views.center[i][0]), float(views.center[i][1])), float(views.zoom[i]))
        return drawer.frame(snapshot, camera, width, height)

    return frame_2d
