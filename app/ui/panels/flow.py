"""The Flow window: the flow from the scene's image (A) to a second image (B) while it is optimised
in the background (app/state/flow.py): A's field with the flow as arrows, the flow's colour wheel,
A warped by the flow beside B, and a line of progress. Image B comes from the Scene panel's path box
or a file dropped on the view with Shift held (app/state/flow_control.py)."""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import numpy as np

from fieldscope.app.state.flow import PREVIEW_SIDE, FlowJob, Preview, flow_tiles
from fieldscope.app.state.flow_control import Flow
from fieldscope.app.state.status import Status
from fieldscope.app.ui.panels import WRAP, Panel
from fieldscope.fields.training.trainer import Snapshot

CAPTION = "A's field + flow arrows | colour wheel\nA warped by the flow     | B"


class FlowPanel(Panel):
    def __init__(self, flow: Flow, status: Status) -> None:
        self.flow, self.status = flow, status

    def build(self) -> None:
        side = 2 * PREVIEW_SIDE
        self._pixels = np.zeros(side * side * 4, np.float32)
        self._shown: FlowJob | None = None  # the job whose window was opened
        self._preview: Preview | None = None  # the preview drawn
        self._reported: FlowJob | None = None  # the job whose end the status bar told
        self.magnified = 1.0
        self.picture: np.ndarray | None = None
        self.where: dict[str, tuple[int, int, int, int]] = {}
        with dpg.texture_registry():
            self.texture = dpg.add_raw_texture(side, side, self._pixels, format=dpg.mvFormat_Float_rgba)
        with dpg.window(label="Flow", show=False, width=side + 30, height=side + 140, pos=(420, 80)) as win:
            self.window = win
            dpg.add_image(self.texture, width=side, height=side)
            dpg.add_text(CAPTION)
            self.text = dpg.add_text("", wrap=WRAP)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Stop", callback=lambda *_: self.flow.stop())
                dpg.add_button(label="Close", callback=lambda *_: self.close())

    def close(self) -> None:
        """Stop the flow and hide its window (for good: a refresh reopens it for a newer job only)."""
        self.flow.stop()
        self._shown = self.flow.job
        dpg.configure_item(self.window, show=False)

    def refresh(self, snapshot: Snapshot) -> None:
        job = self.flow.job
        if job is None:
            return
        preview = job.preview()
        if not dpg.is_item_shown(self.window) and self._shown is not job:
            dpg.configure_item(self.window, show=True)  # a new flow opens the window once
        if preview is not None and preview is not self._preview:
            self.draw(job)
        arrows = f"\narrows drawn {self.magnified:.3g}x the flow" if preview is not None else ""
        dpg.set_value(self.text, job.label() + arrows + (f"\n{job.error}" if job.error else ""))
        if not job.running and self._reported is not job:
            self.status.say(job.label() + (f": {job.error}" if job.error else ""), bool(job.error))
            self._reported = job
        self._shown = job

    def draw(self, job: FlowJob) -> np.ndarray | None:
        """The job's latest preview as tiles, into the window's texture."""
        preview = job.preview()
        if preview is None:
            return None
        self.picture, self.where, self.magnified = flow_tiles(preview, job.target.shape[1])
        self._preview = preview
        np.copyto(self._pixels, self.picture.reshape(-1))
        dpg.set_value(self.texture, self._pixels)
        return self.picture
