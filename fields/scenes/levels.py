"""Neuralangelo's two ideas for grid fields, kept kind-agnostic: numerical gradients whose step
follows the finest active level, and coarse-to-fine activation of levels through the level mask.

A field exposes `num_levels`, `level_mask` and `set_level_mask`; level resolutions come from the
config of a kind with growing grid levels (capabilities.growth_levels). Other fields get a fixed
step. The finest active level's rule is finest_active_resolution, which the GL view uses too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from fieldscope.fields.config import check
from fieldscope.fields.kinds.hashgrid import level_resolution

if TYPE_CHECKING:
    from fieldscope.fields.config import FieldConfig
    from fieldscope.fields.field import FieldBase

#: The resolution assumed for fields that tell nothing about theirs (kinds without growing grid
#: levels, analytic functions): its cell is their numerical-gradient step.
DEFAULT_RESOLUTION = 512.0
DEFAULT_STEP = 1.0 / DEFAULT_RESOLUTION


@runtime_checkable
class GrowingLevels(Protocol):
    """What a config of a kind with capabilities.growth_levels has."""

    @property
    def levels(self) -> int: ...

    @property
    def base_resolution(self) -> int: ...

    @property
    def growth(self) -> float: ...


def config_level_resolutions(config: FieldConfig | None) -> list[float] | None:
    """Grid resolution of each level of a config, coarse to fine, or None if its kind has no
    growing grid levels (or there is no config)."""
    if config is None or not config.capabilities.growth_levels or not isinstance(config, GrowingLevels):
        return None
    return [float(level_resolution(config.base_resolution, config.growth, lvl)) for lvl in range(config.levels)]


def level_resolutions(field: FieldBase) -> list[float] | None:
    """Grid resolution of each level of a field, coarse to fine, or None if it has no levels."""
    return config_level_resolutions(getattr(field, "config", None))  # analytic functions have none


def finest_active_resolution(config: FieldConfig | None, mask: tuple[bool, ...] | None = None) -> float:
    """The grid resolution N of the finest level of `config` that `mask` leaves on (a level past the
    mask's end is on; the coarsest if none is), or DEFAULT_RESOLUTION for kinds without levels."""
    resolutions = config_level_resolutions(config)
    if not resolutions:
        return DEFAULT_RESOLUTION
    mask = mask or ()
    active = [n for level, n in enumerate(resolutions) if level >= len(mask) or mask[level]] or resolutions[:1]
    return max(active)


def finest_active_step(field: FieldBase) -> float:
    """The cell size 1/N of the finest level that the level mask leaves on (Neuralangelo's epsilon)."""
    mask = getattr(field, "level_mask", None)
    return 1.0 / finest_active_resolution(getattr(field, "config", None), None if mask is None else tuple(mask))


def central_probes(
    field: FieldBase, x: torch.Tensor, step: float | torch.Tensor, channel: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Output `channel` at x (N, D) plus and minus `step` (a number, or one per point (N,)) along
    each axis -> values (N, 2, D) ([:, 0] plus, [:, 1] minus) and the steps (1 or N, 1).

    One batched field call over the 2DN offset points; differentiable with respect to the field's
    parameters (only first derivatives of the field are needed, so kinds without a double backward
    can be used).
    """
    dims = x.shape[1]
    steps = torch.as_tensor(step, device=x.device, dtype=x.dtype).reshape(-1, 1, 1)  # (1 or N, 1, 1)
    offsets = torch.eye(dims, device=x.device, dtype=x.dtype)[None] * steps  # (1 or N, D, D)
    probes = torch.cat([x[:, None, :] + offsets, x[:, None, :] - offsets], dim=1)  # (N, 2D, D)
    values = field(probes.reshape(-1, dims))[:, channel].reshape(x.shape[0], 2, dims)
    return values, steps[:, :, 0]


def numerical_gradient(field: FieldBase, x: torch.Tensor, step: float | torch.Tensor, channel: int = 0) -> torch.Tensor:
    """Central differences of output `channel` at x (N, 3) with the given step (a number, or one
    per point (N,)) -> (N, 3) (see central_probes)."""
    values, steps = central_probes(field, x, step, channel)
    return probe_gradient(values, steps)


def probe_gradient(values: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """The gradient (N, D) from central_probes' values (N, 2, D) and steps (1 or N, 1)."""
    return (values[:, 0] - values[:, 1]) / (2.0 * steps)


def probe_laplacian(values: torch.Tensor, centre: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """The Laplacian (N,) by second central differences: central_probes' values (N, 2, D), the
    values at the points themselves (N,) and the steps (1 or N, 1)."""
    return (values.sum(dim=1) - 2.0 * centre[:, None]).sum(dim=-1) / steps[:, 0] ** 2


def scheduled_levels(step: int, levels: int, start_levels: int, steps_per_level: int) -> int:
    """How many of `levels` levels coarse to fine has on at `step` (from 0): `start_levels`, and one
    more every `steps_per_level` steps."""
    return min(levels, start_levels + max(0, step) // max(1, steps_per_level))


class CoarseToFine:
    """Start with `start_levels` levels on and switch on one more every `steps_per_level` steps.

    `apply(field, step)` sets the mask only when the number of active levels changes, so a mask set
    by hand between those steps stays until the schedule's next level.
    """

    def __init__(self, start_levels: int, steps_per_level: int) -> None:
        check(start_levels >= 1, f"coarse to fine needs at least one starting level, not {start_levels}")
        check(steps_per_level >= 1, f"steps per level must be at least 1, not {steps_per_level}")
        self.start_levels = start_levels
        self.steps_per_level = steps_per_level
        self._applied: int | None = None

    def active_levels(self, step: int, num_levels: int) -> int:
        return scheduled_levels(step, num_levels, self.start_levels, self.steps_per_level)

    def apply(self, field: FieldBase, step: int) -> None:
        count = self.active_levels(step, field.num_levels)
        if count != self._applied:
            field.set_level_mask(tuple(level < count for level in range(field.num_levels)))
            self._applied = count
