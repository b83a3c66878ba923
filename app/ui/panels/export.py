"""Export panel: PNG of the view, full-resolution render, zoom/turntable video, the Record toggle
(the live view to a video while the field trains), mesh (3D), save and load snapshots. Files go to
the folder in the box, named after the scene and the step."""

from __future__ import annotations

from pathlib import Path

import dearpygui.dearpygui as dpg

from fieldscope.app.state.exports import Exports
from fieldscope.app.state.opening import Opening
from fieldscope.app.state.recording import Recording
from fieldscope.app.state.session import Session
from fieldscope.app.ui.panels import Panel
from fieldscope.fields.training.trainer import Snapshot


class ExportPanel(Panel):
    def __init__(self, exports: Exports, opening: Opening, recording: Recording) -> None:
        self.exports, self.opening, self.recording = exports, opening, recording

    def build(self) -> None:
        exports = self.exports
        with dpg.collapsing_header(label="Export", default_open=False):
            self.folder = dpg.add_input_text(
                label="folder",
                default_value=str(exports.folder),
                width=-60,
                callback=lambda s, text: setattr(exports, "folder", Path(text)),
            )
            dpg.add_button(
                label="Screenshot of the view (PNG)", callback=lambda *_: exports.screenshot(exports.name("png"))
            )
            with dpg.group(horizontal=True):
                dpg.add_button(
                    label="Render full resolution",
                    callback=lambda *_: exports.render(exports.name("png", "render"), dpg.get_value(self.scale)),
                )
                self.scale = dpg.add_input_float(label="x size", default_value=1.0, width=70, step=0)
            with dpg.group(horizontal=True):
                dpg.add_button(
                    label="Video (zoom / turntable)",
                    callback=lambda *_: exports.video(exports.name("mp4"), dpg.get_value(self.frames)),
                )
                self.frames = dpg.add_input_int(label="frames", default_value=48, width=70, step=0)
            self.record = dpg.add_checkbox(
                label="Record the view while training (video)", callback=lambda s, on: self.set_recording(on)
            )
            self.mesh = dpg.add_button(label="Mesh (.ply)", callback=lambda *_: exports.mesh(exports.name("ply")))
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save snapshot", callback=lambda *_: exports.snapshot(exports.name("fsnap")))
                dpg.add_button(label="Load snapshot...", callback=lambda *_: dpg.show_item(self.dialog))
        with dpg.file_dialog(
            show=False, width=700, height=450, callback=lambda s, data: self._load(data.get("file_path_name", ""))
        ) as self.dialog:
            dpg.add_file_extension(".fsnap")

    def set_recording(self, on: bool) -> bool:
        """The Record toggle: start recording into <folder>/<scene>-record-step<step>.mp4, or stop."""
        if not on:
            self.recording.stop()
            return True
        started = self.recording.start(self.exports.name("mp4", "record"))
        dpg.set_value(self.record, started)
        return started

    def _load(self, path: str) -> None:
        self.opening.open(path)

    def on_session(self, session: Session) -> None:
        dpg.configure_item(self.mesh, show=session.latest().config.dims == 3)

    def refresh(self, snapshot: Snapshot) -> None:
        """The folder the exports go to (set by scripts too), unless the user is typing in it."""
        if not dpg.is_item_active(self.folder) and dpg.get_value(self.folder) != str(self.exports.folder):
            dpg.set_value(self.folder, str(self.exports.folder))
        if dpg.get_value(self.record) != self.recording.active:  # stopped by a new scene, or by a script
            dpg.set_value(self.record, self.recording.active)
