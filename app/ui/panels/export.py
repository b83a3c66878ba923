"""Export panel: PNG of the view, full-resolution render, zoom/turntable video, mesh (3D), save and
load snapshots. Files go to the folder in the box, named after the scene and the step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from fieldscope.app.ui.panels import Panel


class ExportPanel(Panel):
    def build(self) -> None:
        app = self.app
        with dpg.collapsing_header(label="Export", default_open=False):
            self.folder = dpg.add_input_text(label="folder", default_value=str(Path.cwd()), width=-60)
            dpg.add_button(
                label="Screenshot of the view (PNG)", callback=lambda *_: app.export_screenshot(self.name("png"))
            )
            with dpg.group(horizontal=True):
                dpg.add_button(
                    label="Render full resolution",
                    callback=lambda *_: app.export_render(self.name("png", "render"), dpg.get_value(self.scale)),
                )
                self.scale = dpg.add_input_float(label="x size", default_value=1.0, width=70, step=0)
            with dpg.group(horizontal=True):
                dpg.add_button(
                    label="Video (zoom / turntable)",
                    callback=lambda *_: app.export_video(self.name("mp4"), dpg.get_value(self.frames)),
                )
                self.frames = dpg.add_input_int(label="frames", default_value=48, width=70, step=0)
            self.mesh = dpg.add_button(label="Mesh (.ply)", callback=lambda *_: app.export_mesh(self.name("ply")))
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save snapshot", callback=lambda *_: app.save_snapshot(self.name("fsnap")))
                dpg.add_button(label="Load snapshot...", callback=lambda *_: dpg.show_item(self.dialog))
        with dpg.file_dialog(
            show=False, width=700, height=450, callback=lambda s, data: app.open(data.get("file_path_name", ""))
        ) as self.dialog:
            dpg.add_file_extension(".fsnap")

    def name(self, suffix: str, what: str = "") -> Path:
        snapshot = self.app.snapshot()
        stem = Path(self.app.session.name).stem if self.app.session else "fieldscope"
        tag = f"-{what}" if what else ""
        return (
            Path(dpg.get_value(self.folder)).expanduser()
            / f"{stem}{tag}-step{snapshot.step if snapshot else 0}.{suffix}"
        )

    def on_session(self, session: Any) -> None:
        dpg.configure_item(self.mesh, show=session.latest().config.dims == 3)
