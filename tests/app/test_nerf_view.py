"""A NeRF's colour in the GLSL view (mode "rgb"): the same picture as the scene's torch renderer
(fields/scenes/nerf.py render_camera) of the same snapshot and camera, and after a short training a
picture of the held-back test view that a noise or a flat picture cannot match."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.commands.bench.scenes import write_dataset
from fieldscope.app.render.camera import Camera3D
from fieldscope.app.render.camera import test_view_camera as view_camera
from fieldscope.app.render.nerf_head_gl import LIVE_TERMINATION
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields.render.cameras import Camera
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import psnr_from_mse
from fieldscope.fields.scenes.nerf import render_camera
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run

SMALL_SCENE = {"grid_resolution": 16, "render_steps": 96}
SMALL_FIELD = FieldOptions(settings={"levels": 6, "log2_table_size": 14})


@pytest.fixture(scope="module")
def ball(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The analytic coloured ball (app/commands/bench/scenes.py) and a fresh run on it."""
    scene = open_scene(write_dataset(tmp_path_factory.mktemp("ball"), train=24, test=2, size=32), **SMALL_SCENE)
    return scene, build_run(scene, SMALL_FIELD, TrainOptions(batch_size=4096))


def torch_camera(camera: Camera3D, width: int, height: int) -> Camera:
    """The pinhole camera (unit-cube coordinates) whose pixel rays are the GLSL view's."""
    eye, forward, right, up = camera.basis()
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, -forward, eye
    focal = 0.5 * height / math.tan(math.radians(camera.fov) / 2)
    return Camera(c2w, focal, focal, width / 2, height / 2, width, height)


def test_the_glsl_nerf_picture_is_the_torch_renderers(renderer: Any, ball: Any) -> None:
    """Untrained field made dense (output 0 + 3: rays end early) with half its occupancy grid empty:
    every step of render_rays (lattice, skipping, exp density, head, termination, background) shows."""
    scene, trainer = ball
    with torch.no_grad():
        trainer.field.decoder.layers[-1].bias[0] += 3.0
    scene.head.grid.occupied[:, :8] = False  # y < 0.5 empty
    trainer.publish("paused")
    snapshot = trainer.latest()
    camera = Camera3D(distance=1.6, azimuth=30.0, elevation=20.0, fov=45.0)
    width, height = 40, 30  # not square: the aspect ratio counts
    options = ViewOptions(width=width, height=height, mode="rgb", legend=False)
    picture = renderer.draw(snapshot, camera, options)[..., :3]
    pinhole = torch_camera(camera, width, height)
    truth = render_camera(trainer.field, scene.head, pinhole, None, scene.background, scene.dt)
    difference = np.abs(picture - truth.numpy())
    # float32 field and head in both; the view leaves out the head on samples weighing under 1e-6
    # (at most 96 per ray: < 1e-4); a wrong lattice, density or background moves pixels by > 0.01
    assert difference.mean() < 1e-4 and difference.max() < 1e-3, (difference.mean(), difference.max())
    assert np.ptp(picture) > 0.2  # a picture, not a flat background
    white = picture[0, 0]  # the top-left corner misses the ball's occupied half: the scene's white
    assert np.allclose(white, 1.0, atol=1e-3)


def test_a_live_picture_is_the_torch_render_with_farther_samples_and_an_earlier_stop(renderer: Any, ball: Any) -> None:
    """A reduced live picture (sample_spacing 3) marches the lattice of 3 dt and stops rays at
    LIVE_TERMINATION: the torch render with those settings, not with the scene's."""
    scene, trainer = ball
    with torch.no_grad():
        trainer.field.decoder.layers[-1].bias[0] += 1.0
    try:
        trainer.publish("paused")
        snapshot = trainer.latest()
        camera = Camera3D(distance=1.6, azimuth=-40.0, elevation=10.0, fov=45.0)
        options = ViewOptions(width=36, height=28, mode="rgb", legend=False, sample_spacing=3.0)
        picture = renderer.draw(snapshot, camera, options)[..., :3]
        pinhole = torch_camera(camera, 36, 28)
        live = render_camera(
            trainer.field, scene.head, pinhole, None, scene.background, 3 * scene.dt, threshold=LIVE_TERMINATION
        )
        full = render_camera(trainer.field, scene.head, pinhole, None, scene.background, scene.dt)
        # equal to float32 rounding (1e-7 measured); with the scene's stop instead, 2e-3 apart
        assert np.abs(picture - live.numpy()).max() < 2e-4
        assert np.abs(picture - full.numpy()).max() > 1e-2  # the settings show
    finally:
        with torch.no_grad():
            trainer.field.decoder.layers[-1].bias[0] -= 1.0


def test_without_a_colour_head_the_rgb_mode_shows_the_density(renderer: Any, ball: Any) -> None:
    _, trainer = ball
    trainer.publish("paused")
    snapshot = trainer.latest()
    headless = replace(snapshot, params={k: v for k, v in snapshot.params.items() if not k.startswith("head.colour")})
    draw = lambda mode: renderer.draw(headless, Camera3D(), ViewOptions(width=24, height=16, mode=mode, legend=False))  # noqa: E731
    assert np.array_equal(draw("rgb"), draw("density"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return psnr_from_mse(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def test_after_a_short_training_the_view_at_a_test_view_resembles_it(renderer: Any, tmp_path: Path) -> None:
    """40 steps on the ball, then the window's picture (its camera from the scene's first test view,
    as the view opens) against that held-back view: better than the pictures that know nothing of
    the ball's shape and colours (noise, white, the view's mean colour)."""
    scene = open_scene(write_dataset(tmp_path, train=24, test=2, size=32), **SMALL_SCENE)
    trainer = build_run(scene, SMALL_FIELD, TrainOptions(batch_size=4096, lr=0.02))
    for _ in range(40):
        trainer.step()
    trainer.publish("paused")
    snapshot = trainer.latest()
    view = snapshot.scene["test_views"][0]
    camera = view_camera(view, np.asarray(snapshot.scene["unit_from_world"]))
    width, height = view["size"]
    picture = renderer.draw(snapshot, camera, ViewOptions(width=width, height=height, mode="rgb", legend=False))
    truth = scene.target_view(0)
    flat = {
        "noise": np.random.default_rng(0).random(truth.shape),
        "white": np.ones_like(truth),
        "mean colour": np.broadcast_to(truth.mean(axis=(0, 1)), truth.shape),
    }
    best_flat = max(psnr(image, truth) for image in flat.values())
    seen = psnr(picture[..., :3], truth)
    print(f"view at test view 0: {seen:.2f} dB; best of noise/white/mean colour: {best_flat:.2f} dB")
    assert seen > best_flat + 2.0, (seen, {name: psnr(image, truth) for name, image in flat.items()})


def test_gaussian_buckets_hand_all_their_outputs_to_the_colour_head(renderer: Any, ball: Any) -> None:
    """The Gaussian-bucket field's field_eval_all (16 outputs, untrained) against render_camera.
    (Laplacian blocks are laid out on an image's or a volume's samples: they do not fit a NeRF.)"""
    scene, _ = ball
    trainer = build_run(scene, replace(SMALL_FIELD, kind="gaussian_buckets"), TrainOptions(batch_size=4096))
    trainer.publish("paused")
    camera = Camera3D(distance=1.8, azimuth=-40.0, elevation=10.0, fov=40.0)
    picture = renderer.draw(trainer.latest(), camera, ViewOptions(width=20, height=16, mode="rgb", legend=False))
    pinhole = torch_camera(camera, 20, 16)
    truth = render_camera(trainer.field, scene.head, pinhole, None, scene.background, scene.dt).numpy()
    difference = np.abs(picture[..., :3] - truth)
    assert difference.mean() < 1e-4 and difference.max() < 1e-3, (difference.mean(), difference.max())
