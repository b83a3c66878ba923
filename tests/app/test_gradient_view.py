"""The coordinate-gradient view (2D mode "gradient"): the GLSL |d field / d x| against torch autograd
of the same field, and on a smooth table Lagrange's heatmap has no jumps at the cell boundaries
where linear's has."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.render.camera import Camera2D
from fieldscope.app.render.colormaps import inferno
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from tests.app.test_renderer import random_snapshot, snapshot_of

STEP = ViewOptions().gradient_step


def autograd_norm(snapshot: Any, points: np.ndarray) -> np.ndarray:
    """|d field / d x| (Frobenius over the first four outputs and both coordinates) at points (..., 2)."""
    field = snapshots.field_from(snapshot, impl="torch")
    x = torch.from_numpy(np.ascontiguousarray(points.reshape(-1, 2), np.float64)).float().requires_grad_(True)
    y = field(x)
    total = torch.zeros(x.shape[0])
    for channel in range(min(4, y.shape[1])):
        (grad,) = torch.autograd.grad(y[:, channel].sum(), x, retain_graph=True)
        total += (grad * grad).sum(dim=1)
    return total.sqrt().numpy().reshape(points.shape[:-1])


def near_a_boundary(points: np.ndarray, resolutions: tuple[int, ...], step: float) -> np.ndarray:
    """(...,) True where a cell boundary of some level lies within the central differences' reach."""
    near = np.zeros(points.shape[:-1], bool)
    for n in resolutions:
        scaled = points * n
        near |= (np.abs(scaled - np.round(scaled)) < 1.5 * step * n).any(axis=-1)
    return near


@pytest.mark.parametrize("interpolation", ["linear", "lagrange"])
def test_gradient_view_equals_torch_autograd(renderer: Any, interpolation: str) -> None:
    config = HashGridConfig(dims=2, out_dims=3, levels=6, features=2, log2_table_size=10, base_resolution=4,
                            growth=1.7, hidden_layers=0, interpolation=interpolation)  # fmt: skip
    snapshot = random_snapshot(config, seed=3)  # hashed and dense levels; a linear decoder (ReLU kinks are no cells)
    camera = Camera2D(center=(0.45, 0.55), zoom=1.3)
    width, height = 96, 64
    shown = renderer.draw(snapshot, camera, ViewOptions(width=width, height=height, mode="gradient_raw"))[..., 0]
    points = camera.field_coords(width, height, tuple(snapshot.scene["size"]))
    inside = ((points > 0) & (points < 1)).all(axis=-1)
    resolutions = snapshots.field_from(snapshot).encoding.layout.resolution
    compared = inside & ~near_a_boundary(points, resolutions, STEP)
    assert compared.sum() > 0.8 * inside.sum()
    expected = autograd_norm(snapshot, points)
    error = np.abs(shown - expected)[compared]
    assert error.max() <= 2e-2 * expected[compared].max(), (error.max(), expected[compared].max())
    assert np.ptp(expected[compared]) > 1.0  # the gradient varies over the view

    picture = renderer.draw(snapshot, camera, ViewOptions(width=width, height=height, mode="gradient"))
    scale = np.percentile(renderer.draw(snapshot, camera, replace(
        ViewOptions(width=48, height=32, mode="gradient_raw")))[..., 0][inside[::2, ::2]], 99)  # fmt: skip
    colours = inferno(np.clip(shown / scale, 0, 1))
    assert np.abs(picture[..., :3][inside] - colours[inside]).max() < 0.02


def boundary_jumps(renderer: Any, interpolation: str) -> tuple[float, float]:
    """On a one-level dense grid (8 cells) whose table samples sin(3x) cos(2y): the largest change of
    the view's |d field / d x| between the two pixels either side of an interior cell boundary, and
    between neighbouring pixels inside the cells, relative to the largest value."""
    res, width = 8, 800
    config = HashGridConfig(dims=2, out_dims=1, levels=1, features=1, log2_table_size=12, base_resolution=res,
                            growth=1.0, hidden_layers=0, interpolation=interpolation)  # fmt: skip
    field = configs.build_field(config)
    axes = torch.meshgrid(torch.arange(res + 1.0) / res, torch.arange(res + 1.0) / res, indexing="ij")
    with torch.no_grad():
        field.encoding.table[:, 0] = (torch.sin(3.0 * axes[0]) * torch.cos(2.0 * axes[1])).T.reshape(-1)
    snapshot = snapshot_of(field, size=(width, 8))
    camera = Camera2D()
    values = renderer.draw(snapshot, camera, ViewOptions(width=width, height=8, mode="gradient_raw"))[4, :, 0]
    x = camera.field_coords(width, 8, (width, 8))[4, :, 0]
    assert np.allclose(np.diff(x), 1.0 / width, atol=1e-6)  # the view shows the image pixel for pixel
    steps = np.abs(np.diff(values)) / values.max()
    crossing = np.floor(x[:-1] * res) != np.floor(x[1:] * res)
    interior = (x[:-1] > 1.5 / res) & (x[1:] < 1 - 1.5 / res)
    return float(steps[crossing & interior].max()), float(steps[~crossing & interior].max())


def test_lagrange_gradient_heatmap_has_no_jumps_at_cell_boundaries(renderer: Any) -> None:
    lagrange, lagrange_inside = boundary_jumps(renderer, "lagrange")
    linear, linear_inside = boundary_jumps(renderer, "linear")
    assert linear > 0.1 and linear > 20 * linear_inside  # linear's gradient jumps at every boundary
    assert lagrange < 0.03 and lagrange < 10 * lagrange_inside, (lagrange, lagrange_inside)


def test_the_window_shows_the_gradient_mode(image_app: Any, tmp_path: Any) -> None:
    from tests.app.conftest import train_steps

    app = image_app
    app.views.set_mode("gradient")
    try:
        snapshot = train_steps(app, 3)
        expected = app.renderer.draw(snapshot, app.view_state.camera, app.views.options())
        assert np.abs(app.view.image - expected).max() < 1e-5  # the view shows the renderer's picture
        inside = app.views.picture()[..., :3]
        assert np.ptp(inside) > 0.3 and not app.status.is_error
        app.window.screenshot(tmp_path / "gradient_view.png")
    finally:
        app.views.set_mode("field")
