"""The GLSL evaluation of fields (app/render) against the torch evaluation of the same snapshot."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.training.trainer import Snapshot


def torch_eval(snapshot: Any, points: np.ndarray, mask: tuple[bool, ...] | None = None) -> np.ndarray:
    """The field of a snapshot at points (..., D) -> (..., out_dims), with torch."""
    field = snapshots.field_from(snapshot, impl="torch")
    if mask is not None:
        field.set_level_mask(mask)
    flat = torch.from_numpy(np.ascontiguousarray(points.reshape(-1, points.shape[-1])))
    with torch.no_grad():
        values = field(flat).numpy()
    return values.reshape(*points.shape[:-1], -1)


def random_snapshot(config: HashGridConfig, seed: int) -> Snapshot:
    """A snapshot of `config` whose table and decoder are random (so every level matters)."""
    from fieldscope.fields import config as configs

    torch.manual_seed(seed)
    field = configs.build_field(config)
    with torch.no_grad():
        field.encoding.table.uniform_(-1.0, 1.0)
    return snapshot_of(field)


def snapshot_of(field: Any, size: tuple[int, ...] = (300, 200)) -> Snapshot:
    """A snapshot of a field's current parameters, of an image (2D) or SDF (3D) scene."""
    from fieldscope.fields.training.trainer import TrainConfig, frozen_arrays

    config = field.config
    return Snapshot(
        version=1,
        step=0,
        elapsed=0.0,
        loss=0.0,
        metrics={},
        config=config,
        level_mask=tuple(field.level_mask),
        params=frozen_arrays(field.state()),
        scene={"task": "image" if config.dims == 2 else "sdf", "size": list(size)},
        train=TrainConfig(),
    )


def check_2d(renderer: Any, snapshot: Any, camera: Camera2D, width: int = 96, height: int = 64, mask: Any = None):
    image = renderer.draw(snapshot, camera, ViewOptions(width=width, height=height, mode="raw", level_mask=mask))
    size = tuple(snapshot.scene["size"])
    expected = torch_eval(snapshot, camera.field_coords(width, height, size), mask)
    channels = expected.shape[-1]
    return np.abs(image[..., :channels] - expected).max(), image, expected


def test_2d_view_equals_torch_on_a_trained_field(renderer: Any, image_snapshot: Any) -> None:
    # zoomed past the image's resolution and panned off-center: outside [0,1] the field clamps
    camera = Camera2D(center=(0.4, 0.6), zoom=3.7)
    error, _image, expected = check_2d(renderer, image_snapshot, camera)
    assert error <= 1e-3
    assert np.ptp(expected) > 0.1  # a non-trivial picture


@pytest.mark.parametrize(
    "settings",
    [
        {"features": 1, "interpolation": "smoothstep", "hidden_layers": 0},
        {"features": 4, "hidden_layers": 2, "hidden_width": 16, "out_dims": 1},
        {"features": 8, "hidden_width": 8, "out_dims": 4, "log2_table_size": 10},
        {"features": 2, "interpolation": "lagrange"},
        {"features": 8, "hidden_width": 8, "out_dims": 4, "interpolation": "lagrange", "lagrange_k": 1},
    ],
)
def test_2d_view_equals_torch_for_other_shapes(renderer: Any, settings: dict[str, Any]) -> None:
    config = HashGridConfig(
        **{"dims": 2, "levels": 6, "log2_table_size": 11, "base_resolution": 5, "growth": 2.0, **settings}
    )
    layout_hashed = any((int(5 * 2.0**lvl) + 1) ** 2 > config.table_size for lvl in range(6))
    assert layout_hashed  # both dense and hashed levels are exercised
    snapshot = random_snapshot(config, seed=3)
    error, _, expected = check_2d(renderer, snapshot, Camera2D(center=(0.5, 0.45), zoom=1.3))
    assert error <= 1e-3 * max(1.0, np.abs(expected).max())


def test_level_mask_changes_the_view_as_torch_predicts(renderer: Any, image_snapshot: Any) -> None:
    camera = Camera2D()
    full = renderer.draw(image_snapshot, camera, ViewOptions(width=64, height=64, mode="raw"))
    lod = (True,) * 3 + (False,) * 5  # the level-of-detail slider at level 2
    for mask in [lod, (True, False, True, True, False, True, True, True)]:
        error, image, _ = check_2d(renderer, image_snapshot, camera, 64, 64, mask)
        assert error <= 1e-3
        assert np.abs(image - full).max() > 0.01  # the mask made a visible difference


def test_3d_slice_equals_torch(renderer: Any, sphere_snapshot: Any) -> None:
    camera = Camera3D(azimuth=20.0, elevation=30.0)
    options = ViewOptions(width=80, height=60, mode="slice_points", slice_axis=1, slice_position=0.45)
    points = renderer.draw(sphere_snapshot, camera, options)
    values = renderer.draw(sphere_snapshot, camera, replace(options, mode="raw"))
    on_plane = points[..., 3] > 0.5
    assert on_plane.mean() > 0.08
    assert np.allclose(points[on_plane][:, 1], 0.45, atol=1e-5)
    expected = torch_eval(sphere_snapshot, points[on_plane][:, :3])
    assert np.abs(values[on_plane][:, 0] - expected[:, 0]).max() <= 1e-3
    # and the fitted field is the sphere's distance on that plane
    truth = np.linalg.norm(points[on_plane][:, :3] - 0.5, axis=-1) - 0.3
    assert np.abs(expected[:, 0] - truth).mean() < 0.02


def test_3d_sphere_tracing_finds_the_surface(renderer: Any, sphere_snapshot: Any) -> None:
    camera = Camera3D(azimuth=-40.0, elevation=15.0)
    hits = renderer.draw(sphere_snapshot, camera, ViewOptions(width=64, height=48, mode="surface_points"))
    found = hits[..., 3] > 0.5
    # the sphere (radius 0.3 at distance 2.4: 7.2 degrees; 40 degree field of view) covers about 7%
    assert 0.05 < found.mean() < 0.1
    points = hits[found][:, :3]
    assert np.abs(torch_eval(sphere_snapshot, points)).max() < 2e-3  # on the field's zero level set
    assert np.abs(np.linalg.norm(points - 0.5, axis=-1) - 0.3).max() < 0.03  # and that is the sphere
    # the pixel at the center of the view hits the near side of the sphere
    eye = camera.basis()[0]
    center_hit = hits[24, 32, :3]
    assert abs(np.linalg.norm(center_hit - eye) - (camera.distance - 0.3)) < 0.03


def test_3d_modes_draw_pictures(renderer: Any, sphere_snapshot: Any) -> None:
    camera = Camera3D()
    for mode in ("shaded", "normals", "depth", "slice", "density"):
        image = renderer.draw(sphere_snapshot, camera, ViewOptions(width=48, height=36, mode=mode))
        assert image.shape == (36, 48, 4)
        assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0
        center, corner = image[18, 24, :3], image[1, 1, :3]
        assert np.abs(center - corner).max() > 0.05, mode  # the sphere stands out of the background
