"""An analytic 3D scene: the signed distance to a sphere in the unit cube (benchmarks, tests, and a
scene whose exact picture is known)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from fieldscope.fields.scenes.base import Batch, Scene

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase


class SphereScene(Scene):
    """The signed distance to a sphere (centre, radius in unit-cube coordinates)."""

    task = "sdf"
    dims = 3
    out_dims = 1
    name = "sphere"

    def __init__(
        self, center: tuple[float, float, float] = (0.5, 0.5, 0.5), radius: float = 0.3, device: str = "cpu"
    ) -> None:
        self.center, self.radius, self.device = torch.tensor(center), radius, torch.device(device)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 3) -> signed distances (N, 1)."""
        return torch.linalg.norm(x - self.center.to(x.device), dim=-1, keepdim=True) - self.radius

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        x = torch.rand(n, 3, generator=generator).to(self.device)
        return Batch(x, self.distance(x))

    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        return torch.mean((field(batch.coords) - batch.targets) ** 2), {}

    def evaluate(self, field: FieldBase) -> dict[str, float]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "size": [128, 128, 128], "extent": 128}
