"""Marching cubes out of a field: a sphere's SDF gives the sphere's area and volume, files round-trip."""

import math

import numpy as np
import pytest
import torch

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.mesh_export import (
    area_and_volume,
    extract_mesh,
    field_grid,
    grid_points,
    read_mesh_bytes,
    transform_points,
    write_mesh,
)


class SphereSdf(torch.nn.Module):
    """The exact signed distance to a sphere, as a 'field' (N, 3) -> (N, 1)."""

    def __init__(self, radius=0.3, centre=(0.5, 0.5, 0.5), inside_high=False):
        super().__init__()
        self.radius, self.inside_high = radius, inside_high
        self.register_buffer("centre", torch.tensor(centre))

    def forward(self, x):
        d = (x - self.centre).norm(dim=-1, keepdim=True) - self.radius
        return -d if self.inside_high else d


def test_grid_points_order_matches_field_grid_indexing():
    pts = grid_points(4, centres=True)
    assert pts.shape == (64, 3)
    assert torch.allclose(pts[1], torch.tensor([0.125, 0.125, 0.375]))  # z fastest
    assert torch.allclose(pts[16], torch.tensor([0.375, 0.125, 0.125]))  # x slowest
    values = field_grid(lambda_field(lambda x: x[:, :1] * 10 + x[:, 1:2] * 100 + x[:, 2:]), 5)
    i, j, k = 1, 3, 2
    assert values[i, j, k] == pytest.approx(i / 4 * 10 + j / 4 * 100 + k / 4, rel=1e-6)


def lambda_field(fn):
    class F(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return F()


@pytest.mark.parametrize("inside_high", [False, True])
def test_sphere_sdf_exports_with_area_and_volume_within_one_percent(inside_high):
    radius = 0.3
    vertices, faces = extract_mesh(SphereSdf(radius, inside_high=inside_high), 128, 0.0, inside_is_low=not inside_high)
    area, volume = area_and_volume(vertices, faces)
    assert area == pytest.approx(4 * math.pi * radius**2, rel=0.01)
    assert volume == pytest.approx(4 / 3 * math.pi * radius**3, rel=0.01)  # positive: normals point out
    assert np.abs(np.linalg.norm(vertices - 0.5, axis=1) - radius).max() < 1e-3


@pytest.mark.parametrize("suffix", [".ply", ".obj"])
def test_mesh_files_round_trip_with_colours(tmp_path, suffix):
    vertices, faces = extract_mesh(SphereSdf(0.25), 24)
    colors = np.random.default_rng(0).random((len(vertices), 3))
    path = tmp_path / f"sphere{suffix}"
    write_mesh(path, vertices, faces, colors)
    v, f, c = read_mesh_bytes(path.read_bytes(), suffix)
    assert v.shape == vertices.shape and f.shape == faces.shape
    assert np.allclose(v, vertices, atol=1e-5)
    assert c is not None and np.abs(c - colors).max() <= 1 / 255 + 1e-6
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_no_surface_and_bad_output_type_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="no surface at level 5"):
        extract_mesh(SphereSdf(0.3), 16, level=5.0)
    with pytest.raises(ConfigError, match="mesh resolution"):
        extract_mesh(SphereSdf(0.3), 4)
    vertices, faces = extract_mesh(SphereSdf(0.3), 16)
    with pytest.raises(ConfigError, match=r"unsupported mesh output type \.stl"):
        write_mesh(tmp_path / "x.stl", vertices, faces)
    assert list(tmp_path.iterdir()) == []


def test_transform_points_applies_an_affine_map():
    m = np.array([[2.0, 0, 0, 1], [0, 3, 0, 0], [0, 0, 1, -1], [0, 0, 0, 1]])
    assert np.allclose(transform_points(np.array([[1.0, 1.0, 1.0]]), m), [[3.0, 3.0, 0.0]])
