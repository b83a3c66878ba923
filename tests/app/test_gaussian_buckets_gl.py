"""The GLSL evaluation of the Gaussian-bucket field (shaders/gaussian_buckets.glsl) against the
torch evaluation of the same snapshot, 2D and 3D."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig
from fieldscope.fields.kinds.hashgrid import layout_of
from fieldscope.fields.training.trainer import Snapshot, TrainConfig, Trainer
from tests.app.test_renderer import check_2d, snapshot_of, torch_eval


def random_gaussian_snapshot(config: GaussianBucketsConfig, seed: int, sigma_scale: float) -> Snapshot:
    """Random coarse table, point features and decoder; means uniform in the domain; sigma wide
    enough (sigma_scale cells) that every point reaches many pixels."""
    torch.manual_seed(seed)
    field = configs.build_field(config)
    with torch.no_grad():
        if field.encoding.coarse is not None:
            field.encoding.coarse.table.uniform_(-1.0, 1.0)
        field.encoding.lagrangian.values.uniform_(-1.0, 1.0)
        field.encoding.lagrangian.means.uniform_(0.0, 1.0)
        field.encoding.lagrangian.sigma_scale.fill_(sigma_scale)
    return snapshot_of(field)


@pytest.fixture(scope="module")
def trained_gaussian_snapshot(astronaut_path: Any) -> Any:
    """A small 2D Gaussian-bucket field trained briefly on the astronaut (dense and hashed levels)."""
    from fieldscope.fields.scenes import open_scene

    torch.manual_seed(0)
    config = GaussianBucketsConfig(
        dims=2, out_dims=3, levels=6, log2_table_size=11, base_resolution=8, growth=1.8, sigma_decay_steps=20
    )
    trainer = Trainer(configs.build_field(config), open_scene(astronaut_path), TrainConfig(batch_size=4096))
    for _ in range(12):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()


def test_2d_view_equals_torch_on_a_trained_field(renderer: Any, trained_gaussian_snapshot: Any) -> None:
    snapshot = trained_gaussian_snapshot
    assert float(snapshot.params["encoding.lagrangian.sigma_scale"][0]) < 50.0  # the schedule ran
    error, _, expected = check_2d(renderer, snapshot, Camera2D(center=(0.45, 0.55), zoom=2.5))
    assert error <= 1e-3
    assert np.ptp(expected) > 0.05
    # the Lagrangian levels matter: without them the picture is another one
    mask = (True,) * 4 + (False,) * 2
    error, _, without = check_2d(renderer, snapshot, Camera2D(center=(0.45, 0.55), zoom=2.5), mask=mask)
    assert error <= 1e-3
    assert np.abs(expected - without).max() > 0.01


@pytest.mark.parametrize(
    "settings",
    [
        {"features": 1, "points_per_bucket": 2, "interpolation": "smoothstep"},
        {"features": 4, "points_per_bucket": 1, "lagrangian_levels": 3, "out_dims": 1},
        {"features": 8, "points_per_bucket": 3, "hidden_width": 8, "out_dims": 4},
        {"features": 2, "lagrangian_levels": 5, "hidden_layers": 2, "hidden_width": 16},
        {"features": 2, "points_per_bucket": 2, "interpolation": "lagrange"},
    ],
)
def test_2d_view_equals_torch_for_other_shapes(renderer: Any, settings: dict[str, Any]) -> None:
    base = {"dims": 2, "levels": 5, "log2_table_size": 10, "base_resolution": 6, "growth": 1.7}
    config = GaussianBucketsConfig(**{**base, **settings})
    snapshot = random_gaussian_snapshot(config, seed=5, sigma_scale=3.0)
    camera = Camera2D(center=(0.5, 0.45), zoom=1.3)
    error, _, expected = check_2d(renderer, snapshot, camera)
    assert error <= 1e-3 * max(1.0, np.abs(expected).max())
    lagrangian_off = tuple(lvl < config.levels - config.lagrangian_levels for lvl in range(config.levels))
    _, _, without = check_2d(renderer, snapshot, camera, mask=lagrangian_off)
    assert np.abs(expected - without).max() > 0.05  # the points are part of the picture


@pytest.mark.parametrize("interpolation", ["linear", "lagrange"])
def test_3d_slice_equals_torch(renderer: Any, interpolation: str) -> None:
    config = GaussianBucketsConfig(
        dims=3,
        out_dims=1,
        levels=5,
        log2_table_size=11,
        base_resolution=4,
        growth=1.8,
        hidden_width=16,
        interpolation=interpolation,
    )
    assert any(layout_of(config).hashed) and not all(layout_of(config).hashed)
    snapshot = random_gaussian_snapshot(config, seed=2, sigma_scale=2.0)
    camera = Camera3D(azimuth=25.0, elevation=35.0)
    options = ViewOptions(width=72, height=54, mode="slice_points", slice_axis=0, slice_position=0.55)
    points = renderer.draw(snapshot, camera, options)
    values = renderer.draw(snapshot, camera, replace(options, mode="raw"))
    on_plane = points[..., 3] > 0.5
    assert on_plane.mean() > 0.08
    expected = torch_eval(snapshot, points[on_plane][:, :3])
    assert np.abs(values[on_plane][:, 0] - expected[:, 0]).max() <= 1e-3 * max(1.0, np.abs(expected).max())
    assert np.ptp(expected) > 0.05
