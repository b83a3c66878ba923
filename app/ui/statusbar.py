"""The status bar: what is happening, every error (red), and the running job's progress."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from fieldscope.app.state.jobs import Jobs
from fieldscope.app.state.status import Status

ERROR_COLOUR = (255, 110, 100)
TEXT_COLOUR = (220, 220, 220)


class StatusBar:
    def __init__(self, status: Status, jobs: Jobs) -> None:
        self.status, self.jobs = status, jobs

    def build(self) -> None:
        with dpg.group(horizontal=True):
            self.progress = dpg.add_progress_bar(width=180, show=False)
            self.cancel = dpg.add_button(label="cancel", show=False, callback=lambda *_: self.jobs.cancel())
            self.text = dpg.add_text("starting")

    def refresh(self) -> None:
        status, job = self.status, self.jobs.current
        dpg.set_value(self.text, status.message)
        dpg.configure_item(self.text, color=ERROR_COLOUR if status.is_error else TEXT_COLOUR)
        dpg.configure_item(self.progress, show=job is not None)
        dpg.configure_item(self.cancel, show=job is not None)
        if job is not None:
            dpg.set_value(self.progress, job.progress)
            dpg.configure_item(self.progress, overlay=f"{job.name} {100 * job.progress:.0f}%")
