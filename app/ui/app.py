"""The App: the composition root of the window and its frame loop. It makes the window's state
objects (app/state: the current session, opening, training, levels, the views, overlays, flow,
exports, the recording, comparison, a sweep's results, jobs, status), the panels that paint them
and send them the user's commands (app/ui/panels), and the Window that lays the panels out; scripts,
tests and benchmarks drive the same state objects the panels do (app.training.pause(),
app.overlays.set_heatmap(...), ...).

Threads: the main thread owns DearPyGui and the OpenGL context; the trainer runs in its own
thread (fields.train); opening a scene runs in a worker thread. Nothing here waits for a training
step: commands go to the trainer's queue.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from fieldscope.app.render.context import create_context, gl_description
from fieldscope.app.render.progressive import ProgressiveView
from fieldscope.app.render.renderer import Renderer
from fieldscope.app.state.block_overlay import BlockOverlay
from fieldscope.app.state.compare import TilesRenderer
from fieldscope.app.state.comparison import Comparison
from fieldscope.app.state.current import Current
from fieldscope.app.state.exports import Exports
from fieldscope.app.state.flow_control import Flow
from fieldscope.app.state.jobs import Jobs
from fieldscope.app.state.level_mask import LevelMask
from fieldscope.app.state.opening import Opening
from fieldscope.app.state.overlays import Overlays
from fieldscope.app.state.recording import Recording
from fieldscope.app.state.session import Session
from fieldscope.app.state.shown import Views
from fieldscope.app.state.status import Status
from fieldscope.app.state.sweep_view import SweepView
from fieldscope.app.state.training import Training
from fieldscope.app.state.view import ViewState
from fieldscope.app.ui.panels import Panel
from fieldscope.app.ui.panels.blocks import BlocksPanel
from fieldscope.app.ui.panels.camera_path import CameraPathPanel
from fieldscope.app.ui.panels.compare import ComparePanel
from fieldscope.app.ui.panels.export import ExportPanel
from fieldscope.app.ui.panels.field import FieldPanel
from fieldscope.app.ui.panels.flow import FlowPanel
from fieldscope.app.ui.panels.inside import InsidePanel
from fieldscope.app.ui.panels.levels import LevelsPanel
from fieldscope.app.ui.panels.scene import ScenePanel
from fieldscope.app.ui.panels.training import TrainingPanel
from fieldscope.app.ui.panels.view import ViewPanel
from fieldscope.app.ui.statusbar import StatusBar
from fieldscope.app.ui.window import Window
from fieldscope.fields import devices
from fieldscope.fields.training.trainer import Snapshot
from fieldscope.fields.warmup import start_background

#: Seconds of each UI frame given to export jobs.
JOB_BUDGET = 0.03
#: Least seconds per frame of the main loop, while something happens and when idle.
ACTIVE_PERIOD, IDLE_PERIOD = 1 / 30, 1 / 5
#: Seconds of drawing per frame when idle: a picture of a newer snapshot is finished in a frame or
#: two (at the active pace's 0.05 s a frame, a 0.3 s live picture took 6-8 frames, 1.2-1.6 s, which
#: made the refresh gaps wait on the drawing). Waiting on the shading releases the GIL, and the
#: share of time the view spends drawing is ProgressiveView's to keep (MAX_DRAW_SHARE).
IDLE_DRAW_BUDGET = 0.15


class App:
    def __init__(
        self,
        ctx: object | None = None,
        view_size: tuple[int, int] | None = None,
        show: bool = True,
        device: str = "cpu",
    ) -> None:
        """`ctx`: the moderngl context to draw with (None: a new one, made before the viewport);
        `view_size`: a fixed view size in pixels (None: what the window's middle area holds);
        `device`: where scenes opened in the window train."""
        if os.environ.get("FIELDSCOPE_WARMUP", "1") != "0":
            start_background(device)  # compile the Warp kernels that scenes opened later will need (fields/warmup.py)
        self.renderer = Renderer(ctx if ctx is not None else create_context())  # before the viewport
        self.fixed_view_size = view_size
        self.start_paused = False  # True: a new scene's trainer waits at step 0 for step()/resume() (tests)
        self.frame_times: deque[float] = deque(maxlen=5000)
        self.status = Status()
        self.jobs = Jobs(self.status.say)
        self.current = Current()
        self.view_state = ViewState()
        self.levels = LevelMask(self.current)
        self.view = ProgressiveView(self.renderer)  # the scene's field
        self.tiles = ProgressiveView(TilesRenderer(self.renderer))  # a comparison's fields, when shown
        self.views = Views(self.view, self.tiles, self.current, self.view_state, self.levels, self.status)
        self.sweep = SweepView(self.current, self.status, lambda path: self.opening.open(path))  # a sweep's folder
        self.opening = Opening(self.status, self.current, device, self._show_status_without_scene, self.sweep.show)
        self.training = Training(self.current, self.status, self.switch)
        self.overlays = Overlays(self.current, self.view_state, self.views, self.jobs, self.status)
        self.blocks = BlockOverlay(self.current, self.view_state, self.status)
        self.flow = Flow(self.current, self.status)
        self.exports = Exports(self.renderer, self.current, self.views, self.jobs, self.status)
        self.recording = Recording(self.views, self.status)  # the Record toggle: the live view to a video
        self.compare = Comparison(self.current, self.training, self.views, self.status)
        self.window = Window(
            self._panels(),
            StatusBar(self.status, self.jobs),
            self.views,
            self.blocks,
            self.opening.drop,
            self.frame,
            show,
        )
        self.status.say(f"training on {devices.describe(device)}; view drawn by {gl_description(self.renderer.ctx)}")

    def _panels(self) -> list[Panel]:
        """The left column, top to bottom: each panel gets the state it paints and commands."""
        return [
            ScenePanel(self.opening, self.current, self.flow, self.status),
            FieldPanel(self.training, self.current),
            TrainingPanel(self.training, self.current),
            LevelsPanel(self.levels),
            ViewPanel(self.views, self.current),
            InsidePanel(self.overlays, self.views, self.levels, self.renderer, self.exports, self.status),
            BlocksPanel(self.blocks, self.current, self.exports),
            ExportPanel(self.exports, self.opening, self.recording),
            CameraPathPanel(self.exports, lambda: self.window.view_rect() if self.window.image else None),
            ComparePanel(self.compare, self.sweep),
            FlowPanel(self.flow, self.status),
        ]

    # ---- scenes
    @property
    def session(self) -> Session | None:
        """The current session (None before the first scene opens)."""
        return self.current.session

    def snapshot(self) -> Snapshot | None:
        """The current field's latest snapshot (None before the first scene opens)."""
        return self.current.snapshot()

    def open(self, path: str | Path, task: str | None = None, kind: str = "hashgrid") -> Future:
        """Open a scene or saved model in the background (Opening.open); the future of its session."""
        return self.opening.open(path, task, kind)

    def switch(self, session: Session, keep_view: bool = False) -> None:
        """Make `session` the current one and start its trainer; the old trainer stops, and every
        state object and panel follows the new field."""
        snapshot = session.latest()
        if self.recording.active:
            self.recording.stop()  # the recording was of the field shown so far
        old = self.current.show(session)
        if old is not None and old.trainer is not session.trainer:
            self.opening.retire(old)
            self.flow.stop()  # its image A was the old scene's
        self.levels.reset_for(snapshot)
        if not keep_view or self.view_state.dims != snapshot.config.dims:
            self.view_state.reset_for(snapshot)
        self.overlays.fit_to(snapshot)
        self.compare.on_session(session)
        session.start(paused=self.start_paused)
        self.window.on_session(session)
        self.status.say(f"{session.name}: {'training' if session.can_train else 'saved model (view only)'}")

    def _take_arrivals(self) -> None:
        """Drops (opened, or with Shift the flow's image B) and a scene that finished opening."""
        self.opening.release_retired()
        for path, shift in self.opening.dropped():
            if shift:
                self.flow.start(path)
            else:
                self.opening.open(path)
        session = self.opening.arrived()
        if session is not None:
            self.switch(session)

    def _show_status_without_scene(self) -> None:
        """The frame refreshes the status bar only while a scene is shown: before the first one,
        what opening says (and why it failed) must still reach the screen."""
        if self.current.session is None:
            self.window.refresh(None, False)

    # ---- the loop
    def frame(self) -> None:
        """One UI frame: open what arrived, follow the trainer, draw a little, render the window."""
        started = time.perf_counter()
        budget = IDLE_DRAW_BUDGET if self.idle() else None
        self._take_arrivals()
        snapshot = self.current.snapshot()
        if snapshot is not None:
            if self.levels.state.schedule:
                self.levels.sync()
            self.current.history.add(snapshot)
            self.jobs.advance(JOB_BUDGET)
            self.view_state.set_size(self.fixed_view_size or self.window.view_size())
            changed = self.views.update(snapshot, budget)
            self.recording.capture()
            self.window.refresh(snapshot, changed)
        self.window.render()
        self.frame_times.append(time.perf_counter() - started)

    def run(self, seconds: float | None = None) -> None:
        """The main loop: until the window closes (or `seconds` pass). Frames are paced (30 per
        second, 10 when nothing moves) so that the UI leaves the CPU to the trainer."""
        end = None if seconds is None else time.perf_counter() + seconds
        while self.window.is_open() and (end is None or time.perf_counter() < end):
            started = time.perf_counter()
            self.frame()
            period = IDLE_PERIOD if self.idle() else ACTIVE_PERIOD
            time.sleep(max(0.0, period - (time.perf_counter() - started)))

    def idle(self) -> bool:
        """No recent input, nothing pending, and the screen shows a whole picture of the view (a
        newer snapshot's picture may be drawn behind it: at the idle pace, training keeps the CPU)."""
        quiet = time.perf_counter() - self.window.last_input > 1.0
        return quiet and self._nothing_pending() and self.views.shown().shows_whole_picture

    def _nothing_pending(self) -> bool:
        return not self.opening.busy and not self.jobs.busy

    def run_until(self, condition: Callable[[], bool], timeout: float = 60.0) -> bool:
        """Run frames until condition() holds; False on timeout."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            self.frame()
            if condition():
                return True
        return False

    def wait_for_scene(self, timeout: float = 600.0) -> bool:
        """Run frames until a scene is current and nothing is opening; False if none is then."""
        self.run_until(lambda: not self.opening.opening, timeout)
        self.frame()  # takes the opened scene
        return self.current.session is not None

    def settled(self) -> bool:
        """Nothing opening, no job, and the view shows the latest snapshot at full resolution."""
        return self._nothing_pending() and self.view.complete and self.view.shown_snapshot is self.snapshot()

    def close(self) -> None:
        """Stop every trainer thread (and wait for them as long as their step lasts, saying so on the
        terminal: exiting during a step aborts), the flow and the job; close the window."""
        self.recording.stop()
        self.opening.close(say=_say_on_terminal)
        self.flow.stop()
        self.jobs.cancel()
        self.window.close()


def _say_on_terminal(text: str) -> None:
    print(f"fieldscope: {text}", file=sys.stderr, flush=True)
