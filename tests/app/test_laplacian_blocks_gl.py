"""The GLSL evaluation of the Laplacian-block field (shaders/laplacian_blocks.glsl) against the torch
evaluation of the same snapshot: random and briefly trained snapshots, 2D and 3D, level-of-detail
cuts and pruned blocks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.laplacian_blocks_gl import pack_weights, row_vec4s
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig, siren_init
from fieldscope.fields.kinds.laplacian_blocks.layout import PRUNED, scale_layout
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.trainer import TrainConfig, Trainer
from tests.app.test_renderer import snapshot_of, torch_eval


def random_blocks_snapshot(config: LaplacianBlocksConfig, seed: int, keep: float = 0.7) -> Any:
    """Every scale's blocks get a SIREN (output layer scaled up so values are of order 1) with
    probability `keep`; the others are pruned and read as zero."""
    generator = torch.Generator().manual_seed(seed)
    field = configs.build_field(config, impl="torch")
    out_size = config.out_dims * (config.hidden_width + 1)
    for s in field.layout:
        ids = torch.nonzero(torch.rand(s.count, generator=generator) < keep).squeeze(1)
        rows = siren_init(ids.numel(), config, generator)
        rows[:, -out_size:] *= 30.0
        field.add_rows(s.scale, ids, rows)
        pruned = torch.ones(s.count, dtype=torch.bool)
        pruned[ids] = False
        field.status[s.first : s.stop][pruned] = PRUNED
    return snapshot_of(field, config.size)


def near_block_edges(config: LaplacianBlocksConfig, points: np.ndarray, mask: tuple[bool, ...]) -> np.ndarray:
    """Points (..., D) within 1e-4 block of a block edge of a scale that is on: the field jumps
    there, so one float ulp of difference in x between GL and numpy may pick the other block."""
    near = np.zeros(points.shape[:-1], bool)
    for s in scale_layout(config):
        if mask[config.scales - 1 - s.scale]:
            inv = np.array([n / s.extent for n in config.size], np.float32)
            p = np.clip(points, 0.0, 1.0) * inv
            edge = (np.abs(p - np.round(p)) < 1e-4) & (p > 1e-4) & (p < inv - 1e-4)
            near |= edge.any(axis=-1)
    return near


def check_view(renderer: Any, snapshot: Any, camera: Camera2D, mask: Any = None, width=96, height=64):
    """Largest |GL - torch| over the view's pixels away from block edges, the GL picture and torch's."""
    mask = mask or tuple(snapshot.level_mask)
    image = renderer.draw(snapshot, camera, ViewOptions(width=width, height=height, mode="raw", level_mask=mask))
    coords = camera.field_coords(width, height, tuple(snapshot.scene["size"]))
    expected = torch_eval(snapshot, coords, mask)
    channels = min(4, expected.shape[-1])
    away = ~near_block_edges(snapshot.config, coords, mask)
    assert away.mean() > 0.97  # only a few pixels are skipped
    error = np.abs(image[..., :channels] - expected[..., :channels])[away].max()
    return error, image, expected


@pytest.mark.parametrize(
    "settings",
    [
        {"size": (100, 70), "scales": 3, "block_size": 16, "hidden_width": 20, "layers": 4},
        {"size": (64, 64), "scales": 2, "block_size": 8, "hidden_width": 6, "layers": 2, "out_dims": 1},
        {"size": (90, 120), "scales": 4, "block_size": 8, "hidden_width": 9, "layers": 3, "out_dims": 4},
        {"size": (48, 40), "scales": 3, "block_size": 8, "hidden_width": 8, "layers": 5, "out_dims": 5},
    ],
)
def test_2d_view_equals_torch_for_random_blocks(renderer: Any, settings: dict[str, Any]) -> None:
    config = LaplacianBlocksConfig(**{"dims": 2, "out_dims": 3, "omega": 10.0, **settings})
    snapshot = random_blocks_snapshot(config, seed=4)
    assert (snapshot.params["slots"] < 0).mean() > 0.1  # some blocks are pruned
    # zoomed in and panned past the image's edge: outside [0,1] the field clamps
    for camera in (Camera2D(), Camera2D(center=(0.35, 0.6), zoom=2.3)):
        error, _, expected = check_view(renderer, snapshot, camera)
        assert error <= 1e-3 * max(1.0, np.abs(expected).max())
        assert np.ptp(expected[..., 0]) > 0.2  # a non-trivial picture


def test_level_of_detail_cuts_and_masks_equal_torch(renderer: Any) -> None:
    config = LaplacianBlocksConfig(dims=2, size=(80, 64), scales=3, block_size=8, hidden_width=12, omega=10.0)
    snapshot = random_blocks_snapshot(config, seed=7)
    camera = Camera2D(center=(0.5, 0.5), zoom=1.2)
    _, full, _ = check_view(renderer, snapshot, camera)
    for mask in [(True, False, False), (True, True, False), (False, True, True), (False, False, False)]:
        error, image, expected = check_view(renderer, snapshot, camera, mask)
        assert error <= 1e-3 * max(1.0, np.abs(expected).max())
        assert np.abs(image - full).max() > 0.05  # the cut made a visible difference
    # all scales off: nothing left
    _, image, _ = check_view(renderer, snapshot, camera, (False, False, False))
    assert np.abs(image).max() == 0.0


def test_a_snapshot_without_any_mlp_reads_zero(renderer: Any) -> None:
    config = LaplacianBlocksConfig(dims=2, size=(64, 48), scales=2, block_size=16)
    snapshot = snapshot_of(configs.build_field(config), config.size)
    assert snapshot.params["weights"].shape[0] == 0
    image = renderer.draw(snapshot, Camera2D(), ViewOptions(width=32, height=24, mode="raw"))
    assert np.abs(image).max() == 0.0


def test_weights_are_packed_in_vec4s_per_layer() -> None:
    config = LaplacianBlocksConfig(dims=2, out_dims=3, size=(32, 32), scales=1, block_size=8, hidden_width=5, layers=3)
    weights = np.arange(2 * config.row_length, dtype=np.float32).reshape(2, -1)
    packed = pack_weights(config, weights).reshape(2, row_vec4s(config), 4)
    # layer 0: W (2 x 5) row-major then b (5), each row padded to 8 floats
    assert packed[1, 0].tolist() == weights[1, 0:4].tolist()
    assert packed[1, 1].tolist() == [weights[1, 4], 0, 0, 0]
    assert packed[1, 4].tolist() == weights[1, 10:14].tolist()  # layer 0's bias
    # the output layer's bias is the last vec4, padded from 3
    assert packed[1, -1].tolist() == [*weights[1, -3:], 0]


def blocks_image(width: int = 96, height: int = 64) -> np.ndarray:
    """A smooth colour gradient with a sharp disc and fine stripes on its right half."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    disc = ((x - 0.3) ** 2 + (y - 0.5) ** 2 < 0.04).astype(float)
    stripes = np.where(x > 0.6, 0.2 * np.sin(2 * np.pi * x * width / 4.0), 0.0)
    image = np.stack([0.2 + 0.6 * x + 0.2 * disc, 0.3 + 0.4 * y + stripes, 0.8 - 0.5 * disc + stripes], axis=-1)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def trained_blocks_snapshot() -> Any:
    """A 2D Laplacian-block field trained through its coarse scales into the finest one."""
    torch.manual_seed(0)
    image = blocks_image()
    config = LaplacianBlocksConfig(
        size=(96, 64), scales=3, block_size=8, omega=7.5, target_mse=1e-3, learning_rate=2e-3, max_epochs=60
    )
    trainer = Trainer(configs.build_field(config), ImageScene(image), TrainConfig(batch_size=1 << 14))
    while trainer.strategy.run is None or trainer.strategy.run.scale.scale > 0:
        trainer.step()
    for _ in range(5):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()


def test_2d_view_equals_torch_on_a_trained_field(renderer: Any, trained_blocks_snapshot: Any) -> None:
    snapshot = trained_blocks_snapshot
    status = snapshot.params["status"]
    assert (status == PRUNED).any() and (snapshot.params["slots"] >= 0).sum() > 10
    camera = Camera2D(center=(0.45, 0.55), zoom=1.7)
    error, _, expected = check_view(renderer, snapshot, camera)
    assert error <= 1e-3
    assert np.ptp(expected) > 0.3
    coarse_only = (True, True, False)
    error, _, coarse = check_view(renderer, snapshot, camera, coarse_only)
    assert error <= 1e-3
    assert np.abs(expected - coarse).max() > 0.02  # the finest scale adds detail


def test_3d_slice_equals_torch(renderer: Any) -> None:
    config = LaplacianBlocksConfig(
        dims=3, out_dims=1, size=(40, 32, 24), scales=3, block_size=4, hidden_width=10, layers=3, omega=10.0
    )
    snapshot = random_blocks_snapshot(config, seed=2)
    camera = Camera3D(azimuth=25.0, elevation=35.0)
    for mask in [(True, True, True), (True, True, False)]:
        options = ViewOptions(
            width=72, height=54, mode="slice_points", slice_axis=0, slice_position=0.55, level_mask=mask
        )
        points = renderer.draw(snapshot, camera, options)
        values = renderer.draw(snapshot, camera, replace(options, mode="raw"))
        on_plane = points[..., 3] > 0.5
        assert on_plane.mean() > 0.08
        # the shader evaluated the field at exactly these points: no block-edge ambiguity
        expected = torch_eval(snapshot, points[on_plane][:, :3], mask)
        assert np.abs(values[on_plane][:, 0] - expected[:, 0]).max() <= 1e-3 * max(1.0, np.abs(expected).max())
        assert np.ptp(expected) > 0.2
