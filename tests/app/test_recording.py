"""The window's Record toggle: while on, each new picture the live view shows of a newer snapshot is
a frame of the video (view size, stamped with the step), written when recording stops; refinements
of a recorded step add nothing; a discarded recording, or one into a missing folder, leaves nothing."""

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import imageio.v2 as imageio
import numpy as np

from fieldscope.app.commands.frames_out import stamp_height
from fieldscope.app.ui.panels.export import ExportPanel
from tests.app.conftest import pause_and_settle, train_steps


def test_record_the_live_view_while_training(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    pause_and_settle(app)
    panel = next(p for p in app.window.panels if isinstance(p, ExportPanel))
    app.exports.folder = tmp_path
    assert panel.set_recording(True) and app.recording.active
    assert app.recording.steps == [0]  # the picture on screen is the first frame
    train_steps(app, 4)
    train_steps(app, 4)
    for _ in range(5):
        app.frame()  # a settled view refines nothing new: no more frames
    steps = app.recording.steps
    assert steps[0] == 0 and steps[-1] == 8 and 4 in steps and steps == sorted(set(steps))
    app.window.refresh(app.snapshot(), False)
    assert dpg.get_value(panel.record)
    assert panel.set_recording(False) and not app.recording.active
    assert f"recorded {len(steps)} frames" in app.status.message
    videos = list(tmp_path.iterdir())
    assert [p.name for p in videos] == ["astronaut-record-step0.mp4"]
    with imageio.get_reader(videos[0]) as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == len(steps) and frames[0].shape == (240, 320, 3)
    band = stamp_height(240)
    assert frames[-1][: band - 2].std() > 10  # the stamp's text
    assert np.abs(frames[0][band:].astype(int) - frames[-1][band:].astype(int)).mean() > 2  # the field learnt

    # a discarded recording leaves nothing; a folder that is not there: one line, not recording
    assert app.recording.start(tmp_path / "dropped.mp4") and app.recording.steps == [8]
    app.recording.discard()
    assert not app.recording.active and app.recording.stop() is None
    assert not app.recording.start(tmp_path / "missing" / "x.mp4") and "does not exist" in app.status.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut-record-step0.mp4"]
