"""Optical flow through a field's coordinate gradient (fields/analysis/flow.py) on synthetic pairs with a known
motion: a sub-pixel translation, a large one, and a smooth warp."""

import math

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.analysis import flow
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.hashgrid import HashGridConfig

SIZE = 64


def texture(u, v):
    wave = torch.sin(2 * math.pi * (1.5 * u + 0.5 * v)) + torch.cos(2 * math.pi * (0.7 * u - 1.8 * v))
    return 0.5 + 0.25 * wave


def exact_field(interpolation):
    """A one-level dense field whose table samples a smooth texture and whose decoder is the identity:
    the picture is known without training, so the true flow of a pair made from it is exact."""
    res = 16
    config = HashGridConfig(dims=2, out_dims=1, levels=1, features=1, log2_table_size=16, base_resolution=res,
                            growth=1.0, hidden_layers=0, interpolation=interpolation)  # fmt: skip
    field = configs.build_field(config)
    v, u = torch.meshgrid(torch.arange(res + 1.0) / res, torch.arange(res + 1.0) / res, indexing="ij")
    with torch.no_grad():
        field.encoding.table[:, 0] = texture(u, v).reshape(-1)  # dense index: x fastest
        field.decoder.layers[0].weight.fill_(1.0)
        field.decoder.layers[0].bias.zero_()
    return field


def render(field, flow_px):
    """B(x) = field at x + flow(x), over the SIZE x SIZE pixel centres -> (H, W, 1)."""
    p = flow.pixel_grid(SIZE, SIZE) + torch.from_numpy(flow_px).reshape(-1, 2)
    with torch.no_grad():
        return field(p / SIZE).reshape(SIZE, SIZE, 1).numpy()


def constant(vector):
    return np.broadcast_to(np.array(vector, np.float32), (SIZE, SIZE, 2)).copy()


@pytest.mark.parametrize("interpolation", ["linear", "lagrange"])
@pytest.mark.parametrize("shift", [(2.3, -1.6), (-17.4, 11.7)])
def test_translation_is_recovered(interpolation, shift):
    field = exact_field(interpolation)
    truth = constant(shift)
    options = flow.FlowOptions(steps=120, points=1024, search_radius=24.0, search_step=4.0, search_points=512)
    result = flow.estimate_flow(field, render(field, truth), options)
    interior = result.valid
    assert flow.end_point_error(result.flow, truth, interior) < 0.05
    assert flow.end_point_error(np.zeros_like(truth), truth) > 2.0  # a zero flow fails the bound
    assert result.warped_psnr > 40.0
    assert result.summary()["flow_mean"] == pytest.approx(list(shift), abs=0.05)


def test_dense_flow_follows_a_smooth_warp():
    field = exact_field("lagrange")
    yy, xx = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5, indexing="ij")
    truth = np.stack([1.5 + 1.2 * np.sin(2 * np.pi * yy / SIZE), -0.8 + 1.0 * np.cos(2 * np.pi * xx / SIZE)], -1)
    truth = truth.astype(np.float32)
    options = flow.FlowOptions(mode="dense", steps=80, points=1024, search_radius=4.0, search_step=2.0,
                               search_points=512, dense_steps=300, dense_levels=4, smoothness=0.5)  # fmt: skip
    result = flow.estimate_flow(field, render(field, truth), options)
    inner = np.zeros((SIZE, SIZE), bool)
    inner[6:-6, 6:-6] = True
    dense = flow.end_point_error(result.flow, truth, inner)
    translation = flow.end_point_error(constant(truth.reshape(-1, 2).mean(0)), truth, inner)
    assert dense < 0.35 * translation  # it follows the warp, not just its mean
    assert flow.end_point_error(np.zeros_like(truth), truth, inner) > 1.5


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown flow mode 'spin'"):
        flow.FlowOptions(mode="spin")


def test_colour_wheel_is_white_at_rest_and_coloured_by_direction():
    wheel = flow.colour_wheel(np.array([[[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]], np.float32))
    assert np.allclose(wheel[0, 0], 1.0)
    assert not np.allclose(wheel[0, 1], wheel[0, 2])
    assert wheel.min() >= 0.0 and wheel.max() <= 1.0
