"""Camera path panel: keyframes from the view's camera (add, delete, reorder, set a keyframe's time),
a scrubber, play and loop, save/load a camera_path.json, and the export job (progress in the status
bar, Cancel). In 3D the keyframes are drawn as small frusta over the view (`view_rect` says where
the view's picture is on the screen). The state is app/state/camera_path.py's PathEditor; the
view, the jobs and the status bar are reached through Exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from fieldscope.app.state.camera_path import PathEditor, path_video_job
from fieldscope.app.state.exports import Exports
from fieldscope.app.state.session import Session
from fieldscope.app.ui.panels import Panel
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.training.trainer import Snapshot

FRUSTUM_COLOUR = (255, 190, 60, 220)


class CameraPathPanel(Panel):
    def __init__(self, exports: Exports, view_rect: Callable[[], tuple[int, int, int, int] | None]) -> None:
        self.exports, self.view_rect = exports, view_rect
        self.view_state = exports.views.view_state
        self.editor = PathEditor()
        self.selected = -1

    def build(self) -> None:
        with dpg.collapsing_header(label="Camera path", default_open=False) as self.header:
            with dpg.group(horizontal=True):
                dpg.add_button(label="Add view", callback=lambda *_: self.add_view())
                dpg.add_button(label="Delete", callback=lambda *_: self.delete(self.selected))
                dpg.add_button(label="Up", callback=lambda *_: self.move(self.selected, -1))
                dpg.add_button(label="Down", callback=lambda *_: self.move(self.selected, 1))
            self.list = dpg.add_listbox(items=[], num_items=4, width=-1, callback=lambda s, v: self.select(v))
            self.key_time = dpg.add_input_float(
                label="key time (s)", width=120, step=0, on_enter=True, callback=lambda s, v: self.set_time(v)
            )
            self.scrub = dpg.add_slider_float(
                label="time", min_value=0.0, max_value=1.0, width=-60, callback=lambda s, v: self.scrub_to(v)
            )
            with dpg.group(horizontal=True):
                self.play_button = dpg.add_button(label="Play", callback=lambda *_: self.toggle_play())
                self.loop = dpg.add_checkbox(label="loop", callback=lambda s, v: self.set_loop(v))
                self.length = dpg.add_input_float(
                    label="s", width=70, step=0, on_enter=True, callback=lambda s, v: self.set_length(v)
                )
                self.fps = dpg.add_input_float(label="fps", default_value=24.0, width=60, step=0)
            self.file = dpg.add_input_text(label="file", default_value=str(Path.cwd() / "camera_path"), width=-40)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Export video", callback=lambda *_: self.export(self.target(".mp4")))
                dpg.add_button(label="Cancel", callback=lambda *_: self.exports.jobs.cancel())
                dpg.add_button(label="Save", callback=lambda *_: self.save(self.target(".json")))
                dpg.add_button(label="Load", callback=lambda *_: self.load(self.target(".json")))
        self.drawlist = dpg.add_viewport_drawlist(front=True)

    def target(self, suffix: str) -> Path:
        return Path(dpg.get_value(self.file)).expanduser().with_suffix(suffix)

    # ---- actions (also called by tests)
    def _guard(self, action: Any) -> bool:
        try:
            action()
        except FieldscopeError as error:
            self.exports.status.say(f"camera path: {error}", True)
            return False
        self.show()
        return True

    def add_view(self) -> int:
        self._guard(lambda: setattr(self, "selected", self.editor.add(self.view_state.camera)))
        return self.selected

    def delete(self, index: int) -> None:
        if 0 <= index < len(self.editor.keys):
            self.editor.delete(index)
            self.selected = min(index, len(self.editor.keys) - 1)
            self.show()

    def move(self, index: int, step: int) -> None:
        if 0 <= index + step < len(self.editor.keys):
            self.editor.move(index, step)
            self.selected = index + step
            self.show()

    def select(self, label: str) -> None:
        self.selected = int(label.split(":")[0]) - 1
        self.scrub_to(self.editor.keys[self.selected].time)

    def set_time(self, seconds: float) -> bool:
        return self._guard(lambda: self.editor.set_time(self.selected, float(seconds)))

    def set_loop(self, loop: bool) -> None:
        self.editor.set_loop(bool(loop))
        self.show()

    def set_length(self, seconds: float) -> bool:
        def change() -> None:
            previous, self.editor.seconds = self.editor.seconds, float(seconds)
            try:
                self.editor.path()
            except FieldscopeError:
                self.editor.seconds = previous
                raise

        return self._guard(change)

    def scrub_to(self, seconds: float) -> None:
        self.editor.stop()
        self.editor.time = float(seconds)
        if self.editor.keys:
            self._guard(lambda: self.view_state.set_camera(self.editor.camera_at(self.editor.time)))

    def toggle_play(self) -> None:
        if self.editor.playing_since is None and self.editor.keys:
            self.editor.play()
        else:
            self.editor.stop()
        self.show()

    def export(self, path: Path) -> bool:
        exports = self.exports
        snapshot, options = exports.current.snapshot(), exports.views.options()
        fps = float(dpg.get_value(self.fps))
        if snapshot is None:
            exports.status.say("camera path video: nothing to export yet", True)
            return False
        try:
            steps = path_video_job(exports.renderer, snapshot, self.editor, options, path, fps)
        except FieldscopeError as error:
            exports.status.say(f"camera path video: {error}", True)
            return False
        return exports.jobs.start("camera path video", steps)

    def save(self, path: Path) -> bool:
        width, height = self.view_state.size
        return self._guard(lambda: self.editor.save(path, width, height, self._facts("world_from_unit")))

    def load(self, path: Path) -> bool:
        return self._guard(lambda: self.editor.load(path, self._facts("unit_from_world")))

    def _facts(self, key: str) -> Any:
        snapshot = self.exports.current.snapshot()
        facts = snapshot.scene if snapshot is not None and snapshot.scene else {}
        return facts.get(key) if facts.get("task") == "nerf" else None

    # ---- showing
    def show(self) -> None:
        editor = self.editor
        labels = [f"{i + 1}: {k.time:.2f} s" for i, k in enumerate(editor.keys)]
        dpg.configure_item(self.list, items=labels)
        if 0 <= self.selected < len(labels):
            dpg.set_value(self.list, labels[self.selected])
            dpg.set_value(self.key_time, editor.keys[self.selected].time)
        dpg.configure_item(self.scrub, max_value=max(editor.seconds, 1e-3))
        dpg.set_value(self.scrub, editor.time)
        dpg.set_value(self.length, editor.seconds)
        dpg.set_value(self.loop, editor.loop)
        dpg.configure_item(self.play_button, label="Stop" if editor.playing_since is not None else "Play")

    def refresh(self, snapshot: Snapshot) -> None:
        camera = self.editor.tick()
        if camera is not None:
            self.view_state.set_camera(camera)
            dpg.set_value(self.scrub, self.editor.time)
            if self.editor.playing_since is None:
                self.show()
        self.draw_frusta()

    def draw_frusta(self) -> None:
        dpg.delete_item(self.drawlist, children_only=True)
        camera = self.view_state.camera
        rect = self.view_rect()
        if not self.editor.keys or not hasattr(camera, "basis") or rect is None:
            return
        if not dpg.get_value(self.header) or self.exports.views.compare is not None:
            return
        x, y, width, height = rect
        segments = self.editor.frusta(camera, width, height)
        inside = np.all((segments >= -width) & (segments <= 2 * max(width, height)), axis=(1, 2))
        for (x0, y0), (x1, y1) in segments[inside]:
            dpg.draw_line((x + x0, y + y0), (x + x1, y + y1), color=FRUSTUM_COLOUR, thickness=1.5, parent=self.drawlist)

    def on_session(self, session: Session) -> None:
        dims = int(session.latest().config.dims)
        if self.editor.keys and self.editor.path().dims != dims:
            self.editor = PathEditor()
            self.selected = -1
            self.show()
