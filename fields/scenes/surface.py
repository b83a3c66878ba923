"""The surface task (Neuralangelo on a CPU): a neural SDF and a colour network learn a closed surface
from posed images, the NeRF data sets (`transforms*.json`) the NeRF scene reads.

The scene is the NeRF scene (data, rays, occupancy grid, volume rendering, PSNR on the test views)
with another head (fields/scenes/surface_head.py):
- the field's output 0 is the signed distance (negative inside), all its outputs are the colour
  network's geometry features; any field kind works;
- SDF -> opacity by NeuS's logistic CDFs at consecutive samples with a learned sharpness s (as
  Neuralangelo; VolSDF's Laplace density, tried first, shrank a sphere by 4 beta: the numbers in
  surface_head.py), handed to the NeRF compositing kernel as the density that gives that alpha;
- colour from the features, the SDF's unit normal and the view direction;
- losses: L1 on the colours (Neuralangelo's), the eikonal term (|grad f| - 1)^2 on the ray samples
  and on `eikonal_points` uniform points of the cube, and the curvature term: the mean |Laplacian|
  of the SDF (Neuralangelo eq. 9; second differences at the gradient's step), its weight warmed up
  linearly over `curvature_warmup` steps and then shrunk with the step (Neuralangelo's decay by the
  growth factor per activated level).

Neuralangelo's two ideas, each an option (`--scene-option KEY=VALUE`) so that they can be measured:
- `numerical_gradient` (default true): the gradient by central differences whose step is the cell
  of the finest active level (fields/scenes/levels.py); false: autograd (a double backward: a Warp
  hash grid is switched to its pure-torch implementation, which has one);
- `coarse_to_fine` (default 100 steps per level, from `start_levels` = 4): the level mask opens one
  level at a time; 0: all levels from the start;
- `curvature_weight` (default 5e-4, Neuralangelo's); 0: off.

The occupancy grid (64^3 here, 128^3 for NeRF: on a CPU its updates cost more than its finer
skipping saves) is filled at once after the initialisation: the SDF is known everywhere then.

The SDF starts as a sphere (`sphere_radius` around the cube's centre, default 0.45: just outside the
bounding sphere make-views puts the object in): before the first step the field is fitted to that
sphere's signed distance for `init_steps` Adam steps (any kind, no kind-specific geometric init of
its decoder), so rendering starts from a closed surface.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as nnf

from fieldscope.fields.config import check
from fieldscope.fields.render.volume_rendering import render_rays
from fieldscope.fields.scenes.appearance import AppearanceConfig
from fieldscope.fields.scenes.base import Batch, psnr_from_mse
from fieldscope.fields.scenes.levels import CoarseToFine, finest_active_step
from fieldscope.fields.scenes.nerf import NerfScene, RayBatch
from fieldscope.fields.scenes.nerf_data import NerfData
from fieldscope.fields.scenes.surface_head import SurfaceHead, sdf_geometry

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase

CENTRE = 0.5
#: evaluate_full's pixel stride (2: a quarter of each test view's pixels).
EVAL_STRIDE = 2
#: Points per Adam step of the sphere initialisation.
INIT_POINTS = 1 << 12


def sphere_sdf(points: torch.Tensor, radius: float) -> torch.Tensor:
    """Signed distance (N,) of points (N, 3) to a sphere of `radius` around the cube's centre."""
    return (points - CENTRE).norm(dim=-1) - radius


def fit_sphere(field: FieldBase, radius: float, steps: int, generator: torch.Generator, lr: float = 1e-2) -> float:
    """Fit output 0 of the field to a sphere's signed distance (half the points uniform in the cube,
    half within 0.1 of the sphere) by `steps` Adam steps; returns the last mean L1 error."""
    device = next(iter(field.parameters())).device
    optimizer = torch.optim.Adam(field.parameters(), lr=lr)
    error = math.nan
    for _ in range(steps):
        uniform = torch.rand(INIT_POINTS // 2, 3, generator=generator)
        direction = nnf.normalize(torch.randn(INIT_POINTS // 2, 3, generator=generator), dim=-1)
        near = CENTRE + direction * (radius + 0.1 * (2.0 * torch.rand(INIT_POINTS // 2, 1, generator=generator) - 1))
        points = torch.cat([uniform, near]).to(device)
        loss = (field(points)[:, 0] - sphere_sdf(points, radius)).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        error = float(loss.detach())
    return error


def use_double_backward(field: FieldBase) -> None:
    """Switch a field whose encoding runs Warp kernels (no double backward) to its pure-torch
    implementation (same parameters), for analytic eikonal gradients."""
    encoding = getattr(field, "encoding", None)
    if encoding is not None and getattr(encoding, "impl", None) == "warp":
        encoding.impl = "torch"


class SurfaceScene(NerfScene):
    """Posed images -> a signed distance field and a colour network (see the module docstring)."""

    task = "surface"
    head: SurfaceHead

    def __init__(
        self,
        data: NerfData,
        eikonal_weight: float = 0.1,
        curvature_weight: float = 5e-4,
        curvature_warmup: int = 100,
        numerical_gradient: bool = True,
        coarse_to_fine: int = 100,
        start_levels: int = 4,
        eikonal_points: int = 256,
        sphere_radius: float = 0.45,
        init_steps: int = 60,
        sharpness: float = 50.0,
        distortion_weight: float = 0.0,
        grid_resolution: int = 64,
        **options: Any,
    ) -> None:
        check(eikonal_weight >= 0.0 and curvature_weight >= 0.0, "loss weights must not be negative")
        check(curvature_warmup >= 0 and coarse_to_fine >= 0 and init_steps >= 0, "step counts must be >= 0")
        check(eikonal_points >= 0, f"eikonal_points must be >= 0, not {eikonal_points}")
        check(0.05 <= sphere_radius <= 0.5, f"sphere_radius must be between 0.05 and 0.5, not {sphere_radius}")
        self.sharpness_start = sharpness
        super().__init__(data, distortion_weight=distortion_weight, grid_resolution=grid_resolution, **options)
        self.eikonal_weight, self.curvature_weight = eikonal_weight, curvature_weight
        self.curvature_warmup = curvature_warmup
        self.numerical, self.eikonal_points = bool(numerical_gradient), eikonal_points
        self.sphere_radius, self.init_steps = sphere_radius, init_steps
        self.schedule = CoarseToFine(start_levels, coarse_to_fine) if coarse_to_fine else None
        self.head.analytic = not self.numerical
        self.head.laplacian = self.numerical or curvature_weight > 0.0
        self._initialised = False
        self._first_step: float | None = None
        self._step = 0

    def make_head(self, appearance: AppearanceConfig, grid_resolution: int, grid_share: float) -> SurfaceHead:
        """The colour network reads the field's outputs and the normal (3 more inputs)."""
        wider = AppearanceConfig(
            appearance.features + 3, appearance.sh_degree, appearance.hidden_width, appearance.hidden_layers
        )
        return SurfaceHead(wider, grid_resolution, grid_share, self.sharpness_start)

    # ---- schedules
    def gradient_step(self, field: FieldBase) -> float:
        """The numerical gradient's step: the finest active level's cell (Neuralangelo's epsilon)."""
        return finest_active_step(field)

    def before_step(self, field: FieldBase, step: int) -> None:
        """Coarse to fine's level mask, the sphere initialisation (once, before the first step), the
        gradient's step for this step, and the occupancy grid (the NeRF scene's)."""
        self._step = step
        if self.schedule is not None:
            self.schedule.apply(field, step)
        if not self._initialised:
            self._initialised = True
            if not self.numerical:
                use_double_backward(field)
            if self.init_steps:
                fit_sphere(field, self.sphere_radius, self.init_steps, self.generator)
            self.head.grid.update(field, self.dt, self.generator, to_sigma=self.grid_sigma, share=1.0)
        self.head.step = self.gradient_step(field)
        if self._first_step is None:
            self._first_step = self.head.step
        super().before_step(field, step)

    def grid_sigma(self, raw: torch.Tensor) -> torch.Tensor:
        """The density (N,) the occupancy grid sees of SDF values (N,): s' * sigmoid(-s' f), the
        opacity NeuS gives per unit length inside, with s' at most the grid's resolution, so that a
        cell the surface crosses stays occupied whichever point of it is looked at."""
        s = min(float(self.head.sharpness.detach()), float(self.head.grid.resolution))
        return s * torch.sigmoid(-s * raw)

    def curvature_weight_now(self) -> float:
        """The curvature weight at this step: warmed up linearly, then scaled with the gradient's
        step (it shrinks by the growth factor with each level coarse to fine opens)."""
        warm = min(1.0, (self._step + 1) / self.curvature_warmup) if self.curvature_warmup else 1.0
        decay = self.head.step / self._first_step if self._first_step else 1.0
        return self.curvature_weight * warm * decay

    # ---- training
    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """L1 on the rendered colours + eikonal + curvature terms, and batch statistics."""
        assert isinstance(batch, RayBatch) and batch.directions is not None and batch.background is not None
        jitter = torch.rand(batch.coords.shape[0], generator=self.generator).to(self.device)
        out = render_rays(
            field, self.head, batch.coords, batch.directions, batch.background, self.head.grid.occupied, self.dt, jitter
        )
        self._last = out
        loss = (out.color - batch.targets).abs().mean()
        metrics = {
            "batch_psnr": psnr_from_mse(float(torch.mean((out.color.detach() - batch.targets) ** 2))),
            "rays": float(batch.coords.shape[0]),
            "samples_per_ray": out.points.shape[0] / max(1, batch.coords.shape[0]),
            "occupied": self.head.grid.occupancy(),
            "sharpness": float(self.head.sharpness.detach()),
            "gradient_step": self.head.step,
        }
        gradients, laplacians = self._geometry_terms(field, out.points.shape[0] > 0)
        if self.eikonal_weight > 0.0 and gradients:
            eikonal = ((torch.cat(gradients).norm(dim=-1) - 1.0) ** 2).mean()
            loss = loss + self.eikonal_weight * eikonal
            metrics["eikonal"] = float(eikonal.detach())
        weight = self.curvature_weight_now()
        if weight > 0.0 and laplacians:
            curvature = torch.cat(laplacians).abs().mean()
            loss = loss + weight * curvature
            metrics["curvature"] = float(curvature.detach())
        cost = (out.points.shape[0] * 7 + out.marched / 3.0) / max(1, batch.coords.shape[0])
        self.samples_per_ray = 0.9 * self.samples_per_ray + 0.1 * cost
        return loss, metrics

    def _geometry_terms(self, field: FieldBase, rendered: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Gradients (N, 3) and Laplacians (N,) for the eikonal and curvature terms: those of the
        last render's samples (if any), and those at `eikonal_points` uniform points."""
        gradients, laplacians = [], []
        last = self.head.last
        if rendered and last is not None:
            gradients.append(last.gradient)
            if last.laplacian is not None:
                laplacians.append(last.laplacian)
        if self.eikonal_points and (self.eikonal_weight > 0.0 or self.curvature_weight > 0.0):
            points = torch.rand(self.eikonal_points, 3, generator=self.generator).to(self.device)
            extra = sdf_geometry(
                field, points, field(points)[:, 0], self.head.step, self.head.analytic, self.head.laplacian
            )
            gradients.append(extra.gradient)
            if extra.laplacian is not None:
                laplacians.append(extra.laplacian)
        return gradients, laplacians

    # ---- evaluation
    @torch.no_grad()
    def evaluate_full(self, field: FieldBase) -> dict[str, float]:
        """Mean PSNR over every test view, on every EVAL_STRIDE-th pixel of its rows and columns
        (each sample's normal costs six more field evaluations: whole 200x200 views took minutes)."""
        test = self.data.test
        v, u = torch.meshgrid(
            torch.arange(0, test.height, EVAL_STRIDE), torch.arange(0, test.width, EVAL_STRIDE), indexing="ij"
        )
        u, v = u.reshape(-1), v.reshape(-1)
        scores = []
        for index in range(test.count):
            origins, directions, rgba = self._rays(test, torch.full_like(u, index), u, v)
            error = torch.mean((self.render_rays(field, origins, directions) - self.over(rgba, self.background)) ** 2)
            scores.append(psnr_from_mse(float(error)))
        return {"psnr": float(sum(scores) / len(scores)), "psnr_worst_view": float(min(scores))}

    @torch.no_grad()
    def surface_radius(self, field: FieldBase, directions: int = 256) -> torch.Tensor:
        """Distances (directions,) from the cube's centre to the zero level along fixed directions
        (bisection of output 0 between the centre and the cube's inscribed sphere)."""
        g = torch.Generator().manual_seed(0)
        d = nnf.normalize(torch.randn(directions, 3, generator=g), dim=-1)
        lo, hi = torch.zeros(directions), torch.full((directions,), 0.5)
        for _ in range(24):
            mid = 0.5 * (lo + hi)
            inside = field(CENTRE + mid[:, None] * d)[:, 0] < 0.0
            lo, hi = torch.where(inside, mid, lo), torch.where(inside, hi, mid)
        return 0.5 * (lo + hi)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "level": 0.0,
            "inside_is_low": True,
            "numerical_gradient": self.numerical,
            "coarse_to_fine": bool(self.schedule),
            "eikonal_weight": self.eikonal_weight,
            "curvature_weight": self.curvature_weight,
            # Adam at 1e-2 moved the SDF by more than its error per step (a sphere seen by
            # make-views: 11% too small after 20 steps, and 6-14% off over the next 50); 2e-3: 3% at 50 steps
            "suggested_lr": 2e-3,
        }
