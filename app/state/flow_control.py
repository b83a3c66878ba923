"""The window's optical flow: from the current field's image (A) to a second image (B), optimised
in the background by a FlowJob (app/state/flow.py); the Flow window shows `job`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldscope.app.state.current import Current
from fieldscope.app.state.flow import FlowJob, check_pair
from fieldscope.app.state.status import Status
from fieldscope.fields.analysis.flow import FlowOptions
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.scenes.image import load_image


class Flow:
    """`job`: the latest flow (None before the first; it stays after it ends, its result shown)."""

    def __init__(self, current: Current, status: Status) -> None:
        self.current, self.status = current, status
        self.job: FlowJob | None = None

    def start(self, path: str | Path, mode: str = "translation", **settings: Any) -> bool:
        """Optimise the flow from the current field's image to the image at `path` in the background
        (`settings`: other FlowOptions); bad input is one line in the status bar and stops nothing."""
        snapshot = self.current.snapshot()
        try:
            if snapshot is None:
                raise FieldscopeError("open an image first: the flow goes from its field to the second image")
            options = FlowOptions(mode=mode, **settings)
            target = load_image(path)
            check_pair(snapshot, target, str(path))
        except FieldscopeError as error:
            self.status.say(f"flow: {error}", True)
            return False
        self.stop()
        self.job = FlowJob(snapshot, target, options, path)
        self.status.say(f"flow to {Path(path).name}: optimising the {mode} motion in the background")
        return True

    def stop(self) -> None:
        """Stop the flow after its current step (its flow so far stays shown)."""
        if self.job is not None:
            self.job.stop()
