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
    """A training task over [0,1]^dims with out_dims outputs."""

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
