"""The window, driven through the App's methods (what the UI callbacks call), in a real
DearPyGui window under Xvfb + Mesa llvmpipe."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from fieldscope.app.render.renderer import image_size
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.pixels import to_uint8
from tests.app.conftest import ASTRONAUT, open_fresh, pause_and_settle, train_steps

#: Steps of the default field on the bundled image before its picture is compared with the image.
TRAINED = 30


def torch_view(app: Any, snapshot: Any, mask: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
    """What the 2D view should show: the torch field at the view's pixel centers (clipped to [0,1]),
    and where those pixels fall inside the image."""
    coords = app.view_state.camera.field_coords(*app.view_state.size, image_size(snapshot))
    field = snapshots.field_from(snapshot, impl="torch")
    field.set_level_mask(mask)
    with torch.no_grad():
        values = field(torch.from_numpy(coords.reshape(-1, 2))).numpy().reshape(*coords.shape[:2], -1)
    inside = np.all((coords >= 0.0) & (coords <= 1.0), axis=-1)
    return np.clip(values, 0.0, 1.0), inside


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10.0 * math.log10(1.0 / float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def screen_shows_the_renderer(app: Any, snapshot: Any, tmp_path: Path) -> np.ndarray:
    """The real window as the screen shows it, cropped to the view, (240, 320, 3) int; asserts it
    is the renderer's picture of `snapshot`."""
    shot = iio.imread(app.window.screenshot(tmp_path / "window.png"))[..., :3]
    x, y, w, h = app.window.view_rect()
    on_screen = shot[y : y + h, x : x + w].astype(int)
    offscreen = to_uint8(app.renderer.draw(snapshot, app.view_state.camera, app.views.options())[..., :3]).astype(int)
    assert on_screen.shape == offscreen.shape == (240, 320, 3)
    difference = np.abs(on_screen - offscreen)
    assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 3
    return on_screen


def test_trains_the_default_scene_and_the_screen_shows_the_renderers_picture(
    image_app: Any, astronaut_path: Path, tmp_path: Path
) -> None:
    app = image_app
    snapshot = train_steps(app, TRAINED)
    assert app.view.shown_snapshot is snapshot
    assert snapshot.metrics["psnr"] > 22.0, snapshot.metrics  # 24.7 dB here
    on_screen = screen_shows_the_renderer(app, snapshot, tmp_path)
    # and it resembles the target image
    h, w = on_screen.shape[:2]
    coords = app.view_state.camera.field_coords(w, h, image_size(snapshot))
    inside = np.all((coords > 0.0) & (coords < 1.0), axis=-1)
    target = iio.imread(astronaut_path)[..., :3]
    rows = (coords[..., 1] * target.shape[0]).astype(int).clip(0, target.shape[0] - 1)
    cols = (coords[..., 0] * target.shape[1]).astype(int).clip(0, target.shape[1] - 1)
    assert psnr(on_screen[inside] / 255.0, target[rows, cols][inside] / 255.0) > 20.0


def test_level_toggles_and_lod_change_the_view_as_torch_predicts(image_app: Any) -> None:
    app = image_app
    train_steps(app, 15)  # level 5 alone then changes the picture by 0.08 or more (0.02 after 5 steps)
    before = app.view.image.copy()
    levels = app.levels.state.levels
    app.overlays.set_level_strip(False)  # the strip would cover part of the picture compared with torch
    for change, expected_mask in [
        (lambda: app.levels.set_level(5, False), tuple(level != 5 for level in range(levels))),
        (lambda: app.levels.set_lod(4), tuple(level <= 4 for level in range(levels))),
    ]:
        change()
        assert app.levels.mask() == expected_mask
        assert app.run_until(lambda m=expected_mask: app.snapshot().level_mask == m and app.settled(), 60)
        snapshot = app.snapshot()
        expected, inside = torch_view(app, snapshot, expected_mask)
        shown = app.view.image[..., :3]
        assert np.abs(shown[inside] - expected[inside]).max() <= 1e-3
        assert np.abs(shown - before[..., :3]).max() > 0.05  # the change is visible
        before = app.view.image.copy()


def test_coarse_to_fine_schedule_adds_levels_as_training_goes(image_app: Any) -> None:
    app = image_app
    app.levels.set_schedule(True, every=2)
    assert sum(app.levels.mask()) == 2
    train_steps(app, 4)
    assert app.run_until(lambda: sum(app.snapshot().level_mask) == 4, 30)  # the trainer got the schedule's masks
    app.levels.set_schedule(False)
    assert all(app.levels.mask())


def write_gradient(path: Path) -> Path:
    x = np.linspace(0, 255, 64, dtype=np.uint8)
    iio.imwrite(path, np.stack(np.broadcast_arrays(x[None, :], x[:48, None], 128), axis=-1).astype(np.uint8))
    return path


def drop_while_running(app: Any, drop_files: Any, target: int, path: Path, condition: Any) -> bool:
    """Drop `path` from another X client while the window runs its frames (GLFW answers the drag
    messages inside them); True when the drop finished and condition() came true."""
    done: dict[str, bool] = {}
    dropper = threading.Thread(target=lambda: done.setdefault("finished", drop_files(target, [path])))
    dropper.start()
    happened = app.run_until(lambda: "finished" in done and condition(), 60)
    dropper.join(30)
    return happened and done.get("finished", False)


def test_a_desktop_drop_opens_an_image_and_a_damaged_one_shows_the_error(
    image_app: Any, drop_files: Any, tmp_path: Path
) -> None:
    from Xlib import display as xdisplay

    from fieldscope.app.ui import drop

    app = image_app
    target = drop.x11_window()
    assert app.window.drop_hook and target
    names = xdisplay.Display()
    window = names.create_resource_object("window", target)
    title = window.get_full_property(names.intern_atom("_NET_WM_NAME"), 0).value.decode()
    names.close()
    assert title.startswith("fieldscope") and ASTRONAUT in title

    image = write_gradient(tmp_path / "gradient.png")
    assert drop_while_running(app, drop_files, target, image, lambda: app.session.name == "gradient.png")
    assert train_steps(app, 2).step == 2

    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    session, errors = app.session, len(app.status.errors)
    assert drop_while_running(app, drop_files, target, damaged, lambda: len(app.status.errors) > errors)
    assert "damaged.png" in app.status.message and "not a readable image" in app.status.message
    assert app.session is session
    step = app.snapshot().step
    app.training.resume()
    assert app.run_until(lambda: app.snapshot().step > step + 1, 60)  # the old scene trains on


def write_newer_snapshot(snapshot: Any, path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with monkeypatch.context() as patch:
        patch.setattr(snapshots, "FORMAT_VERSION", snapshots.FORMAT_VERSION + 1)
        snapshots.save(path, snapshot)
    return path


def test_bad_input_keeps_the_current_scene_training(
    image_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = image_app
    app.training.resume()
    (tmp_path / "notes.xyz").write_text("not a scene")
    (tmp_path / "damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (tmp_path / "empty").mkdir()
    (tmp_path / "nerf" / "train").mkdir(parents=True)
    write_gradient(tmp_path / "nerf" / "train" / "r_0.png")
    cases = {
        tmp_path / "notes.xyz": "not a scene",
        tmp_path / "damaged.jpg": "not a readable image",
        tmp_path / "empty": "folder is empty",
        tmp_path / "nerf": "no transforms",
        write_newer_snapshot(app.snapshot(), tmp_path / "newer.fsnap", monkeypatch): "newer fieldscope",
    }
    session = app.session
    for path, words in cases.items():
        errors = len(app.status.errors)
        future = app.open(path)
        assert app.run_until(lambda f=future, n=errors: f.done() and len(app.status.errors) > n, 60)
        message = app.status.message
        assert app.status.is_error and path.name in message and words in message, message
        assert f"{ASTRONAUT} is still training" in message
        assert app.session is session
    step = app.snapshot().step
    assert app.run_until(lambda: app.snapshot().step > step, 60)


def test_exports_write_valid_files(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    snapshot = train_steps(app, 10)  # a picture with detail to zoom into
    assert app.exports.screenshot(tmp_path / "view.png")
    app.jobs.run_to_end()
    assert iio.imread(tmp_path / "view.png").shape == (240, 320, 3)
    assert app.exports.render(tmp_path / "render.png", scale=0.5)
    app.jobs.run_to_end()
    render = iio.imread(tmp_path / "render.png")
    assert render.shape == (256, 256, 3)
    assert app.exports.video(tmp_path / "zoom.mp4", frames=6, fps=6)
    app.jobs.run_to_end()
    frames = video_frames(tmp_path / "zoom.mp4")
    assert len(frames) == 6 and frames[0].shape == (240, 320, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 5  # it zooms
    assert app.exports.snapshot(tmp_path / "model.fsnap")
    app.jobs.run_to_end()
    saved = snapshots.load(tmp_path / "model.fsnap")
    assert saved.step == snapshot.step and all(
        np.array_equal(saved.params[k], snapshot.params[k]) for k in saved.params
    )
    assert not app.status.errors[-1:] or "Traceback" not in app.status.errors[-1]


def test_a_cancelled_export_leaves_nothing_behind(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    pause_and_settle(app)
    assert app.exports.video(tmp_path / "long.mp4", frames=200)
    app.frame()
    assert app.jobs.busy and app.jobs.current.progress < 1.0
    app.jobs.cancel()
    assert not app.jobs.busy and "cancelled" in app.status.message
    assert list(tmp_path.iterdir()) == []


def video_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video, decoded by imageio's ffmpeg reader."""
    import imageio.v2 as imageio

    with imageio.get_reader(path) as reader:
        return [np.asarray(frame) for frame in reader.iter_data()]


def test_a_saved_3d_model_shows_in_3d_and_exports_a_mesh(app: Any, sphere_snapshot: Any, tmp_path: Path) -> None:
    from fieldscope.app.render.camera import Camera3D

    path = tmp_path / "sphere.fsnap"
    snapshots.save(path, sphere_snapshot)
    open_fresh(app, path)
    assert app.session.name == "sphere.fsnap"
    assert not app.session.can_train and app.view_state.dims == 3
    pictures = {}
    for mode in ("shaded", "normals"):
        app.views.set_mode(mode)
        assert app.run_until(app.settled, 120)
        offscreen = app.renderer.draw(app.snapshot(), app.view_state.camera, app.views.options())
        assert np.allclose(app.view.image, offscreen, atol=1e-6)
        h, w = offscreen.shape[:2]
        assert np.abs(offscreen[h // 2, w // 2, :3] - offscreen[2, 2, :3]).max() > 0.1  # the sphere is there
        pictures[mode] = offscreen
    assert np.abs(pictures["shaded"] - pictures["normals"]).max() > 0.1
    camera = app.view_state.camera
    assert isinstance(camera, Camera3D)
    app.view_state.set_camera(camera.orbit(120.0, 0.0))  # normals are in world space: colours move
    assert app.run_until(app.settled, 120)
    assert np.abs(app.view.image - pictures["normals"]).max() > 0.1
    assert app.exports.mesh(tmp_path / "sphere.ply", resolution=32)
    app.jobs.run_to_end()
    header = (tmp_path / "sphere.ply").read_bytes()[:300].decode("latin-1")
    vertices = int(header.split("element vertex ")[1].split()[0])
    assert header.startswith("ply") and vertices > 100
