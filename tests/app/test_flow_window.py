"""The window's Flow mode (under Xvfb): image B from the Scene panel's path box or a Shift+drop, the
flow optimised in the background while the trainer goes on, the Flow window's colour wheel is the
job's flow, its warped picture is A's field sampled at x + d(x), bad B is one line."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import imageio.v3 as iio
import numpy as np
import torch

from fieldscope.app.state.flow import to_rgba
from fieldscope.app.ui.panels.flow import FlowPanel
from fieldscope.app.ui.panels.scene import ScenePanel
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.analysis import flow
from fieldscope.fields.scenes.image import load_image
from tests.app.conftest import train_steps

SHIFT = (2.6, -1.8)  # pixels, B(x) = A(x + SHIFT)
TRAINED = 80  # steps of A's field before the flow


def panel(app: Any, kind: type) -> Any:
    return next(p for p in app.window.panels if isinstance(p, kind))


def write_shifted(astronaut: Path, path: Path) -> Path:
    a = load_image(astronaut)
    b = flow.shift_image(a, np.broadcast_to(np.float32(SHIFT), (*a.shape[:2], 2)).copy())
    iio.imwrite(path, (b * 255 + 0.5).astype(np.uint8))
    return path


def test_flow_from_the_path_box_shows_its_wheel_and_warped_a(
    image_app: Any, astronaut_path: Path, tmp_path: Path
) -> None:
    app = image_app
    b = write_shifted(astronaut_path, tmp_path / "shifted.png")
    start = train_steps(app, TRAINED)  # A's field shows the image
    scene, window = panel(app, ScenePanel), panel(app, FlowPanel)
    dpg.set_value(scene.flow_path, str(b))
    assert scene.start_flow(), app.status.message  # what Enter in the box and the button do
    job = app.flow.job
    app.training.resume()
    step = start.step
    try:
        assert app.run_until(lambda: window.picture is not None and job.preview() is not None, 120)
        assert app.run_until(lambda: not job.running, 300), job.label()
        assert job.error == "" and job.result is not None
        assert app.run_until(lambda: app.snapshot().step > step, 120)  # the trainer goes on
        assert app.run_until(lambda: window._preview is job.preview(), 10)
        preview = job.preview()
        assert preview.done and dpg.is_item_shown(window.window)

        x, y, w, h = window.where["wheel"]
        assert np.abs(window.picture[y : y + h, x : x + w] - to_rgba(flow.colour_wheel(preview.flow))).max() < 1e-6
        shown = window._pixels.reshape(window.picture.shape)
        assert np.array_equal(shown, window.picture)  # what the texture holds

        field = snapshots.field_from(start)  # A's field when the flow started, evaluated here
        field.eval()
        height, width = job.target.shape[:2]
        grid = job.grid.numpy().reshape(h, w, 2)
        q = torch.from_numpy((grid + preview.flow).reshape(-1, 2) / np.float32([width, height]))
        with torch.no_grad():
            expected = field(q).numpy().reshape(h, w, -1)
        x, y, w, h = window.where["warped"]
        assert np.abs(window.picture[y : y + h, x : x + w, :3] - np.clip(expected, 0, 1)).max() < 1e-4

        truth = np.broadcast_to(np.float32(SHIFT), job.result.flow.shape)
        valid = job.result.valid
        error = flow.end_point_error(job.result.flow, truth, valid)
        assert error < 0.5 < flow.end_point_error(np.zeros_like(truth), truth, valid), (error, job.result.summary())
        assert "done 100%" in app.status.message and "translation flow to shifted.png" in app.status.message
        app.window.screenshot(tmp_path / "flow_window.png")
    finally:
        window.close()
        assert not dpg.is_item_shown(window.window)


def test_bad_image_b_is_one_line_and_stops_nothing(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    small = tmp_path / "small.png"
    iio.imwrite(small, np.zeros((80, 100, 3), np.uint8))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    app.training.resume()
    before, step = app.flow.job, app.snapshot().step
    for path, words in ((small, "small.png is 100x80 but the scene's image is 512x512"), (text, "notes.png")):
        assert not app.flow.start(path)
        assert words in app.status.message and "\n" not in app.status.message and app.status.is_error
        assert app.flow.job is before
    assert not app.flow.start(small, "sideways")
    assert "unknown flow mode 'sideways'" in app.status.message
    assert app.run_until(lambda: app.snapshot().step > step + 1, 60)  # the trainer goes on


def test_a_drop_with_shift_held_is_image_b(image_app: Any, drop_files: Any, astronaut_path: Path, tmp_path: Path):
    from Xlib import XK, X
    from Xlib import display as xdisplay
    from Xlib.ext import xtest

    from fieldscope.app.ui import drop

    app = image_app
    b = write_shifted(astronaut_path, tmp_path / "dropped_b.png")
    target = drop.x11_window()
    assert app.window.drop_hook and target
    keys = xdisplay.Display()
    shift = keys.keysym_to_keycode(XK.XK_Shift_L)
    session = app.session
    xtest.fake_input(keys, X.KeyPress, shift)
    keys.sync()
    try:
        done: dict[str, bool] = {}
        dropper = threading.Thread(target=lambda: done.setdefault("finished", drop_files(target, [b])))
        dropper.start()
        started = app.run_until(lambda: app.flow.job is not None and app.flow.job.source == b, 60)
        dropper.join(30)
    finally:
        xtest.fake_input(keys, X.KeyRelease, shift)
        keys.sync()
        keys.close()
    assert started and done.get("finished"), app.status.message
    assert app.session is session  # not opened as a scene
    window = panel(app, FlowPanel)
    window.close()  # before the window's first refresh saw the job: it stays closed
    assert not app.flow.job.running
    for _ in range(5):
        app.frame()
    assert not dpg.is_item_shown(window.window)
