"""What the mesh scenes (SDF, occupancy) share: the normalised mesh and its oracle, a sample pool,
the ground-truth inside grid, and the shape metrics (IoU on a grid, Chamfer distance of the
extracted surface to the mesh)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fieldscope.fields.config import check
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.mesh_export import field_grid, grid_points, marching_cubes
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.scenes.mesh import MeshOracle, SamplePool, load_mesh, normalise

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase

#: Finest grid resolution the command line gives a field fitted to a mesh (as Instant-NGP's 2048,
#: halved for CPU budgets).
MESH_EXTENT = 1024


def iou(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    """Intersection over union of two boolean occupancies of the same shape (1.0 if both empty)."""
    union = int((predicted | truth).sum())
    return 1.0 if union == 0 else int((predicted & truth).sum()) / union


def chamfer_distance(
    vertices: np.ndarray, faces: np.ndarray, truth: MeshOracle, points: int, generator: torch.Generator
) -> float:
    """Symmetric Chamfer distance (mean of the two mean point-to-surface distances) between a mesh
    and the truth, from `points` area-uniform samples on each, in unit-cube units."""
    predicted = MeshOracle(vertices, faces, sign="none", device=str(truth.device))
    on_predicted, _ = predicted.sample_surface(points, generator)
    on_truth, _ = truth.sample_surface(points, generator)
    to_truth = truth.signed_distance(on_predicted)[0].abs()
    to_predicted = predicted.signed_distance(on_truth)[0]
    return 0.5 * (float(to_truth.double().mean()) + float(to_predicted.double().mean()))


class MeshScene(Scene):
    """Base of the mesh scenes. Subclasses set `task`, `out_dims`, `level`, `inside_is_low` and
    implement `make_samples(n, generator)` (pool entries), `sample(n, generator)` (a Batch from
    `draw`) and `loss(field, batch)`."""

    dims = 3
    task = "mesh"
    out_dims = 1
    level = 0.0
    inside_is_low = True

    def __init__(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        name: str = "mesh",
        margin: float = 0.05,
        sign: str = "auto",
        pool_size: int = 1 << 20,
        refresh: float = 0.125,
        eval_resolution: int = 64,
        iou_resolution: int = 128,
        mesh_resolution: int = 128,
        chamfer_points: int = 100_000,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        check(0.0 <= refresh <= 1.0, f"refresh must be a share of the batch in [0, 1], not {refresh}")
        for label, value in (("eval", eval_resolution), ("IoU", iou_resolution), ("mesh", mesh_resolution)):
            check(8 <= value <= 1024, f"{label} resolution must be between 8 and 1024, not {value}")
        self.name = name
        self.vertices, self.world_from_unit = normalise(vertices, faces, margin)
        self.faces = faces
        self.oracle = MeshOracle(self.vertices, faces, sign=sign, device=device)
        self.device = torch.device(device)
        self.refresh_share = refresh
        self.eval_resolution = eval_resolution
        self.iou_resolution = iou_resolution
        self.mesh_resolution = mesh_resolution
        self.chamfer_points = chamfer_points
        self.seed = seed
        self._truth_grids: dict[int, torch.Tensor] = {}
        self._truth_unsigned: MeshOracle | None = None
        self.pool = SamplePool(self.make_samples, pool_size, seed) if pool_size > 0 else None

    @classmethod
    def from_file(cls, path: str | Path, memory_budget: int | None = None, **options: Any) -> MeshScene:
        """Load a mesh file (memory_budget is accepted for a uniform call and not needed here)."""
        vertices, faces = load_mesh(path)
        return cls(vertices, faces, name=Path(path).name, **options)

    def make_samples(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """n samples from the pool, after replacing a `refresh` share of n pool entries by fresh ones
        (straight from make_samples when there is no pool: pool_size=0)."""
        if self.pool is None:
            return self.make_samples(n, generator)
        self.pool.refresh(math.ceil(self.refresh_share * n))
        return self.pool.draw(n, generator)

    def predicted_inside(self, values: torch.Tensor) -> torch.Tensor:
        return values < self.level if self.inside_is_low else values > self.level

    def truth_grid(self, resolution: int) -> torch.Tensor:
        """The mesh's inside test at the cell centres of a resolution^3 grid (cached), flat bool."""
        if resolution not in self._truth_grids:
            self._truth_grids[resolution] = self.oracle.inside(grid_points(resolution, centres=True).to(self.device))
        return self._truth_grids[resolution]

    @torch.no_grad()
    def grid_iou(self, field: FieldBase, resolution: int) -> float:
        values = torch.from_numpy(field_grid(field, resolution, centres=True)).reshape(-1)
        return iou(self.predicted_inside(values).to(self.device), self.truth_grid(resolution))

    @torch.no_grad()
    def evaluate(self, field: FieldBase) -> dict[str, float]:
        """IoU on an eval_resolution^3 grid of cell centres (quick, for live training)."""
        return {"iou": self.grid_iou(field, self.eval_resolution)}

    #: The trainer's loop runs evaluate_full now and then (within its share of the time), so that the
    #: window plots the Chamfer distance while the shape trains.
    live_full_metrics = True

    @torch.no_grad()
    def evaluate_full(self, field: FieldBase) -> dict[str, float]:
        """IoU at iou_resolution^3 and the Chamfer distance of the surface extracted by marching cubes
        at mesh_resolution^3 (inf when the field has no surface)."""
        metrics = {"iou": self.grid_iou(field, self.iou_resolution)}
        try:
            values = field_grid(field, self.mesh_resolution)
            vertices, faces = marching_cubes(values, self.level, self.inside_is_low)
        except ConfigError:
            return {**metrics, "chamfer": math.inf}
        if self._truth_unsigned is None:
            self._truth_unsigned = MeshOracle(self.vertices, self.faces, sign="none", device=str(self.device))
        generator = torch.Generator().manual_seed(self.seed + 1)
        chamfer = chamfer_distance(vertices, faces, self._truth_unsigned, self.chamfer_points, generator)
        return {**metrics, "chamfer": chamfer}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "vertices": int(self.vertices.shape[0]),
            "faces": int(self.faces.shape[0]),
            "sign": self.oracle.sign,
            "bounds": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
            "extent": MESH_EXTENT,
            "level": self.level,
            "inside_is_low": self.inside_is_low,
            "world_from_unit": self.world_from_unit.tolist(),
        }
