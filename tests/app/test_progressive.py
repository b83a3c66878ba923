"""The progressive view's pacing, with a stand-in renderer whose pixels take known time on a clock
the test drives: live pictures while training (reduced to cost about live_cost, one per refresh
interval, drawn behind the one on screen), full resolution once training pauses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from fieldscope.app.render.progressive import MAX_DRAW_SHARE, ProgressiveView, enlarge, max_scale
from fieldscope.app.render.renderer import ViewOptions

PIXEL_SECONDS = 2e-5
#: Seconds of a UI frame besides the view's drawing.
FRAME_SECONDS = 1e-3
SCENE = {"task": "image"}


class FakeClock:
    """Seconds that pass when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SlowFrame:
    def __init__(self, width: int, value: float, clock: FakeClock) -> None:
        self.width, self.value, self.clock = width, value, clock

    def rows(self, top: int, bottom: int) -> np.ndarray:
        self.clock.advance(PIXEL_SECONDS * self.width * (bottom - top))
        return np.full((bottom - top, self.width, 4), self.value, np.float32)


class SlowRenderer:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def frame(self, snapshot: Any, camera: Any, options: ViewOptions) -> SlowFrame:
        return SlowFrame(options.width, snapshot.step, self.clock)


def slow_view(**settings: Any) -> ProgressiveView:
    """A view of SlowRenderer's pictures on a fake clock (its `clock`)."""
    clock = FakeClock()
    return ProgressiveView(SlowRenderer(clock), clock=clock, **settings)  # type: ignore[arg-type]


def frame(view: ProgressiveView, snapshot: Any, options: ViewOptions) -> None:
    """One UI frame: its other work, then the view's update."""
    view.clock.advance(FRAME_SECONDS)  # type: ignore[attr-defined]
    view.update(snapshot, "camera", options)


@dataclass
class Snapshot:
    step: int
    state: str = "running"
    config: Any = field(default_factory=lambda: type("Config", (), {"dims": 2}))
    scene: Any = field(default_factory=lambda: SCENE)


def until(view: ProgressiveView, snapshot: Snapshot, condition: Any, options: ViewOptions) -> int:
    updates = 0
    while not condition():
        frame(view, snapshot, options)
        updates += 1
        assert updates < 100_000
    return updates


def test_live_pictures_are_reduced_to_their_cost_and_follow_the_trainer() -> None:
    options = ViewOptions(width=120, height=100)
    view = slow_view(budget=0.01, refresh_interval=0.05, live_cost=0.03)
    first = Snapshot(1)
    until(view, first, lambda: view.shown is not None, options)  # the quick first picture
    assert view.job.scale == 4 and view.image[..., 0].min() == 1.0
    # full resolution costs at least 0.24 s: live pictures draw at the scale whose cost, at the
    # measured cost per pixel, is about 0.03 s (3 here)
    per_pixel = view._pixel_cost[(2, "field")]
    assert per_pixel == pytest.approx(PIXEL_SECONDS)
    expected = min(max_scale(options), int(np.ceil(np.sqrt(120 * 100 * per_pixel / 0.03))))
    second = Snapshot(2)
    until(view, second, lambda: view.job.snapshot is second, options)
    assert view.job.scale == expected >= 3 and not view.job.in_place
    began = view._job_started
    while view.shown_snapshot is not second:
        frame(view, second, options)
        # drawn behind the old picture, swapped in when whole
        assert view.shown_snapshot is second or view.image[..., 0].max() == 1.0
    assert view.image[..., 0].min() == 2.0
    per_pixel = view._pixel_cost[(2, "field")]
    third = Snapshot(3)
    until(view, third, lambda: view.job.snapshot is third, options)
    # one refresh interval after the last began, or longer when the next picture costs more than its share
    expected = per_pixel * view.job.size[0] * view.job.size[1]
    assert view._job_started - began >= max(0.05, expected / MAX_DRAW_SHARE)
    assert view.job.scale > 1


def test_a_paused_field_is_refined_to_full_resolution() -> None:
    options = ViewOptions(width=60, height=40)
    view = slow_view(budget=0.01, refresh_interval=0.05, live_cost=0.005)
    running = Snapshot(5)
    until(view, running, lambda: view.shown is not None, options)
    assert view.job.scale > 1
    paused = Snapshot(6, state="paused")
    until(view, paused, lambda: view.complete, options)
    assert view.shown_snapshot is paused and view.job.scale == 1 and view.image[..., 0].min() == 6.0


def test_a_new_scene_is_a_new_view_drawn_at_once() -> None:
    options = ViewOptions(width=60, height=40)
    view = slow_view(budget=0.01, refresh_interval=10.0)
    old = Snapshot(7)
    until(view, old, lambda: view.shown is not None, options)
    other = Snapshot(8, scene={"task": "image"})
    frame(view, other, options)
    # at once, straight to the screen: not after the refresh interval of the old scene's pictures
    assert view.job.snapshot is other and view.job.in_place


def test_enlarge_is_bilinear_between_block_centres() -> None:
    picture = np.array([[[0.0], [1.0]]], np.float32)  # (1, 2, 1)
    wide = enlarge(picture, 4, 4, 8)[0, :, 0]
    # block centres at 1.5 and 5.5: constant outside them, linear between
    assert np.allclose(wide, [0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1])


def test_while_training_a_finer_live_scale_waits_for_the_next_refresh() -> None:
    """A live picture's measured cost may allow a finer scale; while training, that picture starts at
    the next refresh (a newer snapshot, an interval later), not at once: it would skip the interval
    and take more than the view's share of the time. At rest it starts at once (refinement)."""
    options = ViewOptions(width=60, height=40)
    view = slow_view(budget=0.01, refresh_interval=10.0, live_cost=0.005)
    running = Snapshot(5)
    until(view, running, lambda: view.shown is not None, options)
    started = view._job_started
    view._pixel_cost[(2, "field")] /= 100.0  # pictures turn out cheaper: the live scale is finer now
    assert view.live_scale(running, options) < view.job.scale
    for _ in range(20):
        frame(view, running, options)
    assert view._job_started == started  # no new picture of the same snapshot before the interval
    paused = Snapshot(5, state="paused")
    frame(view, paused, options)
    assert view._job_started > started
