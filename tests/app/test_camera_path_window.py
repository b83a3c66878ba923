"""The Camera path panel in the window: keyframes from the view, scrubbing moves the view, play
follows the clock, the export job writes the video (progress, cancel leaves nothing), save/load."""

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import imageio.v2 as imageio

from fieldscope.app.render.camera import Camera2D
from fieldscope.app.ui.panels.camera_path import CameraPathPanel
from tests.app.conftest import pause_and_settle


def test_a_camera_path_in_the_window(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    pause_and_settle(app)
    panel = next(p for p in app.window.panels if isinstance(p, CameraPathPanel))
    app.view_state.reset_camera()
    assert panel.add_view() == 0
    app.view_state.set_camera(Camera2D((0.3, 0.4), 4.0))
    assert panel.add_view() == 1
    assert [k.time for k in panel.editor.keys] == [0.0, 1.0]
    panel.scrub_to(0.0)
    assert app.view_state.camera == Camera2D()
    panel.scrub_to(1.0)
    assert app.view_state.camera == Camera2D((0.3, 0.4), 4.0)
    assert not panel.set_time(0.0) and "between its neighbours" in app.status.message
    panel.toggle_play()
    assert panel.editor.playing_since is not None and dpg.get_item_label(panel.play_button) == "Stop"
    app.frame()
    panel.toggle_play()
    assert panel.editor.playing_since is None

    dpg.set_value(panel.fps, 4.0)
    assert panel.export(tmp_path / "path.mp4")
    app.jobs.run_to_end()
    assert "camera path video, 4 frames of 320x240" in app.status.message, app.status.message
    with imageio.get_reader(tmp_path / "path.mp4") as reader:
        frames = [f for f in reader.iter_data()]
    assert len(frames) == 4 and frames[0].shape == (240, 320, 3)

    dpg.set_value(panel.fps, 200.0)
    assert panel.export(tmp_path / "long.mp4")
    app.frame()
    assert app.jobs.busy
    app.jobs.cancel()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["path.mp4"]

    assert panel.save(tmp_path / "path.json")
    panel.delete(0)
    panel.delete(0)
    assert panel.editor.keys == [] and not panel.export(tmp_path / "none.mp4")
    assert "no keyframes" in app.status.message
    assert panel.load(tmp_path / "path.json") and len(panel.editor.keys) == 2
    assert not panel.load(tmp_path / "missing.json") and "missing.json" in app.status.message
