"""Scene panel: open (file dialog), path box, recent files, task type, scene facts, and image B of
an optical flow (path box and mode)."""

from __future__ import annotations

from pathlib import Path

import dearpygui.dearpygui as dpg

from fieldscope.app.state.current import Current
from fieldscope.app.state.flow_control import Flow
from fieldscope.app.state.opening import Opening
from fieldscope.app.state.session import Session, describe_scene
from fieldscope.app.state.status import Status
from fieldscope.app.ui.panels import WRAP, Panel
from fieldscope.fields.analysis.flow import MODES as FLOW_MODES
from fieldscope.fields.scenes import TASKS
from fieldscope.fields.training.trainer import Snapshot

AUTO = "detect"


class ScenePanel(Panel):
    def __init__(self, opening: Opening, current: Current, flow: Flow, status: Status) -> None:
        self.opening, self.current, self.flow, self.status = opening, current, flow, status

    def build(self) -> None:
        with dpg.collapsing_header(label="Scene", default_open=True):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Open...", callback=lambda *_: dpg.show_item(self.dialog))
                dpg.add_button(label="Folder...", callback=lambda *_: dpg.show_item(self.folder_dialog))
                self.task = dpg.add_combo([AUTO, *TASKS], default_value=AUTO, width=-1, label="")
            self.path = dpg.add_input_text(
                hint="path of an image, data folder, .fsnap or sweep folder (Enter opens)",
                width=-1,
                on_enter=True,
                callback=lambda *_: self._open(dpg.get_value(self.path)),
            )
            self.recent = dpg.add_combo([], label="recent", width=-60, callback=lambda s, a: self._open(a))
            self.flow_path = dpg.add_input_text(
                hint="image B: flow from this image to B (Enter starts; or Shift+drop B on the view)",
                width=-1,
                on_enter=True,
                callback=lambda *_: self.start_flow(),
            )
            with dpg.group(horizontal=True):
                self.flow_mode = dpg.add_combo(list(FLOW_MODES), default_value=FLOW_MODES[0], width=110, label="")
                dpg.add_button(label="Flow to B", callback=lambda *_: self.start_flow())
            self.facts = dpg.add_text("", wrap=WRAP)
        self.dialog = self._file_dialog(directory=False)
        self.folder_dialog = self._file_dialog(directory=True)
        dpg.configure_item(self.recent, items=self.opening.recent)

    def _file_dialog(self, directory: bool) -> int:
        with dpg.file_dialog(
            show=False,
            directory_selector=directory,
            width=700,
            height=450,
            callback=lambda s, data: self._open(data.get("file_path_name", "")),
        ) as dialog:
            if not directory:
                dpg.add_file_extension("Scenes and models{.png,.jpg,.jpeg,.webp,.tif,.tiff,.exr,.bmp,.fsnap}")
                dpg.add_file_extension(".*")
        return dialog

    def _open(self, path: str) -> None:
        path = path.strip()
        if path:
            task = dpg.get_value(self.task)
            self.opening.open(Path(path), None if task == AUTO else task)

    def start_flow(self) -> bool:
        path = dpg.get_value(self.flow_path).strip()
        if not path:
            self.status.say("flow: type the path of image B first", True)
            return False
        return self.flow.start(Path(path).expanduser(), dpg.get_value(self.flow_mode))

    def on_session(self, session: Session) -> None:
        dpg.configure_item(self.recent, items=self.opening.recent)
        if session.source is not None:
            dpg.set_value(self.path, str(session.source))

    def refresh(self, snapshot: Snapshot) -> None:
        rows = describe_scene(snapshot)
        name = self.current.session.name if self.current.session else ""
        dpg.set_value(self.facts, "\n".join([name, *(f"{k}: {v}" for k, v in rows)]))
