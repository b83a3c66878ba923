"""What every scene offers the trainer and the viewer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase


@dataclass(frozen=True)
class Batch:
    """A training batch: coords (N, D) in [0,1]^D, targets (N, C), optional per-sample weights (N,)."""

    coords: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor | None = None


class Scene:
    """A training task over [0,1]^dims with out_dims outputs. Subclasses implement sample, loss,
    evaluate and describe; the other hooks default to nothing special."""

    name: str
    task: str
    dims: int
    out_dims: int
    #: A learned module of the scene's own, optimised with the field and saved in snapshots (the
    #: NeRF colour head), or None.
    head: nn.Module | None = None

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """A random training batch of n samples."""
        raise NotImplementedError

    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The field's loss on a batch, and batch statistics."""
        raise NotImplementedError

    def evaluate(self, field: FieldBase) -> dict[str, float]:
        """Quick metrics (PSNR, IoU, ...) for the live view."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Facts for the snapshot and the viewer: name, task, size, bounds, ..."""
        raise NotImplementedError

    def evaluate_full(self, field: FieldBase) -> dict[str, float]:
        """Slower, exact metrics (all test views, Chamfer distance); by default the quick ones."""
        return self.evaluate(field)

    def before_step(self, field: FieldBase, step: int) -> None:
        """Called before each gradient step (schedules: the NeRF occupancy grid, coarse-to-fine levels)."""

    def guidance(self, batch: Batch) -> Batch:
        """The points the last loss evaluated the field at, with weights W(x), for the field's extra
        loss; by default the batch itself."""
        return batch


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of a mean squared error (inf for a perfect fit)."""
    if mse <= 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)
