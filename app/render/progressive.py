"""Progressive drawing for the live view, so the window stays live on a CPU renderer while the
trainer keeps the CPU. While the field trains (or the camera moves) every picture is drawn at a
reduced resolution chosen so that one costs about `live_cost` seconds of shading, and a picture
of the newest snapshot follows every `refresh_interval` seconds; once training pauses (or the
snapshot stops changing) and the camera rests, the view is refined to full resolution. Pictures
of new snapshots are drawn behind the one on screen and swapped in when whole; rows of a new view
(camera, options) go straight to the screen, a few per UI frame within a time budget."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from fieldscope.app.render.camera import ViewCamera
from fieldscope.app.render.renderer import Frame, Renderer, ViewOptions
from fieldscope.fields.training.trainer import Snapshot

if TYPE_CHECKING:  # types only: a comparison's tiles draw as one snapshot
    from fieldscope.app.state.compare import TileSet

#: The coarsest live picture has this many pixels on its short side (an untrained NeRF costs
#: about 0.5 ms a pixel on llvmpipe: its 800x600 live picture is 32 times reduced).
MIN_LIVE_SIDE = 16
#: Shading seconds a live picture aims at, by the field's dims, and for a NeRF's volume-rendered colour
#: (view mode "rgb"), which needs the resolution most (lego, 180 s in the window, test view 0: 20.3 dB
#: at 0.3 s, 22.8 dB at 0.4 s). A 2D picture of an image is near full resolution at 0.25 s (coffee.png
#: after 20 s: 28.0 dB); an SDF's trainer kept 0.60-0.69 of its headless steps/s at 0.4 s.
LIVE_COST = {2: 0.25, 3: 0.3, "rgb": 0.4}
#: Live pictures take at most this share of the time (a picture that costs more than planned,
#: at the coarsest scale, is refreshed less often): the trainer comes first.
MAX_DRAW_SHARE = 0.3
#: Reduced 3D pictures march fewer steps along each ray too (steps / scale, at least this many).
MIN_STEPS = 24
#: ... and a NeRF's samples lie up to this many times farther apart than in its scene's renders.
#: (Measured on lego, 300 steps, test view 0 at 878x742, 2 cores: offline, quiet, 1/14 of the
#: resolution costs 0.12 s / 20.9 dB against the test view at 8x the spacing, 0.20 s / 22.0 dB at
#: 4x; but in the window, with the trainer running, a cap of 4 made the live pictures 1/20 of the
#: resolution for the same cost, and 18.3 dB after 180 s against 19.1-20.0 dB with a cap of 8.)
MAX_SAMPLE_SPACING = 8


@dataclass
class _Job:
    snapshot: Snapshot | TileSet
    camera: ViewCamera
    options: ViewOptions
    scale: int
    in_place: bool  # tiles go straight to the screen (else to a back buffer, swapped when done)
    frame: Frame | None = None
    buffer: np.ndarray | None = None
    next_row: int = 0
    rows_per_tile: int = 4
    cost: float = 0.0  # seconds spent shading it so far

    @property
    def size(self) -> tuple[int, int]:
        return -(-self.options.width // self.scale), -(-self.options.height // self.scale)

    @property
    def done(self) -> bool:
        return self.buffer is not None and self.next_row >= self.buffer.shape[0]


def is_training(snapshot: Snapshot | TileSet) -> bool:
    """The trainer publishes newer snapshots of this one (it runs)."""
    return getattr(snapshot, "state", "running") == "running"


class ProgressiveView:
    """The live view's picture. Call `update` once per UI frame; `image` is what to show."""

    def __init__(
        self,
        renderer: Renderer,
        reduce_2d: int = 4,
        reduce_3d: int = 32,
        budget: float = 0.05,
        refresh_interval: float = 1.0,
        live_cost: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """reduce_2d, reduce_3d: the live pictures' scale until one has been timed; budget: seconds
        of drawing per update; refresh_interval: least seconds between the starts of two pictures of
        new snapshots; live_cost: shading seconds a live picture aims at (None: LIVE_COST; drawing competes with
        training for the CPU: a slow renderer draws coarser live pictures, not rarer ones); clock:
        seconds (tests drive a fake one)."""
        self.renderer = renderer
        self.clock = clock
        self.reduce = {2: reduce_2d, 3: reduce_3d}
        self.budget = budget
        self.refresh_interval = refresh_interval
        self.live_cost = live_cost  # None: LIVE_COST by view mode, else by the field's dims
        self._pixel_cost: dict[tuple[int, str], float] = {}  # (dims, mode) -> shading s per pixel (mean)
        self._job_started = 0.0
        self.image = np.zeros((1, 1, 4), np.float32)
        self.job: _Job | None = None
        # snapshot, camera, options, scale
        self.shown: tuple[Snapshot | TileSet, ViewCamera, ViewOptions, int] | None = None
        self.pictures = 0  # whole pictures put on screen so far
        self.shading_seconds = 0.0  # shading time of every whole picture so far (bench ui)

    def invalidate(self) -> None:
        """Draw the view again (something it shows changed outside snapshot and options)."""
        self.job = None

    @property
    def complete(self) -> bool:
        """True when the screen shows the full-resolution picture of the last requested view."""
        return self.job is not None and self.job.done and self.job.scale == 1 and self.shown is not None

    @property
    def shows_whole_picture(self) -> bool:
        """True when the screen shows a whole picture of the requested view (of an older snapshot,
        maybe, while the newer one is drawn behind it)."""
        job = self.job
        return self.shown is not None and job is not None and (job.done or not job.in_place)

    @property
    def shown_snapshot(self) -> Snapshot | TileSet | None:
        return self.shown[0] if self.shown else None

    def live_scale(self, snapshot: Snapshot | TileSet, options: ViewOptions) -> int:
        """The reduction of pictures drawn while training or moving: a picture costs about live_cost."""
        dims = int(snapshot.config.dims)
        per_pixel = self._pixel_cost.get((dims, options.mode))
        if per_pixel is None:
            return self.reduce.get(dims, 4)
        cost = self.live_cost if self.live_cost is not None else LIVE_COST.get(options.mode, LIVE_COST[dims])
        scale = math.ceil(math.sqrt(options.width * options.height * per_pixel / cost))
        return max(1, min(max_scale(options), scale))

    def update(
        self,
        snapshot: Snapshot | TileSet,
        camera: ViewCamera,
        options: ViewOptions,
        moving: bool = False,
        budget: float | None = None,
    ) -> bool:
        """Draw what fits in the time budget (seconds; None: the view's `budget`); True when `image`
        changed."""
        if self.image.shape[:2] != (options.height, options.width):
            self.image = np.zeros((options.height, options.width, 4), np.float32)
            self.image[..., 3] = 1.0
            self.job = None
        self._plan(snapshot, camera, options, moving)
        return self._work(self.budget if budget is None else budget)

    def _plan(self, snapshot: Snapshot | TileSet, camera: ViewCamera, options: ViewOptions, moving: bool) -> None:
        job = self.job
        live = moving or is_training(snapshot)
        scale = self.live_scale(snapshot, options) if live else 1
        # While the camera keeps moving, a picture in progress is finished first (with the camera
        # it started with): restarting it every frame would never show a whole picture.
        finishing = moving and job is not None and not job.done
        new_scene = job is not None and job.snapshot.scene is not snapshot.scene
        if job is None or new_scene or job.options != options or (job.camera != camera and not finishing):
            # a new view: a quick picture first, straight to the screen
            self._start(_Job(snapshot, camera, options, max(scale, self.live_scale(snapshot, options)), True))
        elif not job.done:
            if live and job.scale < scale and not job.in_place:  # a refinement, but training resumed
                self._start(_Job(snapshot, camera, options, scale, in_place=False))
        elif self._newer_picture_due(snapshot, live, self._cost(snapshot, options, scale)) or (
            job.scale > scale and not live
        ):  # (while training, a finer live scale waits for the next refresh too)
            self._start(_Job(snapshot, camera, options, scale, in_place=False))  # (or refine: at rest)

    def _newer_picture_due(self, snapshot: Snapshot | TileSet, live: bool, cost: float) -> bool:
        """A newer snapshot than the picture's, and (while training) its refresh is due: a refresh
        interval after the last began, or later when the next one costs more than its share."""
        assert self.job is not None
        if snapshot is self.job.snapshot:
            return False
        interval = max(self.refresh_interval, cost / MAX_DRAW_SHARE)
        return not live or self.clock() - self._job_started >= interval

    def _cost(self, snapshot: Snapshot | TileSet, options: ViewOptions, scale: int) -> float:
        """The expected shading seconds of a picture at `scale` (0 before one has been timed)."""
        per_pixel = self._pixel_cost.get((int(snapshot.config.dims), options.mode), 0.0)
        return per_pixel * -(-options.width // scale) * -(-options.height // scale)

    def _start(self, job: _Job) -> None:
        self.job = job
        self._job_started = self.clock()

    def _work(self, budget: float) -> bool:
        deadline = self.clock() + budget
        job = self.job
        assert job is not None
        if job.done:
            return False
        if job.frame is None:
            width, height = job.size
            # reduced pictures are shown enlarged only for a moment: no legends on them
            legend = job.options.legend and job.scale == 1
            steps = max(MIN_STEPS, -(-job.options.steps // job.scale)) if job.scale > 1 else job.options.steps
            spacing = float(min(job.scale, MAX_SAMPLE_SPACING))
            options = replace(
                job.options, width=width, height=height, legend=legend, steps=steps, sample_spacing=spacing
            )
            job.frame = self.renderer.frame(job.snapshot, job.camera, options)
            job.buffer = np.zeros((height, width, 4), np.float32)
        changed = False
        while not job.done and self.clock() < deadline:
            started = self.clock()
            top = job.next_row
            bottom = min(job.buffer.shape[0], top + job.rows_per_tile)
            job.buffer[top:bottom] = job.frame.rows(top, bottom)
            job.next_row = bottom
            spent = max(self.clock() - started, 1e-4)
            job.cost += spent
            # aim at tiles of about half the budget
            job.rows_per_tile = max(1, min(512, int((bottom - top) * 0.5 * budget / spent)))
            if job.in_place:
                self._show_rows(job, top, bottom)
                changed = True
        if job.done:
            self._learn_cost(job)
            self.shading_seconds += job.cost
            if not job.in_place or job.scale > 1:  # a reduced picture: shown smoothly enlarged
                self._show_whole(job)
                changed = True
            self.shown = (job.snapshot, job.camera, job.options, job.scale)
            self.pictures += 1
        return changed

    def _learn_cost(self, job: _Job) -> None:
        assert job.buffer is not None
        key = (int(job.snapshot.config.dims), job.options.mode)
        per_pixel = job.cost / max(1, job.buffer.shape[0] * job.buffer.shape[1])
        old = self._pixel_cost.get(key)
        self._pixel_cost[key] = per_pixel if old is None else 0.5 * (old + per_pixel)

    def _show_whole(self, job: _Job) -> None:
        assert job.buffer is not None
        if job.scale == 1:
            self._show_rows(job, 0, job.buffer.shape[0])
            return
        height, width = self.image.shape[:2]
        self.image[:] = enlarge(job.buffer, job.scale, height, width)

    def _show_rows(self, job: _Job, top: int, bottom: int) -> None:
        s = job.scale
        rows = job.buffer[top:bottom]
        if s > 1:
            rows = np.repeat(np.repeat(rows, s, axis=0), s, axis=1)
        height, width = self.image.shape[:2]
        end = min(height, bottom * s)
        self.image[top * s : end] = rows[: end - top * s, :width]


def max_scale(options: ViewOptions) -> int:
    """The largest reduction of a live picture: MIN_LIVE_SIDE pixels on its short side."""
    return max(1, min(options.width, options.height) // MIN_LIVE_SIDE)


def enlarge(picture: np.ndarray, scale: int, height: int, width: int) -> np.ndarray:
    """A reduced picture (h, w, C), each pixel sampled at the centre of a scale x scale block,
    enlarged bilinearly to (height, width, C)."""

    def positions(count: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.clip((np.arange(count) + 0.5) / scale - 0.5, 0.0, size - 1)
        low = np.floor(x).astype(int)
        high = np.minimum(low + 1, size - 1)
        return low, high, (x - low).astype(np.float32)

    y0, y1, fy = positions(height, picture.shape[0])
    x0, x1, fx = positions(width, picture.shape[1])
    rows = picture[y0] * (1.0 - fy)[:, None, None] + picture[y1] * fy[:, None, None]
    return rows[:, x0] * (1.0 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
