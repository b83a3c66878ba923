"""Surface metrics (fields/analysis/surface_metrics.py): the k-d tree's nearest pairs equal brute
force, and the analytic cases come out: a mesh against itself 0 and normal consistency 1,
concentric spheres |r1 - r2|, a plane against the plane tilted by theta cos(theta)."""

import math

import numpy as np
import pytest
import trimesh

from fieldscope.fields.analysis.surface_metrics import Reference, sample_surface, surface_metrics
from fieldscope.fields.errors import ConfigError


def sphere(radius: float, subdivisions: int = 4, centre: tuple[float, float, float] = (0.0, 0.0, 0.0)):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(mesh.vertices) + np.asarray(centre), np.asarray(mesh.faces)


def square(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The unit square in the xy plane, centred on the origin, tilted by `angle` about the x axis."""
    c, s = math.cos(angle), math.sin(angle)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    vertices = np.stack([corners[:, 0], corners[:, 1] * c, corners[:, 1] * s], axis=1)
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def brute_force(a, b) -> tuple[float, float]:
    """Halved symmetric Chamfer distance and normal consistency by all pairs of samples."""
    distances = np.linalg.norm(a.points[:, None, :] - b.points[None, :, :], axis=-1)
    a_to_b, b_to_a = distances.argmin(axis=1), distances.argmin(axis=0)
    chamfer = 0.5 * (distances.min(axis=1).mean() + distances.min(axis=0).mean())
    dots = 0.5 * (
        np.abs((a.normals * b.normals[a_to_b]).sum(axis=1)).mean()
        + np.abs((b.normals * a.normals[b_to_a]).sum(axis=1)).mean()
    )
    return float(chamfer), float(dots)


def test_the_tree_finds_the_same_nearest_pairs_as_brute_force():
    rng = np.random.default_rng(3)
    vertices, faces = sphere(1.0, subdivisions=2)
    bumpy = vertices * rng.uniform(0.8, 1.2, size=(len(vertices), 1)) + (0.1, 0.0, -0.05)
    reference = Reference(vertices, faces, points=700, seed=5)
    predicted = sample_surface(bumpy, faces, 700, seed=5)
    score = reference.score_samples(predicted)
    chamfer, consistency = brute_force(predicted, reference.samples)
    assert score.chamfer == pytest.approx(chamfer, rel=1e-12)
    assert score.normal_consistency == pytest.approx(consistency, rel=1e-12)
    assert 0.0 < score.normal_consistency < 0.999 and score.chamfer > 0.01  # the bumps are seen
    assert score.chamfer == pytest.approx(0.5 * (score.accuracy + score.completeness))
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    assert score.diagonal == pytest.approx(float(np.linalg.norm(extent)))
    assert score.chamfer_relative == pytest.approx(score.chamfer / score.diagonal)
    assert score.as_dict()["chamfer_percent"] == pytest.approx(100.0 * score.chamfer_relative)


def test_a_mesh_against_itself_scores_zero_and_consistency_one():
    mesh = sphere(0.7, subdivisions=3)
    score = surface_metrics(mesh, mesh, points=5000)
    assert score.chamfer == 0.0 and score.normal_consistency == pytest.approx(1.0, abs=1e-12)
    # another sampling of the same surface: the floor, a Poisson process's mean nearest-neighbour
    # distance 1 / (2 sqrt(density)) = sqrt(area / N) / 2
    floor = Reference(*mesh, points=5000).floor
    area = trimesh.Trimesh(*mesh).area
    assert floor.chamfer == pytest.approx(0.5 * math.sqrt(area / 5000), rel=0.05)
    assert floor.normal_consistency > 0.99


@pytest.mark.parametrize(("r1", "r2"), [(1.0, 1.2), (0.5, 0.45)])
def test_concentric_spheres_are_their_radii_apart(r1, r2):
    score = surface_metrics(sphere(r1), sphere(r2), points=20_000, seed=1)
    assert score.chamfer == pytest.approx(abs(r1 - r2), rel=0.04)
    assert score.accuracy == pytest.approx(score.completeness, rel=0.05)
    assert score.chamfer_relative == pytest.approx(abs(r1 - r2) / (2 * math.sqrt(3) * r2), rel=0.05)
    assert score.normal_consistency > 0.98  # radial normals on both


def test_a_tilted_plane_has_the_cosine_of_its_tilt_as_normal_consistency():
    angle = math.radians(40)
    score = surface_metrics(square(angle), square(0.0), points=4000, seed=2)
    assert score.normal_consistency == pytest.approx(math.cos(angle), abs=1e-9)
    shifted = surface_metrics(square(0.0), square(0.0), points=4000)
    assert shifted.chamfer == 0.0


def test_the_score_does_not_depend_on_a_rigid_motion_of_both_meshes():
    a, b = sphere(1.0, 2), sphere(0.9, 2, centre=(0.05, 0.0, 0.0))
    rotation = trimesh.transformations.rotation_matrix(0.7, [1.0, 2.0, 3.0])[:3, :3]
    moved = [(v @ rotation.T + (3.0, -1.0, 2.0), f) for v, f in (a, b)]
    plain, turned = surface_metrics(a, b, points=3000), surface_metrics(*moved, points=3000)
    assert turned.chamfer == pytest.approx(plain.chamfer, rel=1e-9)
    assert turned.normal_consistency == pytest.approx(plain.normal_consistency, rel=1e-9)


def test_a_mesh_without_area_is_a_clear_error():
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    with pytest.raises(ConfigError, match="no area"):
        surface_metrics((vertices, np.array([[0, 1, 2]])), sphere(1.0, 1), points=100)
