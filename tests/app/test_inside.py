"""What the view shows inside a field, against brute force and torch: the points overlay's dots at
the projected means, collision heatmaps against a numpy count of every vertex, the points-per-vertex
heatmap, per-level contribution maps, and the legends."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from scipy import ndimage

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.colormaps import inferno
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig
from fieldscope.fields.kinds.hashgrid import HashGridConfig, layout_of
from fieldscope.fields.reference import PRIMES
from tests.app.test_renderer import random_snapshot, snapshot_of, torch_eval


def lattice_snapshot(dims: int, jitter: float = 0.2, seed: int = 0) -> Any:
    """A Gaussian-bucket field with one Lagrangian level of 9^D buckets (N=8, dense, K=1) whose
    points sit on a jittered lattice inside the domain, well apart."""
    config = GaussianBucketsConfig(
        dims=dims, out_dims=3 if dims == 2 else 1, levels=3, lagrangian_levels=1, points_per_bucket=1,
        log2_table_size=10, base_resolution=2, growth=2.0,
    )  # fmt: skip
    torch.manual_seed(seed)
    field = configs.build_field(config)
    axes = [np.linspace(0.1, 0.9, 9)] * dims
    lattice = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dims)
    lattice += np.random.default_rng(seed).uniform(-jitter, jitter, lattice.shape) / 9
    with torch.no_grad():
        field.encoding.lagrangian.means.copy_(torch.from_numpy(lattice.astype(np.float32)))
    return snapshot_of(field)


def dot_centres(layer: np.ndarray) -> np.ndarray:
    """(n, 2) alpha-weighted centres (column, row; pixel centres at +0.5) of the layer's blobs."""
    alpha = layer[..., 3]
    labels, count = ndimage.label(alpha > 0.01)
    rows, cols = np.mgrid[0 : alpha.shape[0], 0 : alpha.shape[1]] + 0.5
    centres = []
    for blob in range(1, count + 1):
        w = np.where(labels == blob, alpha, 0.0)
        centres.append(((cols * w).sum() / w.sum(), (rows * w).sum() / w.sum()))
    return np.array(centres)


def nearest_distances(found: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.linalg.norm(found[:, None, :] - expected[None, :, :], axis=-1).min(axis=1)


def test_2d_dots_sit_at_the_projected_means(renderer: Any) -> None:
    snapshot = lattice_snapshot(2)
    camera = Camera2D(center=(0.52, 0.47), zoom=1.4)
    width, height = 320, 240
    options = ViewOptions(width=width, height=height, points=(True,), sigma_circles=False, legend=False)
    layer = renderer.frame(snapshot, camera, options).layer()
    means = np.asarray(snapshot.params["encoding.lagrangian.means"])
    origin, axis_x, axis_y = camera.mapping(width, height, (300, 200))
    expected = (means - origin) / np.array([axis_x[0], axis_y[1]]) * np.array([width, height])
    inside = np.all((expected > 4) & (expected < np.array([width, height]) - 4), axis=1)
    found = dot_centres(layer)
    assert len(found) == inside.sum() > 30  # one dot per mean in view, none elsewhere
    assert nearest_distances(found, expected[inside]).max() < 0.15
    # the view with the points is the view without them, with the layer laid over it
    plain = renderer.draw(snapshot, camera, replace(options, points=()))
    shown = renderer.draw(snapshot, camera, options)
    assert np.allclose(shown[..., :3], layer[..., :3] + (1 - layer[..., 3:]) * plain[..., :3], atol=1e-5)
    assert np.abs(shown - plain).max() > 0.3
    assert renderer.frame(snapshot, camera, replace(options, points=(False,))).layer() is None


def project(camera: Camera3D, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel positions (n, 2) of 3D points (column, row from the top), as view3d.frag casts rays."""
    eye, forward, right, up = camera.basis()
    d = points - eye
    z = d @ forward
    tan = np.tan(np.radians(camera.fov) / 2)
    ndc = np.stack([(d @ right) / (z * tan * width / height), (d @ up) / (z * tan)], axis=1)
    return np.stack([(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height], axis=1)


def test_3d_dots_sit_at_the_projected_means(renderer: Any) -> None:
    snapshot = lattice_snapshot(3, jitter=0.3)
    camera = Camera3D(azimuth=30.0, elevation=20.0, distance=2.2)
    width, height = 200, 160
    means = np.array(snapshot.params["encoding.lagrangian.means"])
    pixels = project(camera, means, width, height)
    keep: list[int] = []  # points at least 10 pixels apart on screen
    for i, p in enumerate(pixels):
        if all(np.linalg.norm(p - pixels[j]) >= 10 for j in keep):
            keep.append(i)
    behind = np.setdiff1d(np.arange(len(means)), keep)
    means[behind] = camera.basis()[0] - 3.0 * camera.basis()[1]  # behind the eye: not drawn
    snapshot = replace(snapshot, params={**snapshot.params, "encoding.lagrangian.means": means})
    options = ViewOptions(width=width, height=height, mode="shaded", points=(True,), sigma_circles=False)
    layer = renderer.frame(snapshot, camera, replace(options, legend=False)).layer()
    found = dot_centres(layer)
    assert len(found) == len(keep) > 20
    assert nearest_distances(found, pixels[keep]).max() < 0.15
    # with sigma splats on, every dot gets a soft disc around it
    splats = renderer.frame(snapshot, camera, replace(options, sigma_circles=True, legend=False)).layer()
    assert (splats[..., 3] > 0.01).sum() > 2 * (layer[..., 3] > 0.01).sum()


def brute_force_counts(dims: int, resolution: int, hashed: bool, table_size: int) -> np.ndarray:
    """Vertices per table entry, by hashing every vertex of the level with numpy (int64)."""
    axes = [np.arange(resolution + 1, dtype=np.int64)] * dims
    vertices = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dims)
    if hashed:
        rows = np.zeros(len(vertices), np.int64)
        for d in range(dims):
            rows ^= (vertices[:, d] * PRIMES[d]) & 0xFFFFFFFF
        rows &= table_size - 1
    else:
        rows = sum(vertices[:, d] * (resolution + 1) ** d for d in range(dims))
    return np.bincount(rows, minlength=table_size if hashed else (resolution + 1) ** dims)


def cell_corner_rows(points: np.ndarray, resolution: int, hashed: bool, table_size: int) -> np.ndarray:
    """(n, 2^D) rows of the corners of each point's cell, cells found in float32 as the shaders do."""
    dims = points.shape[1]
    pos = np.clip(points.astype(np.float32), 0, 1) * np.float32(resolution)
    cell = np.minimum(np.floor(pos), resolution - 1).astype(np.int64)
    bits = np.array([[(c >> d) & 1 for d in range(dims)] for c in range(1 << dims)])
    corners = cell[:, None, :] + bits[None]
    if hashed:
        rows = np.zeros(corners.shape[:2], np.int64)
        for d in range(dims):
            rows ^= (corners[..., d] * PRIMES[d]) & 0xFFFFFFFF
        return rows & (table_size - 1)
    return sum(corners[..., d] * (resolution + 1) ** d for d in range(dims))


@pytest.mark.parametrize("level", [1, 2, 3])
def test_2d_collision_heatmap_equals_a_brute_force_count(renderer: Any, level: int) -> None:
    config = HashGridConfig(dims=2, levels=4, log2_table_size=10, base_resolution=8, growth=2.0)
    layout = layout_of(config)
    assert layout.hashed[level] == (level >= 2)  # N = 16 is dense, 32 and 64 are hashed
    snapshot = random_snapshot(config, seed=0)
    camera = Camera2D(center=(0.5, 0.5), zoom=1.1)
    options = ViewOptions(width=120, height=90, mode="heat_raw", heatmap="collisions", heat_level=level)
    image = renderer.draw(snapshot, camera, options)
    n, hashed = layout.resolution[level], layout.hashed[level]
    counts = brute_force_counts(2, n, hashed, config.table_size)
    coords = camera.field_coords(120, 90, (300, 200)).reshape(-1, 2)
    expected = counts[cell_corner_rows(coords, n, hashed, config.table_size)].max(axis=1).reshape(90, 120)
    assert np.array_equal(image[..., 0], expected.astype(np.float32))
    assert expected.max() >= 2 if hashed else expected.max() == 1  # dense levels never collide


@pytest.mark.parametrize("level", [0, 2])
def test_3d_collision_heatmap_on_the_slice_equals_a_brute_force_count(renderer: Any, level: int) -> None:
    config = HashGridConfig(dims=3, out_dims=1, levels=3, log2_table_size=10, base_resolution=6, growth=2.0)
    layout = layout_of(config)
    assert not layout.hashed[0] and layout.hashed[2]
    snapshot = random_snapshot(config, seed=1)
    camera = Camera3D(azimuth=15.0, elevation=40.0)
    options = ViewOptions(width=80, height=60, mode="slice_points", slice_axis=1, slice_position=0.4)
    points = renderer.draw(snapshot, camera, options)
    heat = renderer.draw(snapshot, camera, replace(options, mode="heat_raw", heatmap="collisions", heat_level=level))
    on = points[..., 3] > 0.5
    assert on.mean() > 0.1 and np.array_equal(on, heat[..., 3] > 0.5)
    n, hashed = layout.resolution[level], layout.hashed[level]
    counts = brute_force_counts(3, n, hashed, config.table_size)
    expected = counts[cell_corner_rows(points[on][:, :3], n, hashed, config.table_size)].max(axis=1)
    assert np.mean(heat[on][:, 0] == expected) > 0.995  # cells on a cell boundary may round either way
    if hashed:
        assert expected.max() >= 2


def test_points_per_vertex_heatmap_equals_a_brute_force_count(renderer: Any) -> None:
    config = GaussianBucketsConfig(
        dims=2, levels=3, lagrangian_levels=2, points_per_bucket=3, log2_table_size=10, base_resolution=8, growth=2.0
    )
    layout = layout_of(config)
    level, n, table = 2, layout.resolution[2], config.table_size  # N = 32: 1089 vertices hashed into 1024
    assert layout.hashed[level]
    torch.manual_seed(3)
    field = configs.build_field(config)
    rng = np.random.default_rng(0)
    # in every bucket, point 0 sits in a cell next to one of the bucket's vertices, the others anywhere
    vertices = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"), -1).reshape(-1, 2)
    bucket_of = cell_corner_rows(vertices / n, n, True, table)[:, 0]  # the cell's lower corner is the vertex
    home = np.zeros((table, 2))
    home[bucket_of] = vertices / n
    means = rng.uniform(0, 1, (table, 3, 2))
    means[:, 0] = np.clip(home + rng.uniform(-0.9, 0.9, (table, 2)) / n, 0, 1)
    start = layout.offset[level] - layout.offset[1]  # first bucket of the level among the Lagrangian rows
    with torch.no_grad():
        field.encoding.lagrangian.means[start * 3 :] = torch.from_numpy(means.reshape(-1, 2).astype(np.float32))
    snapshot = snapshot_of(field)
    camera = Camera2D(center=(0.5, 0.5), zoom=1.2)
    options = ViewOptions(width=96, height=72, mode="heat_raw", heatmap="points_per_vertex", heat_level=level)
    image = renderer.draw(snapshot, camera, options)
    x = camera.field_coords(96, 72, (300, 200)).reshape(-1, 2)
    rows = cell_corner_rows(x, n, True, table)  # (P, 4) buckets of the pixel's cell corners
    pos = np.clip(x, 0, 1) * np.float32(n)
    cell = np.minimum(np.floor(pos), n - 1)
    frac = pos - cell
    bits = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    alpha = np.prod(np.where(bits[None] == 1, frac[:, None, :], 1 - frac[:, None, :]), axis=-1)
    vertex = (cell[:, None, :] + bits[None]) / n  # (P, 4, 2)
    near = np.abs(means[rows] - vertex[:, :, None, :]).max(axis=-1) < 1.0 / n  # (P, 4, K)
    expected = (alpha * near.sum(axis=-1)).sum(axis=1).reshape(72, 96)
    assert np.abs(image[..., 0] - expected).max() < 1e-4
    assert expected.max() > 1.0 and (expected == 0).mean() < 0.9  # points serve vertices here and there


@pytest.mark.parametrize("kind", ["hashgrid", "gaussian_buckets"])
def test_contribution_map_is_the_change_when_the_level_is_off(renderer: Any, kind: str) -> None:
    settings = {"dims": 2, "levels": 5, "log2_table_size": 10, "base_resolution": 6, "growth": 1.7}
    if kind == "hashgrid":
        snapshot = random_snapshot(HashGridConfig(**settings), seed=4)
    else:
        from tests.app.test_gaussian_buckets_gl import random_gaussian_snapshot

        snapshot = random_gaussian_snapshot(GaussianBucketsConfig(**settings), seed=4, sigma_scale=3.0)
    camera = Camera2D(center=(0.5, 0.5), zoom=1.0)
    coords = camera.field_coords(64, 48, (300, 200))
    full = torch_eval(snapshot, coords)
    mask = (True, True, False, True, True)  # a level the user switched off stays off in both
    for level in (1, 4):
        options = ViewOptions(
            width=64, height=48, mode="heat_raw", heatmap="contribution", heat_level=level, level_mask=mask
        )
        image = renderer.draw(snapshot, camera, options)
        without = tuple(on and lvl != level for lvl, on in enumerate(mask))
        expected = np.abs(torch_eval(snapshot, coords, mask) - torch_eval(snapshot, coords, without)).mean(-1)
        assert np.abs(image[..., 0] - expected).max() <= 2e-3 * max(1.0, np.abs(full).max())
        assert expected.max() > 0.01
    off = renderer.draw(snapshot, camera, replace(options, heat_level=2))
    assert np.abs(off[..., 0]).max() == 0.0  # the level that is off contributes nothing


def test_heatmap_legend_shows_the_colour_map_and_its_range(renderer: Any) -> None:
    config = HashGridConfig(dims=2, levels=4, log2_table_size=10, base_resolution=8, growth=2.0)
    snapshot = random_snapshot(config, seed=0)
    options = ViewOptions(width=320, height=240, heatmap="collisions", heat_level=3)
    frame = renderer.frame(snapshot, Camera2D(), options)
    assert frame.heat.kind == 1 and frame.heat.low == "1"
    assert frame.heat.high == str(brute_force_counts(2, 64, True, config.table_size).max())
    layer = frame.layer()
    opaque = layer[..., 3] > 0.999
    # one row of the colour bar runs through inferno from bottom to top
    samples = inferno(np.linspace(0, 1, 256))
    best = 0.0
    for row in np.flatnonzero(opaque.sum(axis=1) > 60):
        colours = layer[row][opaque[row]][:, :3]
        distance = np.abs(colours[:, None, :] - samples[None]).max(axis=-1)
        matched = distance.min(axis=1) < 2.5 / 255
        if matched.sum() > 60:
            t = distance.argmin(axis=1)[matched] / 255
            best = max(best, t.max() - t.min())
    assert best > 0.95
    # and the view without a legend has no layer at all
    assert renderer.frame(snapshot, Camera2D(), replace(options, legend=False)).layer() is None


def test_drawing_points_gives_the_window_its_gl_context_back(renderer: Any, app: Any) -> None:
    """The window's context, current before a draw with points, is current after it: the renderer
    never nests `with ctx`, whose exit would leave ours current (the window then draws into it and
    crashes). No context is made here: a new one would take the window's place."""
    import ctypes

    glx = ctypes.CDLL("libGL.so.1")
    glx.glXGetCurrentContext.restype = ctypes.c_void_p
    app.frame()
    before = glx.glXGetCurrentContext()
    assert before
    options = ViewOptions(width=64, height=48, points=(True,), heatmap="points_per_vertex", heat_level=2)
    renderer.draw(lattice_snapshot(2), Camera2D(), options)
    assert glx.glXGetCurrentContext() == before
