"""How close one mesh is to another: the Chamfer distance and the normal consistency of a predicted
surface against a reference surface, from area-uniform point samples on both (trimesh) and nearest
neighbours among them (a k-d tree: scipy's cKDTree).

The Chamfer distance here is the *halved* symmetric one: the mean over the predicted samples of the
distance to the nearest reference sample ("accuracy"), plus the mean over the reference samples of
the distance to the nearest predicted sample ("completeness"), divided by two, in the meshes' own
units, and also as a share of the reference's bounding-box diagonal. Distances go to the nearest
*sample* of the other surface, not to its exact nearest point: with N samples the two differ by
about the samples' spacing, sqrt(area / N) / 2 or less; `Reference.floor` measures that floor
(the reference against a second, independent sampling of itself).

Normal consistency is the mean of |n_a . n_b| over the same nearest pairs, both directions halved
(1: every nearest pair has parallel face normals; the sign is ignored, so an inside-out mesh scores
as well as an outward one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.mesh_export import load_trimesh

#: Samples on each surface (the common choice of the surface-reconstruction benchmarks' scripts).
DEFAULT_POINTS = 100_000


@dataclass(frozen=True)
class SurfaceSamples:
    """Area-uniform samples on a mesh: points (N, 3) float64 and their faces' unit normals (N, 3)."""

    points: np.ndarray
    normals: np.ndarray


@dataclass(frozen=True)
class SurfaceScore:
    """A predicted surface against a reference: `chamfer` (halved symmetric, mesh units) =
    (accuracy + completeness) / 2; `chamfer_relative` = chamfer / the reference's bounding-box
    diagonal; `normal_consistency` in [0, 1]; `points` samples on each surface."""

    chamfer: float
    chamfer_relative: float
    accuracy: float
    completeness: float
    normal_consistency: float
    diagonal: float
    points: int

    def as_dict(self) -> dict[str, float]:
        return {
            "chamfer": self.chamfer,
            "chamfer_percent": 100.0 * self.chamfer_relative,
            "accuracy": self.accuracy,
            "completeness": self.completeness,
            "normal_consistency": self.normal_consistency,
        }


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int) -> SurfaceSamples:
    """`count` area-uniform points on a triangle mesh (vertices (V, 3), faces (F, 3)) with their
    faces' unit normals, from a fixed seed (the same seed on the same mesh gives the same points)."""
    if count < 1:
        raise ConfigError(f"surface samples must be at least 1, not {count}")
    trimesh = load_trimesh()
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
    if not mesh.area > 0.0:
        raise ConfigError("the mesh has no area to sample (no triangles, or only degenerate ones)")
    points, face_index = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return SurfaceSamples(np.asarray(points, np.float64), unit_normals(mesh.vertices, mesh.faces)[face_index])


def unit_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit face normals (F, 3) of a triangle mesh (zero for degenerate faces, never sampled)."""
    corners = np.asarray(vertices, np.float64)[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(cross, axis=1, keepdims=True)
    return np.where(length > 0, cross / np.maximum(length, 1e-300), 0.0)


def nearest(tree: cKDTree, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances (Q,) and indices (Q,) of the nearest tree point of each query point (Q, 3)."""
    distances, indices = tree.query(query, k=1, workers=-1)
    return np.asarray(distances, np.float64), np.asarray(indices, np.int64)


def one_way(tree: cKDTree, normals: np.ndarray, query: SurfaceSamples) -> tuple[float, float]:
    """Mean distance from the query samples to the nearest tree samples, and the mean |n . n'| of
    those pairs (normals (P, 3): the tree points' normals)."""
    distances, indices = nearest(tree, query.points)
    dots = np.abs(np.einsum("ij,ij->i", query.normals, normals[indices]))
    return float(distances.mean()), float(dots.mean())


class Reference:
    """A reference surface sampled once (its samples' k-d tree kept), against which predicted meshes
    are scored with `score`. vertices (V, 3), faces (F, 3) in the reference's own units."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, points: int = DEFAULT_POINTS, seed: int = 0) -> None:
        vertices = np.asarray(vertices, np.float64)
        self.points = points
        self.seed = seed
        self.samples = sample_surface(vertices, faces, points, seed)
        self.tree = cKDTree(self.samples.points)
        self.diagonal = float(np.linalg.norm(vertices.max(axis=0) - vertices.min(axis=0)))
        self._faces = np.asarray(faces, np.int64)
        self._vertices = vertices
        self._floor: SurfaceScore | None = None

    def score(self, vertices: np.ndarray, faces: np.ndarray) -> SurfaceScore:
        """The predicted mesh (V, 3), (F, 3) against this reference (its samples drawn with the
        same seed as the reference's)."""
        return self.score_samples(sample_surface(vertices, faces, self.points, self.seed))

    def score_samples(self, predicted: SurfaceSamples) -> SurfaceScore:
        """Samples on the predicted surface against this reference (see SurfaceScore)."""
        accuracy, normals_to_reference = one_way(self.tree, self.samples.normals, predicted)
        completeness, normals_to_predicted = one_way(cKDTree(predicted.points), predicted.normals, self.samples)
        chamfer = 0.5 * (accuracy + completeness)
        return SurfaceScore(
            chamfer=chamfer,
            chamfer_relative=chamfer / self.diagonal if self.diagonal > 0 else float("inf"),
            accuracy=accuracy,
            completeness=completeness,
            normal_consistency=0.5 * (normals_to_reference + normals_to_predicted),
            diagonal=self.diagonal,
            points=len(predicted.points),
        )

    @property
    def floor(self) -> SurfaceScore:
        """The reference against another sampling of itself (seed + 1): the smallest score a
        perfect prediction can expect from samples of this size (computed once)."""
        if self._floor is None:
            self._floor = self.score_samples(sample_surface(self._vertices, self._faces, self.points, self.seed + 1))
        return self._floor


def surface_metrics(
    predicted: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    points: int = DEFAULT_POINTS,
    seed: int = 0,
) -> SurfaceScore:
    """Chamfer distance and normal consistency of a predicted mesh (vertices (V, 3), faces (F, 3))
    against a reference mesh, from `points` samples on each (fixed seed). See the module notes."""
    return Reference(*reference, points=points, seed=seed).score(*predicted)
