"""The GLSL evaluation of the baseline kinds (shaders/fourier.glsl, shaders/mlp_field.glsl over
shaders/mlp.glsl with its weights in a texture) against the torch evaluation of the same snapshot."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.fourier import FourierConfig
from fieldscope.fields.kinds.mlp import MlpConfig
from tests.app.test_renderer import check_2d, snapshot_of, torch_eval

CONFIGS_2D = [
    FourierConfig(dims=2, out_dims=3, frequencies=64, sigma=6.0, hidden_width=64, hidden_layers=2),
    FourierConfig(dims=2, out_dims=4, frequencies=5, sigma=3.0, hidden_width=7, hidden_layers=0),
    MlpConfig(dims=2, out_dims=3, hidden_width=64, hidden_layers=3),
    MlpConfig(dims=2, out_dims=1, hidden_width=24, hidden_layers=2, activation="sine", omega=30.0),
]


def random_snapshot(config: Any, seed: int) -> Any:
    torch.manual_seed(seed)
    return snapshot_of(configs.build_field(config))


@pytest.mark.parametrize(
    "config", CONFIGS_2D, ids=lambda c: f"{c.kind}-{c.hidden_layers}-{getattr(c, 'activation', 'x')}"
)
def test_2d_view_equals_torch(renderer: Any, config: Any) -> None:
    snapshot = random_snapshot(config, seed=2)
    camera = Camera2D(center=(0.45, 0.55), zoom=1.6)  # panned: part of the view is outside [0,1]
    error, _image, expected = check_2d(renderer, snapshot, camera)
    assert error <= 1e-3 * max(1.0, np.abs(expected).max())
    assert np.ptp(expected) > 0.01
    # the level mask's one entry turns the input off, in GLSL as in torch
    error, _image, off = check_2d(renderer, snapshot, camera, mask=(False,))
    assert error <= 1e-3 * max(1.0, np.abs(expected).max())
    assert np.abs(off - expected).max() > 0.01


def test_weights_too_large_for_a_uniform_block_draw(renderer: Any) -> None:
    # 256 frequencies into 256 units: ~200k weights, four times a uniform block
    config = FourierConfig(dims=2, out_dims=3, frequencies=256, sigma=10.0, hidden_width=256, hidden_layers=2)
    snapshot = random_snapshot(config, seed=4)
    assert sum(v.size for v in snapshot.params.values()) > 4 * 16384
    error, _image, expected = check_2d(renderer, snapshot, Camera2D(), width=48, height=32)
    assert error <= 1e-3 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize(
    "config",
    [
        FourierConfig(dims=3, out_dims=1, frequencies=32, sigma=3.0, hidden_width=32, hidden_layers=2),
        MlpConfig(dims=3, out_dims=1, hidden_width=32, hidden_layers=2, activation="sine", omega=10.0),
    ],
    ids=lambda c: c.kind,
)
def test_3d_slice_equals_torch(renderer: Any, config: Any) -> None:
    snapshot = random_snapshot(config, seed=6)
    camera = Camera3D(azimuth=25.0, elevation=20.0)
    options = ViewOptions(width=64, height=48, mode="slice_points", slice_axis=2, slice_position=0.6)
    points = renderer.draw(snapshot, camera, options)
    values = renderer.draw(snapshot, camera, replace(options, mode="raw"))
    on_plane = points[..., 3] > 0.5
    assert on_plane.mean() > 0.05
    expected = torch_eval(snapshot, points[on_plane][:, :3])
    assert np.abs(values[on_plane][:, 0] - expected[:, 0]).max() <= 1e-3 * max(1.0, np.abs(expected).max())
    assert np.ptp(expected[:, 0]) > 0.01
