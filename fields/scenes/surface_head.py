"""What the surface task learns besides the SDF field: NeuS's SDF-to-opacity conversion with a
learned sharpness s, and a colour network that reads the field's outputs, the SDF's normal and the
view direction (the NeRF colour head with three more inputs), plus the NeRF occupancy grid.

NeuS (Wang et al. 2021), as Neuralangelo: the opacity of the interval from a sample to the next
one on its ray is alpha = max((Phi_s(f_i) - Phi_s(f_i+1)) / Phi_s(f_i), 0), Phi_s the logistic
sigmoid of s * f, from the SDF at both samples (the lattice's neighbours; across a gap the
occupancy grid skipped, and after a ray's last sample, alpha = 0). The compositing kernel takes a
density: sigma = -log(1 - alpha) / dt gives that alpha back. s = exp(10 v), v learned (NeuS's).
Why not VolSDF's density Psi_beta(-f) / beta, which would need no neighbour: measured on a sphere
seen by make-views (24 views, 64x64), VolSDF shrank the surface by about 4 beta (10% of the radius
at beta = 0.01): a ray passing outside the surface still gathers opacity ~ (chord / beta)
exp(-d / beta), and the colour loss clears the background pixels next to the silhouette by pulling
the surface in. NeuS's opacity only grows where the SDF falls along the ray: a ray that stays
outside gathers 1 - Phi_s(d) of it, 1/2 right at the surface, with no such bias.

The normal the colour network reads (and the eikonal and curvature losses use) is the SDF's
gradient: numerical (central differences at `step`, Neuralangelo) or analytic (autograd, a double
backward when trained). The last one computed is kept in `last` for the scene's losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from fieldscope.fields.config import check
from fieldscope.fields.errors import SnapshotError
from fieldscope.fields.render.volume_rendering import Samples
from fieldscope.fields.scenes.appearance import AppearanceConfig
from fieldscope.fields.scenes.levels import central_probes, probe_gradient, probe_laplacian
from fieldscope.fields.scenes.nerf import NerfHead, head_from
from fieldscope.fields.training.trainer import split_params

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase
    from fieldscope.fields.training.trainer import Snapshot

#: Largest alpha of one interval (its sigma stays finite).
MAX_ALPHA = 1.0 - 1e-6
#: NeuS's s = exp(SHARPNESS_SCALE * v) for the learned v.
SHARPNESS_SCALE = 10.0


def neus_alpha(sdf: torch.Tensor, next_sdf: torch.Tensor, s: torch.Tensor | float) -> torch.Tensor:
    """NeuS's opacity (S,) of intervals whose ends have signed distances sdf (S,) and next_sdf (S,)
    (negative inside) at sharpness s: max((Phi(s f) - Phi(s f_next) + eps) / (Phi(s f) + eps), 0)."""
    before, after = torch.sigmoid(sdf * s), torch.sigmoid(next_sdf * s)
    return ((before - after + 1e-5) / (before + 1e-5)).clamp(0.0, MAX_ALPHA)


def next_on_ray(values: torch.Tensor, samples: Samples, dt: float) -> torch.Tensor:
    """Each sample's next neighbour's value on its ray's lattice (S,): the value itself where the
    next sample is on another ray or past a gap (so that interval's alpha is NeuS's 0)."""
    following = torch.cat([values[1:], values[-1:]])
    ray, t = samples.ray, samples.t
    adjacent = torch.zeros_like(values, dtype=torch.bool)
    if values.numel() > 1:
        adjacent[:-1] = (ray[1:] == ray[:-1]) & (t[1:] - t[:-1] < 1.5 * dt)
    return torch.where(adjacent, following, values)


def alpha_density(alpha: torch.Tensor, dt: float) -> torch.Tensor:
    """The density (S,) whose interval of length dt has opacity alpha (S,): -log(1 - alpha) / dt."""
    return -torch.log1p(-alpha) / dt


@dataclass(frozen=True)
class SdfGeometry:
    """The SDF's gradient (N, 3) at the last points shaded, and its Laplacian (N,) (None when not
    computed: analytic gradients without the curvature loss)."""

    gradient: torch.Tensor
    laplacian: torch.Tensor | None


def sdf_geometry(
    field: FieldBase, points: torch.Tensor, sdf: torch.Tensor, step: float, analytic: bool, laplacian: bool
) -> SdfGeometry:
    """Gradient of output 0 at points (N, 3) whose value is sdf (N,): central differences at `step`
    or autograd (differentiable when gradients are enabled); the Laplacian by second differences
    at `step` when `laplacian` (free with numerical gradients)."""
    if not analytic:
        values, steps = central_probes(field, points, step)
        return SdfGeometry(probe_gradient(values, steps), probe_laplacian(values, sdf, steps))
    train = torch.is_grad_enabled()
    with torch.enable_grad():
        x = points.detach().requires_grad_(True)
        value = field(x)[:, 0]
        (gradient,) = torch.autograd.grad(value.sum(), x, create_graph=train)
    gradient = gradient if train else gradient.detach()
    lap = None
    if laplacian:
        values, steps = central_probes(field, points, step)
        lap = probe_laplacian(values, sdf, steps)
    return SdfGeometry(gradient, lap)


class SurfaceHead(NerfHead):
    """The colour network (field outputs + normal + SH of the view -> RGB), the occupancy grid and
    NeuS's sharpness s (learned as v, s = exp(10 v)). `step`, `analytic` and `laplacian` say how
    colour_at takes the gradient (the scene sets them before each render)."""

    def __init__(
        self,
        appearance: AppearanceConfig,
        grid_resolution: int = 128,
        grid_share: float = 0.125,
        sharpness: float = 50.0,
    ) -> None:
        super().__init__(appearance, grid_resolution, grid_share)
        check(sharpness > 0.0, f"the sharpness s must be positive, not {sharpness}")
        self.variance = nn.Parameter(torch.tensor(math.log(sharpness) / SHARPNESS_SCALE))
        self.step = 1.0 / 512.0
        self.analytic = False
        self.laplacian = True
        self.last: SdfGeometry | None = None
        #: Renders give no colour to a sample weighing less (as the GLSL NeRF view, 1e-6).
        self.skip_weight = 1e-6

    @property
    def sharpness(self) -> torch.Tensor:
        """NeuS's s (its logistic's inverse scale)."""
        return torch.exp(SHARPNESS_SCALE * self.variance)

    def sigma(self, raw: torch.Tensor, samples: Samples | None = None, dt: float = 0.0) -> torch.Tensor:
        """The density (S,) that gives each sample's interval NeuS's alpha, from the SDF (S,) (the
        field's output 0) at the samples along rays and at their next neighbours."""
        if samples is None or dt <= 0.0:
            raise ValueError("a surface's opacity needs the samples along rays and their spacing")
        return alpha_density(neus_alpha(raw, next_on_ray(raw, samples, dt), self.sharpness), dt)

    def colour_at(
        self, field: FieldBase, points: torch.Tensor, outputs: torch.Tensor, directions: torch.Tensor
    ) -> torch.Tensor:
        """Colour (N, 3) from the outputs (N, k), the unit normal at points (N, 3) and the view
        directions (N, 3); keeps the gradient (and Laplacian) in `last`."""
        self.last = sdf_geometry(field, points, outputs[:, 0], self.step, self.analytic, self.laplacian)
        normal = torch.nn.functional.normalize(self.last.gradient, dim=-1)
        return self(torch.cat([outputs, normal.to(outputs.dtype)], dim=-1), directions)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": "surface", "sharpness": float(self.sharpness.detach())}


def surface_head_from(snapshot: Snapshot) -> SurfaceHead:
    """The surface head stored in a surface snapshot."""
    facts = snapshot.scene.get("head") or {}
    if facts.get("kind") != "surface":
        raise SnapshotError("the snapshot holds no surface head (it was not trained on a surface scene)")
    head = SurfaceHead(AppearanceConfig(**facts["appearance"]), facts["grid_resolution"])
    head.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in split_params(snapshot.params)[1].items()})
    return head


def scene_head(snapshot: Snapshot) -> NerfHead | None:
    """The learned head a 3D snapshot renders and colours with: a NeRF's, a surface's, or None."""
    task = (snapshot.scene or {}).get("task")
    if task == "surface":
        return surface_head_from(snapshot)
    return head_from(snapshot) if task == "nerf" else None
