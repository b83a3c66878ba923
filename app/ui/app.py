"""The App: one window, one scene session, the trainer thread behind it, the live view, and the
jobs. Every UI callback calls an App method; tests and benchmarks call the same methods.

Threads: the main thread owns DearPyGui and the OpenGL context; the trainer runs in its own
thread (fields.train); opening a scene runs in a worker thread. App methods never wait for a
training step: they send commands to the trainer's queue.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import queue
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from fieldscope.app.render import Renderer
from fieldscope.app.render.context import gl_description
from fieldscope.app.render.progressive import ProgressiveView
from fieldscope.app.state import blocks, collisions, export, inside, recent
from fieldscope.app.state.compare import TileSet, TilesRenderer
from fieldscope.app.state.jobs import Jobs
from fieldscope.app.state.levels import LevelState
from fieldscope.app.state.session import Session, new_session, open_path
from fieldscope.app.state.view import ViewState
from fieldscope.app.ui.history import History
from fieldscope.app.ui.status import Status
from fieldscope.fields import config as configs
from fieldscope.fields import devices
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.training.run import TrainOptions
from fieldscope.fields.training.trainer import Pause, Resume, SetBatchSize, SetLearningRate, SetLevelMask, Step

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
        self, ctx: Any = None, view_size: tuple[int, int] | None = None, show: bool = True, device: str = "cpu"
    ) -> None:
        from fieldscope.app.render.context import create_context
        from fieldscope.app.ui.window import Window

        self.renderer = Renderer(ctx if ctx is not None else create_context())  # before the viewport
        self.view = ProgressiveView(self.renderer)
        self.tiles = ProgressiveView(TilesRenderer(self.renderer))  # a comparison's fields, when shown
        self.compare: Any = None  # the CompareSession the view shows as tiles (app/state/compare.py)
        self._tile_set: TileSet | None = None
        self.status = Status()
        self.jobs = Jobs(self.status.say)
        self.view_state = ViewState()
        self.fixed_view_size = view_size
        self.device = device  # where scenes opened in the window train
        self.session: Session | None = None
        self.levels = LevelState.all_on(1)
        self.history = History()
        self.recent = recent.load()
        self.frame_times: deque[float] = deque(maxlen=5000)
        self._sent_mask: tuple[bool, ...] | None = None
        self._opening: Future | None = None
        self._opening_path: Path | None = None
        self._drops: queue.SimpleQueue[tuple[list[str], bool]] = queue.SimpleQueue()
        self.flow: Any = None  # the FlowJob (app/state/flow.py) of the Flow window, if any
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="fieldscope-open")
        self._retired: list[Session] = []  # stopped sessions whose threads may still finish a step
        self.hovered: str | None = None
        self.window = Window(self, show=show)
        self.status.say(f"training on {devices.describe(device)}; view drawn by {gl_description(self.renderer.ctx)}")

    # ---- scenes
    def open(self, path: str | Path, task: str | None = None, kind: str = "hashgrid") -> Future:
        """Open a scene (trained with a field of `kind`) or saved model in the background; the
        current scene trains on until the new one is ready, and stays if opening fails (the status
        bar says why). The latest request wins: one still opening is replaced (its result dropped)."""
        path = Path(path).expanduser()
        replaced = self._supersede_opening()
        note = f" (replaces {replaced}, which was still opening)" if replaced is not None else ""
        self.status.say(f"opening {path} ...{note}")
        self._show_status_without_scene()
        self._opening_path = path
        self._opening = self._pool.submit(open_path, path, task, self.session, kind, self.device)
        return self._opening

    def _supersede_opening(self) -> Path | None:
        """Let go of the open in progress, if any (cancelled if it has not started; else its
        session, never started, is dropped when it arrives); the path it was opening."""
        future, self._opening = self._opening, None
        if future is None or future.done():
            return None
        future.cancel()
        return self._opening_path

    def drop(self, paths: list[str], shift: bool = False) -> None:
        """Files dropped on the window (called from GLFW's callback): the first one is opened (a
        later drop replaces one still opening), or with Shift held it is image B of a flow."""
        self._drops.put((list(paths), bool(shift)))

    def _poll_opening(self) -> None:
        self._release_retired()
        while not self._drops.empty():
            paths, shift = self._drops.get()
            if paths:
                if len(paths) > 1:
                    self.status.say(f"{len(paths)} items dropped; taking the first, {paths[0]}")
                if shift:
                    self.start_flow(paths[0])
                else:
                    self.open(paths[0])
        future = self._opening
        if future is None or not future.done():
            return
        self._opening = None
        try:
            session = future.result()
        except Exception as error:
            if isinstance(error, FieldscopeError):
                self.status.say(f"{error}{self._still_training()}", error=True)
            else:  # a bug while opening: say so, keep the current scene
                self.status.say(f"{self._opening_path}: {type(error).__name__}: {error}{self._still_training()}", True)
            self._show_status_without_scene()
            return
        self.recent = recent.remember(self._opening_path)
        self.switch(session)

    def _show_status_without_scene(self) -> None:
        """The frame refreshes the status bar only while a scene is shown: before the first one,
        what opening says (and why it failed) must still reach the screen."""
        if self.session is None:
            self.window.status_bar.refresh(None)

    def _release_retired(self) -> None:
        """Let go of stopped sessions whose trainer thread has ended (their scene, field and
        optimiser state), and collect them now: they hold cycles the collector may not visit soon."""
        running = [session for session in self._retired if session.running]
        if len(running) < len(self._retired):
            self._retired = running
            gc.collect()

    def _still_training(self) -> str:
        if self.session is None:
            return ""
        return f" ({self.session.name} is still {'training' if self.session.can_train else 'shown'})"

    def switch(self, session: Session, keep_view: bool = False) -> None:
        """Make `session` the current one and start its trainer; the old trainer stops."""
        old, self.session = self.session, session
        snapshot = session.latest()
        if old is not None and old.trainer is not session.trainer:
            old.stop()  # asks; the thread ends after its current step
            self._retired.append(old)
            self.stop_flow()  # its image A was the old scene's
        self.levels = LevelState.all_on(len(snapshot.level_mask), tuple(snapshot.level_mask))
        self._sent_mask = tuple(snapshot.level_mask)
        if not keep_view or self.view_state.dims != snapshot.config.dims:
            self.view_state.reset_for(snapshot)
        self._fit_inside_settings(snapshot)
        self.history = History()
        session.start(paused=False)
        self.window.on_session(session)
        self.status.say(f"{session.name}: {'training' if session.can_train else 'saved model (view only)'}")

    def snapshot(self) -> Any:
        return self.session.latest() if self.session is not None else None

    # ---- training (commands only: the UI never waits for a step)
    def _send(self, command: Any) -> bool:
        if self.session is None or self.session.trainer is None:
            self.status.say("nothing to train: this is a saved model on its own; open its scene to train", True)
            return False
        self.session.trainer.send(command)
        return True

    def pause(self) -> None:
        self._send(Pause())

    def resume(self) -> None:
        self._send(Resume())

    def step(self, count: int = 1) -> None:
        self._send(Step(count))

    def set_learning_rate(self, lr: float) -> None:
        if not (lr > 0 and math.isfinite(lr)):
            self.status.say(f"learning rate must be positive, not {lr}", True)
            return
        self._send(SetLearningRate(float(lr)))

    def set_batch_size(self, batch_size: int) -> None:
        if batch_size < 1:
            self.status.say(f"batch size must be at least 1, not {batch_size}", True)
            return
        self._send(SetBatchSize(int(batch_size)))

    def reset(self) -> None:
        """Start the same field config again from fresh parameters."""
        self.restart_field({})

    def restart_field(self, settings: dict[str, Any]) -> bool:
        """Train a new field on the current scene: the current config with `settings` changed."""
        if self.session is None or self.session.scene is None:
            self.status.say("restart needs a scene to train on", True)
            return False
        current = self.session.latest()
        base = configs.to_dict(current.config)
        if settings.get("kind", base["kind"]) != base["kind"]:  # another kind: its defaults
            base = {"kind": settings["kind"], "dims": base["dims"], "out_dims": base["out_dims"]}
            size = self.session.scene.describe().get("size")
            if size is not None and "size" in {f.name for f in dataclasses.fields(configs.config_class(base["kind"]))}:
                base["size"] = tuple(size)  # kinds laid out on the scene's samples (Laplacian blocks)
        try:
            config = configs.from_dict({**base, **settings})
            train = TrainOptions(lr=current.train.lr, batch_size=current.train.batch_size, seed=current.train.seed)
            session = new_session(
                self.session.scene, train=train, source=self.session.source, config=config, device=self.session.device
            )
        except FieldscopeError as error:
            self.status.say(f"restart: {error}", True)
            return False
        self.switch(session, keep_view=True)
        return True

    # ---- a comparison's tiles
    def show_compare(self, session: Any) -> None:
        """Split the view into `session`'s tiles, one per compared field under the view's camera
        (None: the scene's field again)."""
        self.compare, self._tile_set = session, None
        self.tiles.invalidate()

    def shown_view(self) -> ProgressiveView:
        """The live view on screen: the comparison's tiles, or the scene's field."""
        return self.tiles if self.compare is not None else self.view

    def shown_snapshots(self) -> list[Any]:
        """The fields the view shows: the compared ones, or the scene's."""
        if self.compare is not None:
            return list(self.compare.snapshots())
        return [self.snapshot()] if self.session is not None else []

    def _view_subject(self, snapshot: Any) -> Any:
        """What the shown view draws: the scene's snapshot, or a TileSet of the compared fields'
        (a new one only when one of them or the comparison's state changed)."""
        if self.compare is None:
            return snapshot
        snapshots = tuple(self.compare.snapshots())
        state = "running" if self.compare.running else "paused"
        old = self._tile_set
        if old is None or old.state != state or any(a is not b for a, b in zip(old.snapshots, snapshots, strict=True)):
            self._tile_set = TileSet(snapshots, state, self.compare)
        return self._tile_set

    # ---- levels
    def set_level(self, level: int, on: bool) -> None:
        self.levels = self.levels.toggled(level, on)
        self._sync_mask()

    def set_lod(self, lod: int) -> None:
        self.levels = self.levels.with_lod(lod)
        self._sync_mask()

    def set_schedule(self, on: bool, every: int | None = None) -> None:
        step = self.snapshot().step if self.session else 0
        self.levels = self.levels.with_schedule(on, step, every)
        self._sync_mask()

    def view_mask(self) -> tuple[bool, ...]:
        snapshot = self.snapshot()
        return self.levels.mask(snapshot.step if snapshot is not None else 0)

    def _sync_mask(self) -> None:
        mask = self.view_mask()
        if mask != self._sent_mask and self.session is not None and self.session.trainer is not None:
            self.session.trainer.send(SetLevelMask(mask))
        self._sent_mask = mask

    # ---- view
    def view_options(self) -> Any:
        truth = self.session.ground_truth() if self.session is not None else None
        snapshot = self.snapshot()
        step = snapshot.step if snapshot is not None else 0
        return self.view_state.options(self.view_mask(), truth, self.levels.states(step), self.levels.caption(step))

    def view_picture(self) -> Any:
        """The picture the view last displayed (float32 (H, W, 4), not drawn again): in 2D the part
        showing the scene's extent, in 3D the whole view."""
        picture = self.view.image
        snapshot = self.view.shown_snapshot
        if snapshot is None or int(snapshot.config.dims) != 2:
            return picture.copy()
        from fieldscope.app.render.renderer import image_size

        height, width = picture.shape[:2]
        left, top, right, bottom = self.view.shown[1].scene_rect(width, height, image_size(snapshot))
        return picture[top:bottom, left:right].copy()

    def set_view_mode(self, mode: str) -> None:
        try:
            self.view_state.set_mode(mode)
        except ValueError as error:
            self.status.say(str(error), True)

    # ---- inside the field: heatmaps, Lagrangian points, level strip
    def set_heatmap(self, name: str, level: int | None = None) -> bool:
        """Show a heatmap (renderer HEATMAPS: "none", "collisions", "contribution",
        "points_per_vertex") of `level` (default: the current one). A collision count too large to
        make at once starts as a job (progress bar, cancel)."""
        from fieldscope.app.render.heatmaps import HEATMAPS

        if name not in HEATMAPS:
            self.status.say(f"unknown heatmap {name!r} (known: {', '.join(HEATMAPS)})", True)
            return False
        snapshot = self.snapshot()
        if snapshot is not None and name != "none" and not inside.grid_level_count(snapshot.config):
            self.status.say(inside.heatmap_problem(snapshot.config, name, 0), True)
            return False
        self.view_state.change(heatmap=name)
        if level is not None:
            return self.set_heat_level(level)
        self._count_if_needed()
        return self._say_heat_problem()

    def set_heat_level(self, level: int) -> bool:
        snapshot = self.snapshot()
        top = len(snapshot.level_mask) - 1 if snapshot is not None else 0
        self.view_state.change(heat_level=max(0, min(top, int(level))))
        self._count_if_needed()
        return self._say_heat_problem()

    def _say_heat_problem(self) -> bool:
        """Tell the status bar when the chosen heatmap cannot show the chosen level; False then."""
        snapshot = self.snapshot()
        if snapshot is None:
            return True
        settings = self.view_state.settings
        problem = inside.heatmap_problem(snapshot.config, settings.heatmap, settings.heat_level)
        if problem:
            self.status.say(problem, True)
        return not problem

    def set_heat_opacity(self, opacity: float) -> None:
        self.view_state.change(heat_opacity=float(min(1.0, max(0.0, opacity))))

    def set_heat_scale(self, scale: float) -> None:
        """The contribution at full colour; 0 scales to the view (its 99th percentile)."""
        self.view_state.change(heat_scale=max(0.0, float(scale)))

    def lagrangian_levels(self) -> list[int]:
        """The levels that hold Lagrangian points in the fields shown (empty for other kinds)."""
        levels = {s.level for snapshot in self.shown_snapshots() for s in inside.overlays.lagrangian_levels(snapshot)}
        return sorted(levels)

    def show_points(self, on: bool, level: int | None = None) -> bool:
        """Draw (or hide) the points of one Lagrangian level, or of all of them (level None)."""
        levels = self.lagrangian_levels()
        if on and (not levels or (level is not None and level not in levels)):
            kind = self.snapshot().config.kind if self.session is not None else "no"
            which = f"level {level} has" if levels else f"{kind} fields have"
            self.status.say(f"{which} no Lagrangian points (Gaussian-bucket fields have them)", True)
            return False
        shown = self.view_state.settings.points
        toggles = list(shown) + [False] * (len(levels) - len(shown))
        for i, lvl in enumerate(levels):
            if level is None or lvl == level:
                toggles[i] = bool(on)
        self.view_state.change(points=tuple(toggles[: len(levels)]))
        return True

    def set_sigma_circles(self, on: bool) -> None:
        self.view_state.change(sigma_circles=bool(on))

    def set_level_strip(self, on: bool) -> None:
        self.view_state.level_strip = bool(on)

    def set_legend(self, on: bool) -> None:
        self.view_state.change(legend=bool(on))

    def show_blocks(self, level: int | None) -> bool:
        """Draw the Laplacian blocks of `level` coloured by state (None: no blocks)."""
        snapshot = self.snapshot()
        if level is None or level < 0:
            self.view_state.change(blocks=-1)
            return True
        if snapshot is None or not blocks.has_blocks(snapshot):
            kind = snapshot.config.kind if snapshot is not None else "no"
            self.status.say(f"{kind} fields have no Laplacian blocks (laplacian_blocks fields have)", True)
            return False
        self.view_state.change(blocks=max(0, min(snapshot.config.scales - 1, int(level))))
        return True

    def block_under(self, pointer: tuple[float, float]) -> blocks.BlockInfo | None:
        """The shown level's block under view pixel `pointer` (x, y from the view's top left): in
        2D the image point there, in 3D the slice plane's point."""
        snapshot = self.snapshot()
        state, shown = self.view_state, self.view_state.settings
        if snapshot is None or shown.blocks < 0:
            return None
        if state.dims == 3:
            point = state.camera.slice_point(*state.size, pointer, shown.slice_axis, shown.slice_position)
            return blocks.block_at(snapshot, shown.blocks, point) if point is not None else None
        from fieldscope.app.render.renderer import image_size

        origin, axis_x, axis_y = state.camera.mapping(*state.size, image_size(snapshot))
        u, v = pointer[0] / state.size[0], pointer[1] / state.size[1]
        return blocks.block_at(snapshot, shown.blocks, origin + u * axis_x + v * axis_y)

    def hover(self, pointer: tuple[float, float] | None) -> None:
        """The mouse is over view pixel `pointer` (None: not over the view): with blocks shown, the
        status bar says which block it is, its state and residual error."""
        found = self.block_under(pointer) if pointer is not None else None
        text = found.describe() if found is not None else None
        if text is not None and text != self.hovered:
            self.status.say(text)
        self.hovered = text

    def _fit_inside_settings(self, snapshot: Any) -> None:
        """A new field: points toggles per its Lagrangian levels, heat level within its levels."""
        count = len(inside.overlays.lagrangian_levels(snapshot))
        settings = self.view_state.settings
        self.view_state.change(
            points=(tuple(settings.points) + (False,) * count)[:count],
            heat_level=min(settings.heat_level, max(0, len(snapshot.level_mask) - 1)),
            blocks=min(settings.blocks, snapshot.config.scales - 1) if blocks.has_blocks(snapshot) else -1,
        )
        self._count_if_needed()

    def _count_if_needed(self) -> None:
        snapshot = self.snapshot()
        heatmap = self.view_state.settings.heatmap
        if heatmap != "collisions" or snapshot is None or not inside.grid_level_count(snapshot.config):
            return
        level = self.view_state.settings.heat_level
        key = collisions.level_key(snapshot.config, level)
        if collisions.cached(key) is None and key.countable and not key.interactive:
            self.jobs.start("collisions", inside.count_job(key, level, self.view.invalidate))

    # ---- optical flow from the scene's image (A) to a second image (B)
    def start_flow(self, path: str | Path, mode: str = "translation", **settings: Any) -> bool:
        """Optimise the flow from the current field's image to the image at `path` in the background
        (the Flow window shows it; `settings`: other FlowOptions); bad input is one line in the
        status bar and stops nothing."""
        from fieldscope.app.state.flow import FlowJob, check_pair
        from fieldscope.fields.analysis.flow import FlowOptions
        from fieldscope.fields.scenes.image import load_image

        snapshot = self.snapshot()
        try:
            if snapshot is None:
                raise FieldscopeError("open an image first: the flow goes from its field to the second image")
            options = FlowOptions(mode=mode, **settings)
            target = load_image(path)
            check_pair(snapshot, target, str(path))
        except FieldscopeError as error:
            self.status.say(f"flow: {error}", True)
            return False
        self.stop_flow()
        self.flow = FlowJob(snapshot, target, options, path)
        self.status.say(f"flow to {Path(path).name}: optimising the {mode} motion in the background")
        return True

    def stop_flow(self) -> None:
        """Stop the flow after its current step (its flow so far stays shown)."""
        if self.flow is not None:
            self.flow.stop()

    # ---- exports (jobs: progress bar, cancel)
    def _export(self, name: str, make: Callable[[Any], Any]) -> bool:
        snapshot = self.snapshot()
        if snapshot is None:
            self.status.say(f"{name}: nothing to export yet", True)
            return False
        return self.jobs.start(name, make(snapshot))

    def export_screenshot(self, path: str | Path, legend: bool | None = None) -> bool:
        """The view as shown (full resolution, with its overlays and legends) -> PNG, written
        atomically; `legend` overrides whether the legends are drawn."""
        camera, options = self.view_state.camera, self.view_options()
        if legend is not None:
            options = replace(options, legend=legend)
        return self._export(
            "screenshot", lambda s: export.image_job(self.renderer, s, camera, options, Path(path), "screenshot")
        )

    def export_render(self, path: str | Path, scale: float = 1.0, size: tuple[int, int] = (1920, 1080)) -> bool:
        camera, options = self.view_state.camera, self.view_options()
        return self._export(
            "render", lambda s: export.render_job(self.renderer, s, camera, options, Path(path), scale, size)
        )

    def export_video(self, path: str | Path, frames: int = 48, fps: int = 24) -> bool:
        camera, options = self.view_state.camera, self.view_options()
        return self._export(
            "video", lambda s: export.video_job(self.renderer, s, camera, options, Path(path), frames, fps)
        )

    def export_mesh(self, path: str | Path, resolution: int = 128) -> bool:
        return self._export("mesh", lambda s: export.mesh_job(s, Path(path), resolution))

    def save_snapshot(self, path: str | Path) -> bool:
        return self._export("snapshot", lambda s: export.snapshot_job(s, Path(path)))

    def cancel_job(self) -> None:
        self.jobs.cancel()

    # ---- the loop
    def frame(self) -> None:
        """One UI frame: open what arrived, follow the trainer, draw a little, render the window."""
        started = time.perf_counter()
        budget = IDLE_DRAW_BUDGET if self.idle() else None
        self._poll_opening()
        snapshot = self.snapshot()
        if snapshot is not None:
            if self.levels.schedule:
                self._sync_mask()
            self.history.add(snapshot)
            self.jobs.advance(JOB_BUDGET)
            self.view_state.set_size(self.fixed_view_size or self.window.view_size())
            try:
                changed = self.shown_view().update(
                    self._view_subject(snapshot),
                    self.view_state.camera,
                    self.view_options(),
                    self.view_state.moving,
                    budget,
                )
            except FieldscopeError as error:  # e.g. a kind the view cannot draw: say so, keep running
                changed = False
                if self.status.message != str(error):
                    self.status.say(str(error), True)
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
        return quiet and self._nothing_pending() and self.shown_view().shows_whole_picture

    def _nothing_pending(self) -> bool:
        return (self._opening is None or self._opening.done()) and self._drops.empty() and not self.jobs.busy

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
        self.run_until(lambda: self._opening is None or self._opening.done(), timeout)
        self.frame()  # takes the opened scene
        return self.session is not None

    def settled(self) -> bool:
        """Nothing opening, no job, and the view shows the latest snapshot at full resolution."""
        return self._nothing_pending() and self.view.complete and self.view.shown_snapshot is self.snapshot()

    def close(self) -> None:
        """Stop every trainer thread (and wait for them as long as their step lasts, saying so on the
        terminal: exiting during a step aborts), close the window."""
        self._supersede_opening()
        for session in [*self._retired, self.session]:
            if session is not None:
                session.stop(wait=True, say=_say_on_terminal)
        self._retired = []
        self.stop_flow()
        self.jobs.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.window.close()


def _say_on_terminal(text: str) -> None:
    print(f"fieldscope: {text}", file=sys.stderr, flush=True)
