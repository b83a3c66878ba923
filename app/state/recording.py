"""The window's Record toggle: while it is on, the live view is recorded to a video as the field
trains. Nothing is drawn for it: each whole picture the field view puts on screen of a newer
snapshot than the last one recorded (the live view draws those from the trainer's published
snapshots anyway, every refresh interval) becomes a frame, with the overlays the Inside and Blocks
panels show (the legends only on full-resolution pictures, as on screen), stamped with the step,
the seconds of training and the scene's headline metric. The video (H.264 through FrameSink) is
written atomically: it appears when recording stops, and a recording without frames leaves nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fieldscope.app.commands.frames_out import FrameSink, headline_metric, stamp, stamp_text
from fieldscope.app.state.shown import Views
from fieldscope.app.state.status import Status
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.training.trainer import Snapshot

#: Frames per second of a recording.
RECORD_FPS = 10.0


class Recording:
    """`steps`: the training step of every frame recorded so far (empty when not recording)."""

    def __init__(self, views: Views, status: Status) -> None:
        self.views, self.status = views, status
        self.sink: FrameSink | None = None
        self.path: Path | None = None
        self.size = (0, 0)
        self.steps: list[int] = []
        self._seen = -1  # the field view's picture count at the last look

    @property
    def active(self) -> bool:
        return self.sink is not None

    def start(self, path: str | Path, fps: float = RECORD_FPS) -> bool:
        """Record the field view into `path` (a video file, or DIR/ for PNG frames) at the view's
        size (even sides); the picture on screen now is the first frame. False (and a line in the
        status bar) when the file cannot be written."""
        if self.active:
            self.stop()
        width, height = (max(2, side // 2 * 2) for side in self.views.view_state.size)
        try:
            self.sink = FrameSink(str(path), width, height, fps)
        except FieldscopeError as error:
            self.status.say(f"record: {error}", True)
            return False
        self.path, self.size, self.steps, self._seen = Path(path), (width, height), [], -1
        self.status.say(f"recording the view -> {path}")
        self.capture()
        return True

    def capture(self) -> bool:
        """Called every UI frame: record the field view's picture when it is a new whole picture of a
        newer snapshot; True when a frame was added."""
        view = self.views.field
        if self.sink is None or view.pictures == self._seen or self.views.compare is not None:
            return False
        self._seen = view.pictures
        snapshot = view.shown_snapshot
        if not isinstance(snapshot, Snapshot) or not view.shows_whole_picture:
            return False
        if self.steps and snapshot.step <= self.steps[-1]:
            return False  # a refinement of a picture already recorded
        frame = self.frame(view.image)
        task = str(snapshot.scene.get("task", "")) if snapshot.scene else ""
        try:
            self.sink.add(stamp(frame, stamp_text(snapshot, headline_metric(task))))
        except (OSError, RuntimeError) as error:  # the encoder or the disk gave up
            self.discard()
            self.status.say(f"record: could not write ({error})", True)
            return False
        self.steps.append(snapshot.step)
        return True

    def frame(self, picture: np.ndarray) -> np.ndarray:
        """The view's picture (H, W, 4) float32 -> a frame (h, w, 3) uint8 of the recording's size
        (the window resized since it started: scaled to it)."""
        rgb = to_uint8(picture[..., :3])
        width, height = self.size
        if rgb.shape[:2] == (height, width):
            return rgb
        return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))

    def stop(self) -> Path | None:
        """Finish the video (renamed into place); its path, or None when nothing was recorded."""
        sink, self.sink = self.sink, None
        if sink is None:
            return None
        if not self.steps:
            sink.discard()
            self.status.say("record: no frames (the view showed no newer snapshot); nothing written")
            return None
        try:
            target = sink.finish()
        except (OSError, RuntimeError) as error:
            sink.discard()
            self.status.say(f"record: could not write ({error})", True)
            return None
        self.status.say(f"recorded {len(self.steps)} frames (steps {self.steps[0]}-{self.steps[-1]}) -> {target}")
        return target

    def discard(self) -> None:
        """Stop without writing anything."""
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.discard()
