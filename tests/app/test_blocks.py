"""The Laplacian-block overlay against the field's own inspect(): block states and errors read from
a snapshot, the overlay's pixels at every block centre in an offscreen render, the block under a
point (hover) against the field's own `locate`, active-block counts, and the block key legend."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.renderer import ViewOptions, image_size
from fieldscope.app.state import blocks
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig
from fieldscope.fields.kinds.laplacian_blocks.layout import ACTIVE, CONVERGED, PRUNED, STATUS_NAMES, locate
from fieldscope.fields.scenes.image import ImageScene
from tests.app.test_renderer import snapshot_of
from tests.fields.test_laplacian_blocks_field import QUICK, half_flat_image, train


@pytest.fixture(scope="module")
def trained() -> tuple[Any, Any]:
    """A Laplacian-block field trained coarse to fine into its finest scale (128 x 64, J=3,
    8-sample blocks): converged, pruned and active blocks, and its snapshot."""
    config = LaplacianBlocksConfig(size=(128, 64), scales=3, block_size=8, omega=7.5, **QUICK)
    field, _ = train(config, ImageScene(half_flat_image()), steps=200)  # the finest scale training
    return field, snapshot_of(field, size=(128, 64))


def test_block_states_and_errors_are_those_of_inspect(trained: tuple[Any, Any]) -> None:
    field, snapshot = trained
    report = field.inspect()
    levels = blocks.block_levels(snapshot)
    assert len(levels) == len(report["blocks"]) == 3
    for shown, grid, line in zip(levels, report["blocks"], report["levels"], strict=True):
        assert np.array_equal(shown.status, grid["status"]) and np.array_equal(shown.error, grid["error"])
        assert shown.counts() == {name: line[name] for name in STATUS_NAMES}
    states = np.concatenate([b.status.reshape(-1) for b in levels])
    assert {ACTIVE, PRUNED} <= set(states.tolist()) and CONVERGED in states  # a real mix of states
    assert blocks.active_counts(snapshot) == tuple(line["active"] for line in report["levels"])


def block_centres(shown: blocks.BlockLevel) -> np.ndarray:
    """Field coordinates (n, 2) of the centre of every block inside the domain, and their indices."""
    ix, iy = np.meshgrid(np.arange(shown.blocks[0]), np.arange(shown.blocks[1]), indexing="ij")
    index = np.stack([ix.reshape(-1), iy.reshape(-1)], axis=1)
    centres = (index + 0.5) * np.asarray(shown.side)
    keep = np.all(centres < 1.0, axis=1)
    return centres[keep], index[keep]


@pytest.mark.parametrize("level", [0, 1, 2])
def test_overlay_pixels_at_block_centres_have_the_inspected_state_colour(
    renderer: Any, trained: tuple[Any, Any], level: int
) -> None:
    field, snapshot = trained
    grid = field.inspect()["blocks"][level]
    camera = Camera2D(center=(0.5, 0.5), zoom=1.05)
    width, height = 320, 200
    options = ViewOptions(width=width, height=height, blocks=level, legend=False)
    layer = renderer.frame(snapshot, camera, options).layer()
    centres, index = block_centres(blocks.block_levels(snapshot)[level])
    origin, axis_x, axis_y = camera.mapping(width, height, image_size(snapshot))
    pixels = np.floor((centres - origin) / np.array([axis_x[0], axis_y[1]]) * np.array([width, height])).astype(int)
    inside = np.all((pixels >= 0) & (pixels < np.array([width, height])), axis=1)
    assert inside.mean() > 0.9
    found = layer[pixels[inside, 1], pixels[inside, 0]]
    state = grid["status"][index[inside, 1], index[inside, 0]]
    expected = blocks.STATE_COLOURS[state.astype(int)].copy()
    expected[:, :3] *= expected[:, 3:]
    assert np.abs(found - expected).max() < 1e-6
    # grid lines between blocks, none inside a block's interior
    assert (np.abs(layer - blocks.LINE_COLOUR * np.r_[[blocks.LINE_COLOUR[3]] * 3, 1.0]).max(-1) < 1e-6).sum() > 100
    assert renderer.frame(snapshot, camera, replace(options, blocks=-1)).layer() is None


def test_the_block_under_a_point_is_the_fields_own(trained: tuple[Any, Any]) -> None:
    field, snapshot = trained
    report = field.inspect()
    points = np.random.default_rng(0).uniform(0, 1, (200, 2))
    for level in range(3):
        scale = field.layout[field.config.scales - 1 - level]
        ids, _ = locate(torch.from_numpy(points).float(), scale, field.config.size)
        status = field.status[scale.first + ids].numpy()
        error = field.error[scale.first + ids].numpy()
        for p, s, e, i in zip(points, status, error, ids.numpy(), strict=True):
            found = blocks.block_at(snapshot, level, p)
            assert found.state == STATUS_NAMES[s] and found.error == pytest.approx(float(e))
            assert found.index == (i % scale.blocks[0], i // scale.blocks[0])
            grid = report["blocks"][level]
            assert grid["status"][found.index[1], found.index[0]] == s
    assert blocks.block_at(snapshot, 0, np.array([1.2, 0.5])) is None
    text = blocks.block_at(snapshot, 2, np.array([0.9, 0.9])).describe()
    assert text.startswith("level 2 (scale 0) block (") and ("residual MSE" in text or "not measured" in text)


def test_the_legend_keys_the_states_with_their_counts(renderer: Any, trained: tuple[Any, Any]) -> None:
    field, snapshot = trained
    frame = renderer.frame(snapshot, Camera2D(), ViewOptions(width=320, height=240, blocks=1))
    content = frame.legend_content()
    assert content.blocks_title == "level 1 blocks (scale 1)"
    assert dict(content.blocks) == {name: field.inspect()["levels"][1][name] for name in STATUS_NAMES}
    with_key = frame.layer()
    without = renderer.frame(snapshot, Camera2D(), ViewOptions(width=320, height=240, blocks=1, legend=False)).layer()
    assert np.abs(with_key[:60, :160] - without[:60, :160]).max() > 0.3  # the key, top left


def test_3d_blocks_are_drawn_on_the_slice_plane_by_state(renderer: Any) -> None:
    config = LaplacianBlocksConfig(dims=3, out_dims=1, size=(32, 32, 32), scales=2, block_size=8)
    field = configs.build_field(config)
    rng = np.random.default_rng(1)
    with torch.no_grad():
        field.status.copy_(torch.from_numpy(rng.integers(0, len(STATUS_NAMES), field.status.shape).astype(np.int8)))
        field.error.copy_(torch.from_numpy(rng.uniform(0, 1e-3, field.error.shape).astype(np.float32)))
    snapshot = snapshot_of(field, size=(32, 32, 32))
    camera = Camera3D(azimuth=25.0, elevation=35.0)
    options = ViewOptions(width=96, height=72, mode="slice", slice_axis=1, slice_position=0.4, legend=False)
    plane = renderer.draw(snapshot, camera, replace(options, mode="slice_points"))
    layer = renderer.frame(snapshot, camera, replace(options, blocks=1)).layer()
    on = plane[..., 3] > 0.5
    assert on.mean() > 0.1 and np.all(layer[~on] == 0.0)
    grid = field.inspect()["blocks"][1]["status"]  # level 1: the finest scale, 4 x 4 x 4 blocks
    index = np.minimum(np.floor(np.clip(plane[on][:, :3], 0, 1) * 4).astype(int), 3)
    expected = blocks.STATE_COLOURS[grid[index[:, 2], index[:, 1], index[:, 0]].astype(int)].copy()
    expected[:, :3] *= expected[:, 3:]
    line = blocks.LINE_COLOUR * np.r_[[blocks.LINE_COLOUR[3]] * 3, 1.0]
    is_line = np.abs(layer[on] - line).max(axis=-1) < 1e-6
    assert 0.02 < is_line.mean() < 0.5  # grid lines between the blocks on the plane
    assert np.abs(layer[on][~is_line] - expected[~is_line]).max() < 1e-6


def test_the_slice_point_under_the_mouse_is_the_one_the_view_draws(renderer: Any) -> None:
    """3D hover: the slice plane's point under a pixel (numpy) equals the renderer's slice_points."""
    from fieldscope.fields.kinds.hashgrid import HashGridConfig
    from tests.app.test_renderer import random_snapshot

    snapshot = random_snapshot(HashGridConfig(dims=3, out_dims=1, levels=2, log2_table_size=10), seed=0)
    camera = Camera3D(azimuth=40.0, elevation=25.0)
    width, height, axis, position = 80, 60, 0, 0.3
    options = ViewOptions(width=width, height=height, mode="slice_points", slice_axis=axis, slice_position=position)
    plane = renderer.draw(snapshot, camera, options)
    hits = 0
    for row, col in np.ndindex(height, width):
        found = camera.slice_point(width, height, (col + 0.5, row + 0.5), axis, position)
        on = plane[row, col, 3] > 0.5
        if (found is not None) != on:  # only on the square's rim, where rounding decides
            rim = found if found is not None else plane[row, col, :3]
            assert np.min(np.minimum(rim, 1 - rim)[[1, 2]]) < 1e-3
            continue
        if found is None:
            continue
        hits += 1
        assert np.abs(found - plane[row, col, :3]).max() < 1e-4
    assert hits > 0.1 * width * height
