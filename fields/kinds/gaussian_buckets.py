"""The Gaussian-bucket field (Lagrangian Hashing, Govindarajan et al. 2024): a hash grid whose last
L~ levels store, in each bucket, K moving Gaussian points (a mean and a feature each), pulled
where the signal needs them by the guidance loss (eq. 8)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import nn

from fieldscope.fields import reference
from fieldscope.fields.config import Capabilities, check
from fieldscope.fields.field import Field
from fieldscope.fields.kinds.gaussian_buckets_warp import WarpGuidance, WarpLagrangian
from fieldscope.fields.kinds.hashgrid import (
    GridConfig,
    HashGridEncoding,
    LevelLayout,
    interpolation_code,
    layout_of,
    occupancy,
)
from fieldscope.fields.training.trainer import RunPlan
from fieldscope.gpu import gaussian_buckets as kernels

#: Over what the sigma schedule decays: the planned run, or a fixed number of steps.
SIGMA_SCHEDULES = ("run", "steps")
#: The guidance loss: eq. 8's hard minimum over the candidates, a softmin (every candidate gets its
#: softmax share of the pull), or none.
GUIDANCES = ("hard", "soft", "none")
#: The Gaussian's normaliser c(sigma) (sigma in coordinate units, D dims): the paper's eq. 3
#: 1 / (sqrt(2 pi) sigma); the released code's 1 / sqrt(2 pi sigma); the D-dimensional density
#: 1 / ((2 pi)^(D/2) sigma^D) (integrates to 1); "peak": 1 (the features keep their scale as sigma decays).
NORMALISERS = ("paper", "released", "density", "peak")
#: Where the points start: uniformly over the domain, or near a vertex that hashes to their bucket.
INITS = ("uniform", "vertex")
#: The most candidate vertices the "vertex" initialisation hashes per level (memory: 8 D bytes each).
MOST_CANDIDATES = 1 << 22
#: Seed of the generator of the guidance's reach offsets.
REACH_SEED = 23


@dataclass(frozen=True)
class GaussianBucketsConfig(GridConfig):
    """Hash-grid settings plus the Lagrangian ones (defaults from the paper, except three chosen by
    `fieldscope bench points` measurements, README "Gaussian buckets": init "vertex", normaliser
    "peak", means_lr 1e-4).

    sigma_l = scale * cell size of level l, the scale decaying exponentially from sigma_start to
    sigma_end over the run (sigma_schedule "run": over the steps or seconds the trainer's run plan
    says, or over sigma_decay_steps when a run has no plan, e.g. in the window) or over a fixed
    sigma_decay_steps (sigma_schedule "steps"); the guidance weight ramps up linearly over guidance_warmup
    steps; the means train with their own learning rate.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(hash_table=True, growth_levels=True, lagrangian_points=True)

    kind: str = "gaussian_buckets"
    lagrangian_levels: int = 2
    points_per_bucket: int = 4
    sigma_start: float = 50.0
    sigma_end: float = 5.0
    sigma_schedule: str = "run"
    sigma_decay_steps: int = 2000
    guidance_weight: float = 0.1
    guidance_warmup: int = 200
    means_lr: float = 1e-4
    guidance: str = "hard"
    normaliser: str = "peak"
    init: str = "vertex"
    guidance_reach: float = 0.0
    guidance_power: float = 1.0
    guidance_error: bool = False
    means_lr_end: float = 0.0
    guidance_sigma: float = 0.0

    def __post_init__(self) -> None:
        check(self.kind == "gaussian_buckets", f"kind must be 'gaussian_buckets', not {self.kind!r}")
        super().__post_init__()
        check(self.points_per_bucket >= 1, f"points per bucket (K) must be at least 1, not {self.points_per_bucket}")
        check(
            1 <= self.lagrangian_levels <= self.levels,
            f"Lagrangian levels (L~={self.lagrangian_levels}) must be between 1 and the levels (L={self.levels})",
        )
        check(self.sigma_end > 0, f"sigma_end must be positive, not {self.sigma_end}")
        check(
            self.sigma_start >= self.sigma_end,
            f"the sigma schedule must not grow: sigma_start ({self.sigma_start}) < sigma_end ({self.sigma_end})",
        )
        check(self.sigma_decay_steps >= 1, "sigma_decay_steps must be at least 1")
        check(
            self.sigma_schedule in SIGMA_SCHEDULES,
            f"sigma_schedule must be one of {', '.join(SIGMA_SCHEDULES)}, not {self.sigma_schedule!r}",
        )
        check(self.guidance_weight >= 0 and self.guidance_warmup >= 0, "guidance weight and warm-up must be >= 0")
        check(self.means_lr > 0, f"means_lr must be positive, not {self.means_lr}")
        check(self.means_lr_end >= 0, f"means_lr_end must not be negative, not {self.means_lr_end}")
        check(self.guidance_reach >= 0, f"guidance_reach must not be negative, not {self.guidance_reach}")
        check(self.guidance_power > 0, f"guidance_power must be positive, not {self.guidance_power}")
        check(self.guidance_sigma >= 0, f"guidance_sigma must not be negative, not {self.guidance_sigma}")
        for name, allowed in (("guidance", GUIDANCES), ("normaliser", NORMALISERS), ("init", INITS)):
            value = getattr(self, name)
            check(value in allowed, f"{name} must be one of {', '.join(allowed)}, not {value!r}")

    @property
    def soft_guidance(self) -> bool:
        """Guidance by a softmin over the candidates (each gets its share of the pull), not eq. 8's minimum."""
        return self.guidance == "soft"

    def sigma_at(self, progress: float) -> float:
        """sigma in cell sizes once a fraction `progress` of the decay is done (exponential decay
        from sigma_start to sigma_end)."""
        t = min(1.0, max(0.0, progress))
        return self.sigma_start * (self.sigma_end / self.sigma_start) ** t

    def means_lr_at(self, progress: float) -> float:
        """The means' learning rate once a fraction `progress` of the sigma decay is done: means_lr,
        or with means_lr_end > 0 an exponential decay from means_lr to means_lr_end alongside sigma."""
        if self.means_lr_end == 0.0:
            return self.means_lr
        t = min(1.0, max(0.0, progress))
        return self.means_lr * (self.means_lr_end / self.means_lr) ** t

    def sigma_scale(self, step: int) -> float:
        """sigma in cell sizes after `step` steps of the fixed-steps schedule."""
        return self.sigma_at(step / self.sigma_decay_steps)

    def guidance_at(self, step: int) -> float:
        """The guidance loss weight after `step` steps (linear warm-up); 0 without guidance."""
        if self.guidance == "none":
            return 0.0
        if self.guidance_warmup == 0:
            return self.guidance_weight
        return self.guidance_weight * min(1.0, step / self.guidance_warmup)


def split_layout(layout: LevelLayout, count: int) -> tuple[LevelLayout, LevelLayout]:
    """The first `count` levels and the rest, each with row offsets starting at 0."""
    fine_start = layout.offset[count] if count < len(layout.resolution) else layout.total_rows

    def part(sl: slice, base: int) -> LevelLayout:
        offsets = tuple(o - base for o in layout.offset[sl])
        return replace(
            layout, resolution=layout.resolution[sl], rows=layout.rows[sl], offset=offsets, hashed=layout.hashed[sl]
        )

    return part(slice(0, count), 0), part(slice(count, None), fine_start)


def gaussian_norm(normaliser: str, sigma: torch.Tensor, dims: int) -> torch.Tensor:
    """The Gaussian's normaliser c (L~,) for standard deviations sigma (L~,) in coordinate units
    (NORMALISERS), in sigma's dtype."""
    if normaliser == "paper":
        return 1.0 / (math.sqrt(2.0 * math.pi) * sigma)
    if normaliser == "released":
        return 1.0 / torch.sqrt(2.0 * math.pi * sigma)
    if normaliser == "density":
        return 1.0 / ((2.0 * math.pi) ** (dims / 2.0) * sigma**dims)
    return torch.ones_like(sigma)


def vertex_means(layout: LevelLayout, level: int, points: int, generator: torch.Generator) -> torch.Tensor:
    """(rows*K, D) means of one level (offset excluded) near a vertex that hashes to their bucket:
    bucket b's k-th point starts within half a cell (per axis) of the k-th (cyclically) of b's
    vertices in a random order. A dense level's bucket is its one vertex; a hashed level draws its
    candidates from all its vertices (up to 2^22 of them), else from min(8 R K, 2^22) random ones; a
    bucket that no candidate hashes to keeps uniform points."""
    n, dims, rows = layout.resolution[level], layout.dims, layout.rows[level]
    stride = n + 1
    if not layout.hashed[level]:
        index = torch.arange(rows).repeat_interleave(points)
        vertex = torch.stack([(index // stride**d) % stride for d in range(dims)], dim=1)
        bucket, chosen = index, vertex
    else:
        total = stride**dims
        if total <= MOST_CANDIDATES:
            index = torch.randperm(total, generator=generator)
            vertex = torch.stack([(index // stride**d) % stride for d in range(dims)], dim=1)
        else:
            draws = min(8 * rows * points, MOST_CANDIDATES)
            vertex = torch.randint(0, stride, (draws, dims), generator=generator)
        hashed = reference.hash_index(vertex, layout.table_size)
        order = torch.sort(hashed, stable=True).indices
        first = torch.searchsorted(hashed[order], torch.arange(rows))
        count = torch.bincount(hashed, minlength=rows)
        bucket = torch.arange(rows).repeat_interleave(points)
        k = torch.arange(rows * points) % points
        pick = first[bucket] + k % count[bucket].clamp(min=1)
        chosen = vertex[order[pick.clamp(max=order.shape[0] - 1)]]
    jitter = torch.rand(bucket.shape[0], dims, generator=generator) - 0.5
    means = ((chosen.to(torch.float32) + jitter) / n).clamp(0.0, 1.0)
    if layout.hashed[level]:
        empty = count[bucket] == 0
        means[empty] = torch.rand(int(empty.sum()), dims, generator=generator)
    return means


def guidance_weights(weights: torch.Tensor, power: float, error: torch.Tensor | None = None) -> torch.Tensor:
    """The guidance weights (N,) from W (N,): W itself at power 1 without error (eq. 8); else
    (W * error)^power (error (N,): each sample's squared reconstruction error, None: 1) rescaled to
    W's mean over the batch (sharper towards where the detail is and the field is wrong, at the same
    overall weight)."""
    if power == 1.0 and error is None:
        return weights
    sharp = (weights.clamp_min(0.0) * (1.0 if error is None else error)) ** power
    return sharp * (weights.mean() / sharp.mean().clamp_min(1e-30))


def initial_means(count: int, dims: int) -> torch.Tensor:
    """(count, D) means: uniform in [0,1]^2 for images; uniform in the ball of radius 0.75 of the
    paper's [-1,1]^3, i.e. radius 0.375 around the centre of our [0,1]^3, in 3D."""
    if dims == 2:
        return torch.rand(count, 2)
    direction = torch.nn.functional.normalize(torch.randn(count, 3), dim=1)
    radius = 0.375 * torch.rand(count, 1) ** (1.0 / 3.0)
    return 0.5 + direction * radius


class LagrangianLevels(nn.Module):
    """The Lagrangian levels alone: (N, D) -> (N, L~*F), and their guidance costs (N, L~)."""

    resolution: torch.Tensor
    offset: torch.Tensor
    hashed: torch.Tensor
    mask: torch.Tensor
    cell: torch.Tensor
    sigma_scale: torch.Tensor

    def __init__(self, layout: LevelLayout, config: GaussianBucketsConfig, impl: str) -> None:
        super().__init__()
        self.layout, self.impl = layout, impl
        self.normaliser, self.soft = config.normaliser, config.soft_guidance
        self.reach, self.fixed_guidance_sigma = config.guidance_reach, config.guidance_sigma
        self.points = config.points_per_bucket
        self.smooth = interpolation_code(config.interpolation, config.lagrange_k)
        self.num_levels = len(layout.resolution)
        #: the finest level's resolution: the grid of spatial_order
        self.finest = max(layout.resolution)
        self.out_dims = self.num_levels * config.features
        count = layout.total_rows * self.points
        if config.init == "vertex" and torch.empty(0).device.type != "meta":  # meta: shapes only (counting)
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, ()).item()))
            parts = [vertex_means(layout, lvl, self.points, generator) for lvl in range(self.num_levels)]
            self.means = nn.Parameter(torch.cat(parts))
        else:
            self.means = nn.Parameter(initial_means(count, config.dims))
        #: where the points started (the bench's displacements, the window's start toggle)
        self.register_buffer("start", self.means.detach().clone())
        #: (R*K,) bool, which points a guidance gradient reached since tracking began (None: not tracked)
        self.pulls: torch.Tensor | None = None
        self.values = nn.Parameter(torch.randn(count, config.features) * 1e-3)
        for name in ("resolution", "offset", "hashed"):
            self.register_buffer(name, torch.tensor(getattr(layout, name), dtype=torch.int32), persistent=False)
        self.register_buffer("mask", torch.ones(self.num_levels, dtype=torch.int32), persistent=False)
        self.register_buffer("cell", 1.0 / torch.tensor(layout.resolution, dtype=torch.float32), persistent=False)
        self.register_buffer("sigma_scale", torch.tensor([config.sigma_start], dtype=torch.float32))
        #: whether a training forward also measures the guidance at its samples' own cells (one kernel
        #: for both: no reach, and corner weights the guidance shares), kept in _guided for guidance()
        self.fuse_guidance = config.guidance != "none" and self.reach == 0.0 and kernels.can_guide_forward(self.smooth)
        self._guided: tuple[torch.Tensor, torch.Tensor, int] | None = None
        #: draws the guidance's reach offsets (a fixed seed: it leaves the global generator's draws as they were)
        self.reach_generator = torch.Generator().manual_seed(REACH_SEED)

    def sigma(self) -> torch.Tensor:
        """(L~,) current standard deviations in coordinate units."""
        return self.sigma_scale * self.cell

    def guidance_sigma(self) -> torch.Tensor:
        """(L~,) the guidance cost's standard deviations: guidance_sigma cells if set, else sigma()."""
        if self.fixed_guidance_sigma > 0.0:
            return self.fixed_guidance_sigma * self.cell
        return self.sigma()

    def norm(self) -> torch.Tensor:
        """(L~,) the Gaussian's normaliser per level (NORMALISERS)."""
        return gaussian_norm(self.normaliser, self.sigma(), self.layout.dims)

    def track_pulls(self) -> None:
        """Start recording which points a guidance gradient reaches (`pulls`)."""
        self.pulls = torch.zeros(self.means.shape[0], dtype=torch.bool, device=self.means.device)

    def note_pulls(self, grad_means: torch.Tensor, nearest: torch.Tensor | None = None) -> None:
        """Mark the points whose guidance gradient grad_means (R*K, D) is nonzero; nearest (N, L~):
        the hard guidance's argmin rows (-1: none), the only rows it can reach (read alone)."""
        if self.pulls is None:
            return
        if nearest is None:
            self.pulls |= (grad_means != 0).any(dim=1)
            return
        rows = nearest[nearest >= 0].long()
        self.pulls[rows] |= (grad_means[rows] != 0).any(dim=1)

    def grid(self) -> dict[str, Any]:
        names = ("resolution", "offset", "hashed", "mask")
        return {
            **{n: getattr(self, n) for n in names},
            "sigma": self.sigma(),
            "guidance_sigma": self.guidance_sigma(),
            "norm": self.norm(),
            "table_size": self.layout.table_size,
            "smooth": self.smooth,
            "points": self.points,
            "soft": self.soft,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) -> (N, L~*F) float32."""
        if self.impl == "torch":
            return torch.cat([self._reference_level(x, lvl) for lvl in range(self.num_levels)], dim=1)
        self._guided = None
        train = torch.is_grad_enabled() and (self.means.requires_grad or self.values.requires_grad)
        if self.fuse_guidance and train and self.means.requires_grad:
            out, value = WarpLagrangian.apply(x, self.means, self.values, self, True, True)
            self._guided = (x, value, self.means._version)
            return out
        return WarpLagrangian.apply(x, self.means, self.values, self, False, train)

    def reach_anchors(self, x: torch.Tensor) -> torch.Tensor | None:
        """(L~*N, D) where the guidance reads each sample's candidates, level-major: x plus a
        uniform offset in [-reach, reach]^D cells of each level (one draw per sample, scaled per
        level), clamped to [0,1]^D; None with no reach (the sample's own cell, eq. 8)."""
        if self.reach == 0.0:
            return None
        unit = torch.rand(x.shape, generator=self.reach_generator).to(device=x.device, dtype=x.dtype) * 2.0 - 1.0
        cell = self.cell.to(x.dtype)[:, None, None]
        return (x.detach()[None] + unit[None] * self.reach * cell).clamp(0.0, 1.0).reshape(-1, x.shape[1])

    def guidance(self, x: torch.Tensor, anchors: torch.Tensor | None = None) -> torch.Tensor:
        """Guidance costs (N, L~) (eq. 8 without W: the hard minimum, or the softmin with guidance
        "soft") of the candidates of the cells of anchors (L~*N, D) (reach_anchors), or of each
        sample's own cell; zero for levels that are off."""
        if self.impl == "torch":
            sigma = self.guidance_sigma().tolist()
            at = None if anchors is None else anchors.reshape(self.num_levels, x.shape[0], -1)
            costs = [
                reference.guidance_level(
                    x, self.means, self.layout, lvl, sigma[lvl], self.points, self.smooth, soft=self.soft,
                    at=None if at is None else at[lvl],
                )
                for lvl in range(self.num_levels)
            ]  # fmt: skip
            return torch.stack(costs, dim=1) * self.mask.to(x.dtype)
        if anchors is None and self._guided is not None:
            at, value, version = self._guided
            self._guided = None
            if at is x and version == self.means._version:  # measured by the training forward at x
                return value
        return WarpGuidance.apply(x, self.means, anchors, self)

    def _reference_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        if not self.mask[level]:
            return torch.zeros(x.shape[0], self.values.shape[1], device=x.device)
        sigma, norm = float(self.sigma()[level]), float(self.norm()[level])
        return reference.gaussian_level_features(
            x, self.means, self.values, self.layout, level, sigma, self.points, self.smooth, norm
        )


class GaussianBucketsEncoding(nn.Module):
    """Hash-grid levels (coarse) followed by Lagrangian levels (fine): (N, D) -> (N, L*F)."""

    def __init__(self, config: GaussianBucketsConfig, impl: str = "warp") -> None:
        super().__init__()
        coarse_count = config.levels - config.lagrangian_levels
        coarse, fine = split_layout(layout_of(config), coarse_count)
        self.coarse = (
            HashGridEncoding(coarse, config.features, config.interpolation, impl, config.lagrange_k)
            if coarse_count
            else None
        )
        if self.coarse is not None:
            with torch.no_grad():  # the paper initialises every feature with N(0, 1e-3)
                self.coarse.table.normal_(0.0, 1e-3)
        self.lagrangian = LagrangianLevels(fine, config, impl)
        self.coarse_count = coarse_count
        self.num_levels = config.levels
        self.out_dims = config.levels * config.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.lagrangian(x)
        return fine if self.coarse is None else torch.cat([self.coarse(x), fine], dim=1)

    def set_mask(self, mask: tuple[bool, ...]) -> None:
        if self.coarse is not None:
            self.coarse.set_mask(mask[: self.coarse_count])
        self.lagrangian.mask.copy_(torch.tensor(mask[self.coarse_count :], dtype=torch.int32))

    def level_info(self) -> list[dict[str, Any]]:
        info = self.coarse.level_info() if self.coarse is not None else []
        lag = self.lagrangian
        sigma = lag.sigma().tolist()
        for i, (n, hashed, rows) in enumerate(
            zip(lag.layout.resolution, lag.layout.hashed, lag.layout.rows, strict=True)
        ):
            info.append(
                {
                    "level": self.coarse_count + i,
                    "resolution": n,
                    "hashed": hashed,
                    "rows": rows,
                    "occupancy": occupancy(n, lag.layout.dims, rows) if hashed else 1.0,
                    "lagrangian": True,
                    "points": rows * lag.points,
                    "sigma": sigma[i],
                }
            )
        return info


class GaussianBucketsField(Field):
    """Gaussian-bucket encoding + MLP decoder, with the guidance loss and sigma schedule."""

    uses_guidance = True
    config: GaussianBucketsConfig
    encoding: GaussianBucketsEncoding

    def __init__(self, config: GaussianBucketsConfig, impl: str = "warp") -> None:
        super().__init__(config, GaussianBucketsEncoding(config, impl))
        self.run_plan: RunPlan | None = None
        self._elapsed: Callable[[], float] = lambda: 0.0
        #: the last training forward's input and (detached) output, for guidance_error
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None
        self._groups: list[dict[str, Any]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) in [0,1]^D -> (N, out_dims); with guidance_error a training call keeps its output."""
        out = super().forward(x)
        if self.config.guidance_error and torch.is_grad_enabled():
            self._last = (x, out.detach())
        return out

    def sample_error(self, batch: Any) -> torch.Tensor | None:
        """(N,) squared reconstruction error of the last training forward at the batch's samples, if
        that forward was at batch.coords and the batch has targets of the output's shape; else None."""
        if self._last is None or self._last[0] is not batch.coords:
            return None
        out = self._last[1]
        if batch.targets is None or batch.targets.shape != out.shape:
            return None
        return ((out - batch.targets) ** 2).sum(dim=1)

    def set_run_plan(self, plan: RunPlan, elapsed: Callable[[], float]) -> None:
        """The trainer's hook: the run's planned length, and its training time so far."""
        self.run_plan, self._elapsed = plan, elapsed

    def sigma_progress(self, step: int) -> float:
        """Fraction of the sigma decay done after `step` steps."""
        if self.config.sigma_schedule == "run" and self.run_plan is not None:
            return self.run_plan.progress(step, self._elapsed())
        return step / self.config.sigma_decay_steps

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The other parameters at lr, the means at means_lr (the optimizer keeps these dicts: with
        means_lr_end, after_step moves the means' base_lr along the sigma decay)."""
        means = self.encoding.lagrangian.means
        others = [p for p in self.parameters() if p is not means]
        self._groups = [{"params": others, "lr": lr}, {"params": [means], "lr": self.config.means_lr}]
        return self._groups

    def extra_loss(self, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """lambda(step) * mean over the batch of W'(x) * sum over Lagrangian levels of the guidance
        cost (read through the reach's anchors with guidance_reach > 0); W' = W (eq. 8), or with
        guidance_power or guidance_error the weights of guidance_weights."""
        weight = self.config.guidance_at(step)
        if weight == 0.0 or batch.weights is None:
            return torch.zeros((), device=batch.coords.device), {}
        lag = self.encoding.lagrangian
        cost = lag.guidance(batch.coords, lag.reach_anchors(batch.coords))
        error = self.sample_error(batch) if self.config.guidance_error else None
        w = guidance_weights(batch.weights, self.config.guidance_power, error)
        self._last = None
        # the mean over samples of w * (sum over levels of cost) as one product (N,) @ (N, L~): one
        # pass each way instead of a multiply, two reductions and their backward passes
        loss = (weight / max(1, cost.shape[0])) * (w.to(cost.dtype) @ cost).sum()
        return loss, {"guidance": float(loss.detach())}

    def after_step(self, step: int) -> None:
        progress = self.sigma_progress(step)
        self.encoding.lagrangian.sigma_scale.fill_(self.config.sigma_at(progress))
        if self.config.means_lr_end > 0.0 and len(self._groups) == 2 and "base_lr" in self._groups[0]:
            main, means = self._groups
            means["base_lr"] = self.config.means_lr_at(progress)
            means["lr"] = means["base_lr"] * main["lr"] / main["base_lr"]

    def inspect(self) -> dict[str, Any]:
        """Adds the point positions of every Lagrangian level (what the viewer draws)."""
        info = super().inspect()
        lag = self.encoding.lagrangian
        means = lag.means.detach().cpu().numpy()
        sigma = lag.sigma().tolist()
        info["points"] = [
            {
                "level": self.encoding.coarse_count + i,
                "means": means[o * lag.points : (o + r) * lag.points],
                "sigma": sigma[i],
            }
            for i, (o, r) in enumerate(zip(lag.layout.offset, lag.layout.rows, strict=True))
        ]
        info["sigma_scale"] = float(lag.sigma_scale)
        return info

    def load_state(self, arrays: dict[str, Any]) -> None:
        """As Field.load_state; a snapshot saved before the points' starting positions were kept
        starts them where they are."""
        if "encoding.lagrangian.start" not in arrays and "encoding.lagrangian.means" in arrays:
            arrays = {**arrays, "encoding.lagrangian.start": arrays["encoding.lagrangian.means"]}
        super().load_state(arrays)
