"""Mesh -> occupancy scene (MINER's 3D task): a 3D field with one output (a logit) learns whether a
point is inside a mesh normalised into the unit cube; binary cross-entropy on the labels.

Labels come either on samples (near the surface and uniform, from a pool like the SDF scene's;
the default) or on a fixed voxel grid (`grid=R`: the R^3 cell centres, MINER's setting), both from
Warp mesh queries (winding number or ray parity).

Guidance (for Lagrangian fields): W(x) = exp(-|sdf(x)| / guidance_width) as the SDF scene's, the
distance queried for the batch only when a field asks for guidance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as nnf

from fieldscope.fields.config import check
from fieldscope.fields.scenes.base import Batch
from fieldscope.fields.scenes.mesh import sample_points
from fieldscope.fields.scenes.sdf import surface_weight
from fieldscope.fields.scenes.shape import MeshScene

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase

MAX_GRID = 512


class OccupancyScene(MeshScene):
    """A mesh as inside (1) / outside (0) labels; the field's output is the logit (inside above 0)."""

    task = "occupancy"
    out_dims = 1
    level = 0.0
    inside_is_low = False

    def __init__(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        grid: int = 0,
        uniform_share: float = 0.25,
        near_sigmas: tuple[float, ...] = (1.0 / 256.0, 1.0 / 32.0),
        guidance_width: float = 1.0 / 128.0,
        **common: Any,
    ) -> None:
        check(grid == 0 or 8 <= grid <= MAX_GRID, f"grid must be 0 (samples) or between 8 and {MAX_GRID}, not {grid}")
        check(0.0 <= uniform_share <= 1.0, f"uniform_share must be in [0, 1], not {uniform_share}")
        check(guidance_width > 0.0, f"guidance_width must be positive, not {guidance_width}")
        self.guidance_width = guidance_width
        self.grid = grid
        self.uniform_share = uniform_share
        self.near_sigmas = tuple(float(s) for s in np.atleast_1d(near_sigmas))
        if grid:
            common["pool_size"] = 0
        super().__init__(vertices, faces, **common)

    def make_samples(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        if self.grid:
            labels = self.truth_grid(self.grid)
            index = torch.randint(labels.numel(), (n,), generator=generator, device=generator.device)
            return voxel_centres(index, self.grid).to(self.device), labels[index.to(self.device)].float()
        points = sample_points(self.oracle, n, generator, self.uniform_share, self.near_sigmas)
        return points, self.oracle.inside(points).float()

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        points, labels = self.draw(n, generator)
        return Batch(points, labels[:, None])

    def guidance(self, batch: Batch) -> Batch:
        """The batch with weights W(x) = exp(-|distance to the surface| / guidance_width) (n,)."""
        distance, _ = self.oracle.signed_distance(batch.coords)
        return Batch(batch.coords, batch.targets, surface_weight(distance, self.guidance_width))

    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        logits = field(batch.coords)[:, :1]
        loss = nnf.binary_cross_entropy_with_logits(logits, batch.targets)
        accuracy = float(((logits.detach() > 0).float() == batch.targets).float().mean())
        return loss, {"bce": float(loss.detach()), "batch_accuracy": accuracy}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "grid": self.grid}


def voxel_centres(index: torch.Tensor, resolution: int) -> torch.Tensor:
    """Centres (n, 3) of flat voxel indices (x slowest, as grid_points) of a resolution^3 grid."""
    i = torch.stack([index // (resolution * resolution), (index // resolution) % resolution, index % resolution], -1)
    return (i.float() + 0.5) / resolution
