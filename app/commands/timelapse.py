"""`fieldscope fit PATH --out MODEL --timelapse VIDEO.mp4 [--every STEPS | SECONDSs] [--camera SPEC]`:
a video of the field while it trains. Every so often the trainer publishes a snapshot (a copy of
its parameters, as the window's live view gets them) and a frame is drawn from that copy, never
from the trainer's own tensors: a 2D field over its whole image, a 3D field from a camera
(`test:N`, a NeRF's test view N, the default for NeRF scenes; `orbit:AZ,EL,DIST` around the unit
cube's centre, orbit:30,20,2 by default). Each frame is stamped with the step, the seconds of
training and the scene's headline metric. Drawing takes at most --timelapse-share of the wall-clock
time (0.08 by default: the trainer keeps over 90% of its pace; a frame drawn on a CPU can cost as
much as hundreds of steps): a due frame is skipped while drawing it would take more (1: never skip,
every frame exactly every --every). With --mode, --overlay or --lod the frames are drawn as
the window's view draws them (app/commands/looks.py: its view modes, and the inside views laid over
them: Lagrangian points, a heatmap, Laplacian blocks, the level strip). The file is written as
`render --camera-path` writes: atomically, nothing left behind by an error or Ctrl-C."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldscope.app.commands import looks
from fieldscope.app.commands.frames_out import FrameSink, stamp, stamp_text
from fieldscope.app.commands.render_path import field_and_head
from fieldscope.app.render.camera import Camera2D
from fieldscope.app.ui.start_camera import parse_camera
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.render.cameras import Camera, orbit_camera
from fieldscope.fields.render.render3d import render_field
from fieldscope.fields.scenes.image import render_bands
from fieldscope.fields.training.trainer import Snapshot, Trainer

#: Longest side of a time-lapse frame unless --timelapse-size says otherwise.
DEFAULT_SIDE = 512
#: Share of the wall-clock time drawing frames may take unless --timelapse-share says otherwise.
DRAW_SHARE = 0.08


def add_options(fit: argparse.ArgumentParser) -> None:
    """The time-lapse options of `fieldscope fit`."""
    group = fit.add_argument_group("time-lapse: a video of the field while it trains")
    group.add_argument("--timelapse", metavar="VIDEO", help="video file (.mp4, ...) or DIR/ for PNG frames")
    group.add_argument("--every", default="50", help="a frame every N steps, or every Ns of training (default 50)")
    group.add_argument("--camera", metavar="SPEC", help="3D: test:N (a NeRF's test view) or orbit:AZ,EL,DIST")
    group.add_argument("--timelapse-size", metavar="WxH", help=f"frame size (default: longest side {DEFAULT_SIDE})")
    group.add_argument("--timelapse-fps", type=float, default=10.0, help="frames per second of the video (10)")
    group.add_argument(
        "--timelapse-share",
        type=float,
        default=DRAW_SHARE,
        help=f"most of the time drawing may take; due frames are skipped past it (default {DRAW_SHARE}, 1: none)",
    )
    looks.add_options(group)


@dataclass(frozen=True)
class Every:
    """How often to draw: every `count` steps, or every `seconds` of training."""

    count: int | None
    seconds: float | None

    @classmethod
    def parse(cls, text: str) -> Every:
        try:
            if text.endswith("s"):
                seconds = float(text[:-1])
                if math.isfinite(seconds) and seconds > 0:
                    return cls(None, seconds)
            elif int(text) >= 1:
                return cls(int(text), None)
        except ValueError:
            pass
        raise ConfigError(f"--every {text!r}: use a number of steps (50) or of seconds (5s)")


def frame_size(spec: str | None, facts: dict[str, Any], dims: int) -> tuple[int, int]:
    """The frame size: --timelapse-size, else the scene's aspect with its longest side DEFAULT_SIDE
    (at most the image's own size in 2D), rounded to even sides (H.264)."""
    if spec:
        width, _, height = spec.partition("x")
        try:
            size = (int(width), int(height))
        except ValueError:
            raise ConfigError(f"--timelapse-size {spec!r}: use WxH, e.g. 640x480") from None
        if not all(2 <= side <= 8192 for side in size):
            raise ConfigError(f"--timelapse-size {spec}: sides from 2 to 8192 pixels")
        return size
    w, h = facts.get("size", (DEFAULT_SIDE, DEFAULT_SIDE)) if dims == 2 or facts.get("task") == "nerf" else (1, 1)
    side = min(DEFAULT_SIDE, max(w, h)) if dims == 2 else DEFAULT_SIDE
    scale = side / max(w, h)
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


def camera_for(spec: str | None, facts: dict[str, Any], width: int, height: int) -> tuple[Camera, bool]:
    """The camera of a 3D time-lapse and whether it is in the scene's world (a NeRF test view)."""

    views = facts.get("test_views") or []
    choice = parse_camera(spec or ("test:0" if facts.get("task") == "nerf" and views else "orbit:30,20,2"))
    if choice.kind == "orbit":
        azimuth, elevation, distance = choice.values
        return orbit_camera(azimuth, elevation, distance, width, height), False
    index = int(choice.values[0])
    if facts.get("task") != "nerf" or not 0 <= index < len(views):
        raise ConfigError(f"--camera {choice.text}: the scene has {len(views)} test views")
    return Camera.from_dict(views[index]).resized(width, height), True


Drawer = Callable[[Snapshot], np.ndarray]


def frame_drawer(
    facts: dict[str, Any],
    dims: int,
    args: argparse.Namespace,
    truth: np.ndarray | None = None,
    first: Snapshot | None = None,
) -> tuple[Drawer, int, int]:
    """A function snapshot -> frame (H, W, 3) uint8, and the frame's width and height; `truth`: a
    2D scene's target image (H, W, C), for --mode truth and error; `first`: a snapshot the look's
    mode and overlays are checked against (before training)."""
    width, height = frame_size(args.timelapse_size, facts, dims)
    if dims == 2 and args.camera:
        raise ConfigError(f"--camera {args.camera}: the scene is 2D (its time-lapse shows the whole image)")
    look = looks.Look.from_args(args)
    if look.by_view:
        return view_drawer(look, facts, dims, args, truth, width, height, first), width, height
    if dims == 2:

        def draw_2d(snapshot: Snapshot) -> np.ndarray:
            field = snapshots.field_from(snapshot).to(args.device)
            values = np.concatenate(list(render_bands(field, width, height)))
            rgb = np.repeat(values[..., :1], 3, axis=2) if values.shape[2] < 3 else values[..., :3]
            return to_uint8(rgb)

        return draw_2d, width, height
    camera, world = camera_for(args.camera, facts, width, height)

    def draw_3d(snapshot: Snapshot) -> np.ndarray:
        field, head = field_and_head(snapshot, args.device)
        return to_uint8(render_field(field, dict(snapshot.scene), camera, world_camera=world, head=head)[..., :3])

    return draw_3d, width, height


def view_drawer(
    look: looks.Look,
    facts: dict[str, Any],
    dims: int,
    args: argparse.Namespace,
    truth: np.ndarray | None,
    width: int,
    height: int,
    first: Snapshot | None,
) -> Drawer:
    """Frames drawn by the window's renderer in `look`, from the time-lapse's camera (2D: the whole
    image); the look checked against `first` (ConfigError for what the field cannot show)."""
    from fieldscope.app.commands import view_frames  # ModernGL and the window's renderer: only for a look

    if dims == 2:
        camera: Any = Camera2D()
    else:
        headless, world = camera_for(args.camera, facts, width, height)
        camera = view_frames.view_camera(headless, facts.get("unit_from_world") if world else None)
    if first is not None:
        view_frames.view_options(look, first, width, height, truth)
    drawer = view_frames.ViewDrawer(look)

    def draw(snapshot: Snapshot) -> np.ndarray:
        return drawer.frame(snapshot, camera, width, height, truth)

    return draw


class Timelapse:
    """Draws frames from the trainer's published snapshots into a FrameSink."""

    def __init__(self, args: argparse.Namespace, trainer: Trainer, headline: str) -> None:
        self.every = Every.parse(str(args.every))
        self.share = float(getattr(args, "timelapse_share", DRAW_SHARE))
        if not 0.0 < self.share <= 1.0:
            raise ConfigError(f"--timelapse-share {self.share:g}: a share in (0, 1]")
        self.trainer, self.headline = trainer, headline
        trainer.publish("running")
        first = trainer.latest()
        facts, dims = dict(first.scene), int(trainer.field.config.dims)
        pixels = getattr(trainer.scene, "pixels", None)
        truth = pixels.detach().cpu().numpy() if dims == 2 and pixels is not None else None
        self.draw, width, height = frame_drawer(facts, dims, args, truth, first)
        self.sink = FrameSink(args.timelapse, width, height, args.timelapse_fps)
        self.last_step, self.last_seconds = -1, -math.inf
        self.drawing = 0.0  # seconds spent drawing frames
        self.last_cost = 0.0  # seconds the last frame took
        self.skipped = 0  # due frames skipped to keep drawing within its share
        self.started = time.perf_counter()

    def due(self) -> bool:
        trainer = self.trainer
        if self.every.count is not None:
            return trainer.step_count % self.every.count == 0 and trainer.step_count != self.last_step
        return trainer.elapsed - self.last_seconds >= (self.every.seconds or 0.0)

    def within_share(self, now: float) -> bool:
        """Drawing one more frame (costing as much as the last) keeps drawing within its share."""
        return self.share >= 1.0 or self.drawing + self.last_cost <= self.share * (now - self.started)

    def record(self, force: bool = False) -> None:
        """Publish a snapshot and draw it, when due and within the drawing share (or `force`, once
        per step)."""
        forced = force and self.trainer.step_count != self.last_step
        if not (self.due() or forced):
            return
        started = time.perf_counter()
        if not forced and not self.within_share(started):
            self.skipped += self.every.count is not None  # (every N seconds: drawn as soon as it fits)
            return
        self.trainer.publish("running")
        snapshot = self.trainer.latest()
        self.sink.add(stamp(self.draw(snapshot), stamp_text(snapshot, self.headline)))
        self.last_step, self.last_seconds = snapshot.step, snapshot.elapsed
        self.last_cost = time.perf_counter() - started
        self.drawing += self.last_cost

    def finish(self) -> str:
        self.record(force=True)
        target = self.sink.finish()
        wall = time.perf_counter() - self.started
        skipped = f", {self.skipped} due frames skipped to keep it under {self.share:.0%}" if self.skipped else ""
        return (
            f"time-lapse, {self.sink.count} frames ({self.drawing:.1f} s drawing them, "
            f"{self.drawing / max(wall, 1e-9):.0%} of {wall:.1f} s{skipped}) -> {target}"
        )


def start(args: argparse.Namespace, trainer: Trainer, headline: str) -> Timelapse | None:
    """The time-lapse `fit --timelapse` asks for (its file checked before training), else None."""
    if not getattr(args, "timelapse", None):
        return None
    return Timelapse(args, trainer, headline)
