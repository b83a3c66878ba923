"""What every scene offers the trainer and the viewer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch


@dataclass(frozen=True)
class Batch:
    """A training batch: coords (N, D) in [0,1]^D, targets (N, C), optional per-sample weights (N,)."""

    coords: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor | None = None


class Scene(Protocol):
    """A training task over [0,1]^dims with out_dims outputs.

    Optional extras the trainer uses when a scene has them: `evaluate_full(field)` (slower, exact
    metrics: all test views, Chamfer distance), `before_step(field, step)` (schedules such as the
    NeRF occupancy grid or coarse-to-fine levels), `guidance(batch) -> Batch` (the points the last
    loss evaluated, with weights W(x) for the field's extra loss) and `head` (a learned module of
    the scene's own, optimised with the field and saved in snapshots, e.g. the NeRF colour head).
    """

    name: str
    task: str
    dims: int
    out_dims: int

    def sample(self, n: int, generator: torch.Generator) -> Batch: ...

    def loss(self, field: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]: ...

    def evaluate(self, field: Any) -> dict[str, float]: ...

    def describe(self) -> dict[str, Any]: ...


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of a mean squared error (inf for a perfect fit)."""
    if mse <= 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)
