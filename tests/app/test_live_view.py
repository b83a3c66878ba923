"""The live view as a user sees it: the window trains as `fit` does, each task opens with its view,
a newly opened or dropped image shows within a few frames of its scene being ready, a fitted
sphere SDF's live view matches its analytic picture, and the command line's --camera."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.commands.bench.scenes import write_image, write_volume
from fieldscope.app.render.camera import Camera3D
from fieldscope.app.render.progressive import ProgressiveView
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.app.state.view import ViewState
from fieldscope.fields.errors import ConfigError


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10.0 * math.log10(1.0 / max(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)), 1e-12))


# ---- the window's trainer is fit's
@pytest.mark.parametrize(
    ("task", "kind"), [("image", "hashgrid"), ("volume", "hashgrid"), ("image", "gaussian_buckets")]
)
def test_the_windows_trainer_gets_fits_settings(task: str, kind: str, tmp_path: Path) -> None:
    from fieldscope.app.cli import build_parser
    from fieldscope.app.options import field_options, train_options
    from fieldscope.app.state.session import open_path
    from fieldscope.fields.scenes import open_scene
    from fieldscope.fields.training.run import build_run

    path = write_image(tmp_path / "waves.png", 96) if task == "image" else write_volume(tmp_path / "v.npy", 24)
    window = open_path(path, kind=kind).trainer
    args = build_parser().parse_args(["fit", str(path), "--out", str(tmp_path / "m.fsnap"), "--field", kind])
    fit = build_run(open_scene(path), field_options(args), train_options(args))
    assert window.config == fit.config
    assert window.field.config == fit.field.config
    suggested = open_scene(path).describe()
    assert window.config.lr == suggested.get("suggested_lr", window.config.lr)
    assert window.latest().train == window.config  # what the Training panel shows
    window.set_learning_rate(window.config.lr / 4)
    window.publish("paused")
    assert window.latest().train.lr == window.config.lr / 4  # the one in use after a change


# ---- each task's view
@pytest.mark.parametrize(
    ("task", "dims", "mode"),
    [
        ("image", 2, "field"),
        ("sdf", 3, "shaded"),
        ("occupancy", 3, "shaded"),
        ("volume", 3, "shaded"),
        ("nerf", 3, "rgb"),
    ],
)
def test_each_task_opens_with_its_default_view_mode(task: str, dims: int, mode: str) -> None:
    state = ViewState()
    state.change(mode="error" if dims == 2 else "slice")  # whatever the last scene showed
    state.reset_for(SimpleNamespace(config=SimpleNamespace(dims=dims), scene={"task": task}))
    assert state.mode == mode and state.dims == dims
    assert isinstance(state.camera, Camera3D) == (dims == 3)


def test_view_state_changes_its_options_by_replacement() -> None:
    state = ViewState()
    before = state.settings
    state.change(heatmap="contribution", heat_level=2)
    state.set_size((64, 48))
    assert before.heatmap == "none" and before.width == 800  # the old options are untouched
    options = state.options((True, False), level_states=("on", "off"), caption="1 of 2")
    assert (options.heatmap, options.heat_level, options.width, options.height) == ("contribution", 2, 64, 48)
    assert options.level_mask == (True, False) and options.levels_caption == "1 of 2"


# ---- a fitted sphere's live view against its analytic picture
def analytic_sphere(camera: Camera3D, width: int, height: int, radius: float) -> np.ndarray:
    """The shaded picture view3d.frag draws of an exact sphere of `radius` at the cube's centre:
    ray-sphere intersections at the pixel centres, its lighting, its background. (H, W, 3)."""
    eye, forward, right, up = (v.astype(np.float64) for v in camera.basis())
    tan = math.tan(math.radians(camera.fov) / 2)
    u, v = np.meshgrid((np.arange(width) + 0.5) / width * 2 - 1, 1 - (np.arange(height) + 0.5) / height * 2)
    d = forward + u[..., None] * tan * (width / height) * right + v[..., None] * tan * up
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = eye - 0.5
    b = d @ o
    disc = b * b - (o @ o - radius**2)
    hit = disc > 0
    p = o + (-b - np.sqrt(np.maximum(disc, 0)))[..., None] * d
    n = p / np.linalg.norm(p, axis=-1, keepdims=True)
    light = -d + 0.6 * up + 0.3 * right
    light /= np.linalg.norm(light, axis=-1, keepdims=True)
    diffuse = np.maximum((n * light).sum(-1), 0)
    rim = (1 - np.maximum((n * -d).sum(-1), 0)) ** 3
    surface = np.array([0.80, 0.72, 0.60]) * (0.18 + 0.82 * diffuse[..., None]) + 0.15 * rim[..., None]
    t = 0.5 + 0.5 * d[..., 1:2]
    sky = np.array([0.10, 0.11, 0.13]) * (1 - t) + np.array([0.22, 0.24, 0.28]) * t
    return np.where(hit[..., None], surface, sky)


def live_picture(renderer: Any, snapshot: Any, camera: Any, options: ViewOptions, updates: int = 400) -> np.ndarray:
    view = ProgressiveView(renderer)
    for _ in range(updates):
        view.update(snapshot, camera, options)
        if view.complete:
            return view.image[..., :3].copy()
    raise AssertionError(f"no whole picture after {updates} updates")


def test_the_live_view_of_a_fitted_sphere_matches_its_analytic_picture(renderer: Any, sphere_snapshot: Any) -> None:
    camera = Camera3D()
    options = ViewOptions(width=96, height=72, mode="shaded", legend=False)
    picture = live_picture(renderer, sphere_snapshot, camera, options)
    truth = analytic_sphere(camera, 96, 72, 0.3)
    assert psnr(picture, truth) > 24.0
    noise = np.random.default_rng(0).uniform(0, 1, truth.shape)
    assert psnr(noise, truth) < 10.0  # what an untrained field's noise gets


# ---- the window: an image opened or dropped shows within a few frames of being ready
def scene_picture_psnr(app: Any, image: np.ndarray) -> float:
    """The view's last picture (the scene's part) against the image resized to it."""
    picture = app.views.picture()[..., :3]
    target = (
        torch.nn.functional.interpolate(
            torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=picture.shape[:2], mode="area"
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    return psnr(np.clip(picture, 0, 1), target)


def frames_to_picture_of(app: Any, image: np.ndarray, decibels: float, frames: int) -> int:
    """Frames from the scene being ready until the view shows a picture of a snapshot of it at least
    as new as the first one the trainer published with PSNR >= decibels, with pictures at every
    newer snapshot (no refresh wait). Asserts that it comes within `frames` and resembles the image."""
    app.view.refresh_interval = 0.0
    assert app.run_until(lambda: app.snapshot().metrics.get("psnr", 0.0) >= decibels, 240), app.snapshot()
    good = app.snapshot()
    for count in range(1, frames + 1):
        app.frame()
        shown = app.view.shown_snapshot
        if shown is not None and shown.scene is good.scene and shown.step >= good.step:
            assert scene_picture_psnr(app, image) > decibels - 4.0
            return count
    raise AssertionError(f"no picture of step {good.step} or newer after {frames} frames")


def test_an_opened_then_a_dropped_image_is_displayed_soon(image_app: Any, drop_files: Any, tmp_path: Path) -> None:
    import imageio.v3 as iio

    from fieldscope.app.ui import drop
    from tests.app.conftest import open_fresh
    from tests.app.test_app import drop_while_running

    app = image_app
    first = write_image(tmp_path / "waves.png", 128)
    open_fresh(app, first)
    assert app.session.name == "waves.png" and app.view_state.mode == "field"
    app.training.resume()  # the trainer runs: live pictures (the window's tests start their scenes paused)
    frames_to_picture_of(app, iio.imread(first)[..., :3] / 255.0, 18.0, 25)
    # --view-screenshot's picture: the displayed one, cut to the square image's part of the 320x240 view
    picture = app.views.picture()
    left, top, _, _ = app.view_state.camera.scene_rect(320, 240, (128, 128))
    assert picture.shape == (240, 240, 4) and np.array_equal(picture, app.view.image[top:, left : left + 240])

    second = tmp_path / "flipped.png"
    iio.imwrite(second, iio.imread(first)[::-1, :, ::-1])
    target = drop.x11_window()
    assert drop_while_running(app, drop_files, target, second, lambda: app.session.name == "flipped.png")
    app.training.resume()
    frames_to_picture_of(app, iio.imread(second)[..., :3] / 255.0, 18.0, 25)


# ---- --camera
def test_camera_option_parses_and_names_bad_values() -> None:
    from fieldscope.app.ui.start_camera import parse_camera, start_camera

    orbit = parse_camera("orbit:30,-20,3.5")
    snapshot = SimpleNamespace(config=SimpleNamespace(dims=3), scene={"task": "sdf", "name": "bunny.ply"})
    assert start_camera(orbit, snapshot) == Camera3D(azimuth=30.0, elevation=-20.0, distance=3.5)
    for bad in ("orbit:1,2", "orbit:a,b,c", "orbit:1,2,0", "test:-1", "test:x", "front"):
        with pytest.raises(ConfigError, match=f"--camera '{bad}'"):
            parse_camera(bad)
    with pytest.raises(ConfigError, match="test views belong to NeRF scenes"):
        start_camera(parse_camera("test:0"), snapshot)
    nerf = SimpleNamespace(
        config=SimpleNamespace(dims=3), scene={"task": "nerf", "test_views": [], "unit_from_world": np.eye(4)}
    )
    with pytest.raises(ConfigError, match="out of range"):
        start_camera(parse_camera("test:3"), nerf)


def test_a_malformed_camera_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from fieldscope.app.cli import main

    image = write_image(tmp_path / "waves.png", 32)
    assert main(["view", str(image), "--camera", "orbit:10,20"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--camera 'orbit:10,20'" in error


def test_a_test_view_becomes_the_orbit_camera_that_sees_as_it_does() -> None:
    from fieldscope.app.commands.bench.scenes import ANGLE_X, camera_positions, look_at_origin
    from fieldscope.app.render.camera import test_view_camera

    # unit_from_world: Instant-NGP's axis cycle (world z up -> unit y), a scale and an offset
    cycle = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
    unit_from_world = np.diag([0.2, 0.2, 0.2, 1.0]) @ cycle
    unit_from_world[:3, 3] = 0.5
    for eye in camera_positions(4, seed=3):
        c2w = look_at_origin(eye)
        focal = 0.5 * 64 / math.tan(0.5 * ANGLE_X)
        camera = test_view_camera(
            {"c2w": c2w.tolist(), "intrinsics": [focal, focal, 32, 32], "size": [64, 64]}, unit_from_world
        )
        got_eye, forward, _, up = camera.basis()
        assert np.allclose(got_eye, (unit_from_world @ np.append(eye, 1))[:3], atol=1e-5)
        assert np.allclose(forward, unit_from_world[:3, :3] @ -c2w[:3, 2] / 0.2, atol=1e-5)
        assert np.allclose(up, unit_from_world[:3, :3] @ c2w[:3, 1] / 0.2, atol=1e-5)
        assert camera.fov == pytest.approx(math.degrees(ANGLE_X))


def test_a_nerf_opens_at_its_first_test_view() -> None:
    from fieldscope.app.render.camera import test_view_camera

    views = [{"c2w": np.eye(4)[[0, 2, 1, 3]].tolist(), "intrinsics": [50.0, 50.0, 20, 20], "size": [40, 40]}]
    views[0]["c2w"][2][3] = 3.0
    scene = {"task": "nerf", "test_views": views, "unit_from_world": np.eye(4).tolist()}
    state = ViewState()
    state.reset_for(SimpleNamespace(config=SimpleNamespace(dims=3), scene=scene))
    assert state.camera == test_view_camera(views[0], np.eye(4)) and state.mode == "rgb"


def test_a_nerfs_empty_cells_are_skipped_as_in_training(renderer: Any, sphere_snapshot: Any) -> None:
    """The density view of a NeRF: exp(first output) volume rendered, no density in the cells its
    occupancy grid marks empty."""
    from dataclasses import replace

    def draw(grid: np.ndarray | None, density_scale: float = 1.0) -> np.ndarray:
        params = dict(sphere_snapshot.params)
        if grid is not None:
            params["head.grid.occupied"] = grid
        snapshot = replace(sphere_snapshot, scene={"task": "nerf"}, params=params)
        options = ViewOptions(width=48, height=36, mode="density", density_scale=density_scale, legend=False)
        return renderer.draw(snapshot, Camera3D(), options)[..., :3]

    plain, background = draw(None), draw(None, density_scale=0.0)
    assert np.abs(plain - background).max() > 0.1  # the fog shows
    assert np.array_equal(draw(np.ones((8, 8, 8), bool)), plain)
    assert np.allclose(draw(np.zeros((8, 8, 8), bool)), background)
    half = np.zeros((8, 8, 8), bool)
    half[:4] = True  # x < 0.5 occupied: the left of the view (the camera looks from +x+z) keeps its fog
    split = draw(half)
    assert not np.allclose(split, plain, atol=1e-3) and not np.allclose(split, background, atol=1e-3)
