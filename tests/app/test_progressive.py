"""The progressive view's refresh pacing, on a clock of its own: a stand-in renderer whose rows
advance it by known amounts, and UI frames that advance it by a frame period. No real time is
measured here (bench ui reports the share of time the live view spends on refreshes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from fieldscope.app.render.progressive import ProgressiveView
from fieldscope.app.render.renderer import ViewOptions

ROW_SECONDS = 0.002
FRAME_SECONDS = 1 / 30


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowFrame:
    def __init__(self, width: int, clock: Clock) -> None:
        self.width, self.clock = width, clock

    def rows(self, top: int, bottom: int) -> np.ndarray:
        self.clock.now += ROW_SECONDS * (bottom - top)
        return np.ones((bottom - top, self.width, 4), np.float32)


class SlowRenderer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def frame(self, snapshot: Any, camera: Any, options: ViewOptions) -> SlowFrame:
        return SlowFrame(options.width, self.clock)


class Snapshot:
    config = SimpleNamespace(dims=2)


def ui_frame(view: ProgressiveView, clock: Clock, snapshot: Any, options: ViewOptions) -> None:
    """One UI frame: the view's update, then the rest of the frame period passes."""
    started = clock.now
    view.update(snapshot, "camera", options)
    clock.now = max(clock.now, started + FRAME_SECONDS)


def test_a_slow_picture_is_refreshed_at_most_at_the_duty_share() -> None:
    clock = Clock()
    options = ViewOptions(width=40, height=100)
    view = ProgressiveView(SlowRenderer(clock), budget=0.02, refresh_interval=0.0, refresh_duty=0.5, clock=clock)  # type: ignore[arg-type]
    first = Snapshot()
    while not (view.complete and view.job.scale == 1):  # the reduced picture, then the full one
        ui_frame(view, clock, first, options)
    cost, picture_started = view.job.cost, view._job_started
    assert cost == pytest.approx(100 * ROW_SECONDS)
    assert view.refresh_seconds == 0.0  # first pictures of a view are not refreshes
    second = Snapshot()
    frames_waited = 0
    while view.job.snapshot is first:
        ui_frame(view, clock, second, options)
        frames_waited += 1
        assert view.shows_whole_picture  # the old picture stays on screen meanwhile
    # the newer snapshot's picture starts once the last one's cost is half of the time since it began
    waited = view._job_started - picture_started
    assert cost / 0.5 <= waited < cost / 0.5 + FRAME_SECONDS
    assert frames_waited > 1
    assert not view.job.in_place
    while view.shown_snapshot is not second:
        ui_frame(view, clock, second, options)
        assert view.shows_whole_picture  # drawn behind the old picture, swapped in when whole
    assert view.refresh_seconds == pytest.approx(100 * ROW_SECONDS)
