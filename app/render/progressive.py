"""Progressive drawing for the live view, so the window stays responsive on a CPU renderer: a
reduced-resolution pass first (and only that while the camera moves), then the full resolution
in row tiles, a few per UI frame within a time budget. A new snapshot of the same view is drawn
behind the picture on screen and swapped in when complete."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fieldscope.app.render.renderer import Frame, Renderer, ViewOptions


@dataclass
class _Job:
    snapshot: Any
    camera: Any
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


class ProgressiveView:
    """The live view's picture. Call `update` once per UI frame; `image` is what to show."""

    def __init__(
        self,
        renderer: Renderer,
        reduce_2d: int = 4,
        reduce_3d: int = 8,
        budget: float = 0.02,
        refresh_interval: float = 1.0,
        refresh_duty: float = 1 / 3,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """budget: seconds of drawing per update; refresh_interval: least seconds between two
        pictures of new snapshots of an unchanged view; refresh_duty: at most this share of the
        time goes to such pictures (drawing competes with training for the CPU: a slow picture is
        refreshed less often); clock: seconds (tests pass their own)."""
        self.renderer = renderer
        self.reduce = {2: reduce_2d, 3: reduce_3d}
        self.budget = budget
        self.refresh_interval = refresh_interval
        self.refresh_duty = refresh_duty
        self.clock = clock
        self.refresh_seconds = 0.0  # shading seconds of pictures of new snapshots so far (bench ui)
        self._picture_cost = 0.0  # shading seconds of the last full-resolution picture
        self._job_started = 0.0
        self.image = np.zeros((1, 1, 4), np.float32)
        self.job: _Job | None = None
        self.shown: tuple[Any, Any, ViewOptions, int] | None = None  # snapshot, camera, options, scale

    def invalidate(self) -> None:
        """Draw the view again (something it shows changed outside snapshot and options)."""
        self.job = None

    @property
    def complete(self) -> bool:
        """True when the screen shows the full-resolution picture of the last requested view."""
        return self.job is not None and self.job.done and self.job.scale == 1 and self.shown is not None

    @property
    def shows_whole_picture(self) -> bool:
        """True when the screen shows a full-resolution picture of the requested view, or of it for an
        older snapshot while the newer one is drawn behind it."""
        job = self.job
        return self.complete or (job is not None and not job.in_place and job.scale == 1 and self.shown is not None)

    @property
    def shown_snapshot(self) -> Any:
        return self.shown[0] if self.shown else None

    def update(self, snapshot: Any, camera: Any, options: ViewOptions, moving: bool = False) -> bool:
        """Draw what fits in the time budget; True when `image` changed."""
        if self.image.shape[:2] != (options.height, options.width):
            self.image = np.zeros((options.height, options.width, 4), np.float32)
            self.image[..., 3] = 1.0
            self.job = None
        self._plan(snapshot, camera, options, moving)
        return self._work(self.clock() + self.budget)

    def _plan(self, snapshot: Any, camera: Any, options: ViewOptions, moving: bool) -> None:
        job = self.job
        coarse = self.reduce.get(int(snapshot.config.dims), 4)
        # While the camera keeps moving, a reduced picture in progress is finished first (with the
        # camera it started with): restarting it every frame would never show a whole picture.
        finishing_coarse = moving and job is not None and not job.done and job.scale > 1
        if job is None or job.options != options or (job.camera != camera and not finishing_coarse):
            self.job = _Job(snapshot, camera, options, coarse, in_place=True)
        elif not job.done:
            return
        elif job.scale > 1 and not moving:
            self.job = _Job(job.snapshot, camera, options, 1, in_place=True)
        elif snapshot is not job.snapshot and self.clock() - self._job_started >= self._refresh_after():
            self.job = _Job(snapshot, camera, options, coarse if moving else 1, in_place=False)
        if self.job is not job:
            self._job_started = self.clock()

    def _refresh_after(self) -> float:
        return max(self.refresh_interval, self._picture_cost / self.refresh_duty)

    def _work(self, deadline: float) -> bool:
        job = self.job
        assert job is not None
        if job.done:
            return False
        if job.frame is None:
            width, height = job.size
            # reduced pictures are shown enlarged only for a moment: no legends on them
            legend = job.options.legend and job.scale == 1
            options = replace(job.options, width=width, height=height, legend=legend)
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
            if not job.in_place:
                self.refresh_seconds += spent
            # aim at tiles of about half the budget
            job.rows_per_tile = max(1, min(512, int((bottom - top) * 0.5 * self.budget / spent)))
            if job.in_place:
                self._show_rows(job, top, bottom)
                changed = True
        if job.done:
            if job.scale == 1:
                self._picture_cost = job.cost
            if not job.in_place:
                self._show_rows(job, 0, job.buffer.shape[0])
                changed = True
            self.shown = (job.snapshot, job.camera, job.options, job.scale)
        return changed

    def _show_rows(self, job: _Job, top: int, bottom: int) -> None:
        s = job.scale
        rows = job.buffer[top:bottom]
        if s > 1:
            rows = np.repeat(np.repeat(rows, s, axis=0), s, axis=1)
        height, width = self.image.shape[:2]
        end = min(height, bottom * s)
        self.image[top * s : end] = rows[: end - top * s, :width]
