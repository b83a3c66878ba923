"""The progressive view's refresh pacing, with a stand-in renderer whose rows take known time."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from fieldscope.app.render.progressive import ProgressiveView
from fieldscope.app.render.renderer import ViewOptions

ROW_SECONDS = 0.002


class SlowFrame:
    def __init__(self, width: int) -> None:
        self.width = width

    def rows(self, top: int, bottom: int) -> np.ndarray:
        time.sleep(ROW_SECONDS * (bottom - top))
        return np.ones((bottom - top, self.width, 4), np.float32)


class SlowRenderer:
    def frame(self, snapshot: Any, camera: Any, options: ViewOptions) -> SlowFrame:
        return SlowFrame(options.width)


class Snapshot:
    config = SimpleNamespace(dims=2)


def test_a_slow_picture_is_refreshed_at_most_at_the_duty_share() -> None:
    options = ViewOptions(width=40, height=100)
    view = ProgressiveView(SlowRenderer(), budget=0.02, refresh_interval=0.0, refresh_duty=0.5)  # type: ignore[arg-type]
    first = Snapshot()
    while not (view.complete and view.job.scale == 1):  # the reduced picture, then the full one
        view.update(first, "camera", options)
    cost, picture_started = view.job.cost, view._job_started
    assert cost >= 100 * ROW_SECONDS
    second = Snapshot()
    while view.job.snapshot is first:
        view.update(second, "camera", options)
        assert view.shows_whole_picture  # the old picture stays on screen meanwhile
    # the newer snapshot's picture starts once the last one's cost is half of the time since it began
    assert cost / 0.5 <= view._job_started - picture_started < cost / 0.5 + 0.1
    assert not view.job.in_place
    while view.shown_snapshot is not second:
        view.update(second, "camera", options)
        assert view.shows_whole_picture  # drawn behind the old picture, swapped in when whole
