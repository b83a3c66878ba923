"""NeRF volume rendering on top of the Warp kernels of gpu/volume_render.py: ray marching through an
occupancy grid, compositing (a torch autograd Function with the hand-written backward), the
mip-NeRF 360 distortion loss, the occupancy grid itself, and `render_rays`, which puts a field
and a colour head together.

A density field is any field with out_dims = 1 + k: output 0 is the log-density (sigma =
exp(output 0), Instant-NGP's activation), and all outputs are the colour head's geometry features.
The head decides both: `head.sigma(output 0, samples, dt)` and `head.colour_at(field, points,
outputs, view)` (a NeRF head: exp and its MLP; the surface task's head: NeuS's opacity of each
sample's interval from the SDF at it and at the next sample, and colour from the features, the
SDF's normal and the view).
Coordinates are the unit cube's; distances t along unit-length directions are in its units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from fieldscope.fields.config import check
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import volume_render as kernels

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase
    from fieldscope.fields.scenes.nerf import NerfHead

#: Stop compositing a ray once its transmittance is under this (Instant-NGP's 1e-4).
TERMINATION = 1e-4


class _TruncExp(torch.autograd.Function):
    """exp(x) with its gradient computed at min(x, 15): keeps early, huge densities finite."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(-15.0, 15.0))


def density(raw: torch.Tensor) -> torch.Tensor:
    """Density sigma >= 0 from a field's raw output 0 (N,) -> (N,)."""
    return _TruncExp.apply(raw)


@dataclass(frozen=True)
class Samples:
    """Points along rays: ray (S,) int64 ray index, t (S,) distances, offsets (R + 1,) int32."""

    ray: torch.Tensor
    t: torch.Tensor
    offsets: torch.Tensor

    @property
    def counts(self) -> torch.Tensor:
        return (self.offsets[1:] - self.offsets[:-1]).long()


def offsets_of(counts: torch.Tensor) -> torch.Tensor:
    """Exclusive prefix sum with the total appended: counts (R,) -> offsets (R + 1,) int32."""
    out = torch.zeros(counts.shape[0] + 1, dtype=torch.int32, device=counts.device)
    out[1:] = torch.cumsum(counts, 0)
    return out


def march_rays(
    origins: torch.Tensor,
    directions: torch.Tensor,
    occupied: torch.Tensor,
    dt: float,
    jitter: torch.Tensor | None = None,
    near: float = 0.0,
    max_samples: int | None = None,
) -> Samples:
    """Samples on the lattice t_k = (k + jitter) * dt of each ray, inside [0,1]^3 and in occupied
    cells of `occupied` (G, G, G) bool/uint8. origins, directions (R, 3); jitter (R,) (default 0.5)."""
    rays = origins.shape[0]
    device = origins.device
    jitter = torch.full((rays,), 0.5, device=device) if jitter is None else jitter.float().contiguous()
    res = occupied.shape[0]
    cells = occupied.to(torch.uint8).reshape(-1).contiguous()
    cap = max_samples or math.ceil(math.sqrt(3.0) / dt) + 2
    origins, directions = origins.float().contiguous(), directions.float().contiguous()
    counts = torch.zeros(rays, dtype=torch.int32, device=device)
    t = torch.empty(0, device=device)
    common = (origins, directions, jitter, cells, res, float(dt), float(near), cap)
    warp_call(kernels.march, *common, counts, counts, t, False)
    offsets = offsets_of(counts)
    t = torch.empty(int(offsets[-1]), device=device)
    warp_call(kernels.march, *common, offsets, counts, t, True)
    ray = torch.repeat_interleave(torch.arange(rays, device=device), counts.long())
    return Samples(ray, t, offsets)


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        sigma: torch.Tensor,
        rgb: torch.Tensor,
        t: torch.Tensor,
        dt: torch.Tensor,
        offsets: torch.Tensor,
        threshold: float,
    ) -> tuple[torch.Tensor, ...]:
        rays = offsets.shape[0] - 1
        sigma, rgb = sigma.detach().float().contiguous(), rgb.detach().float().contiguous()
        t, dt = t.detach().float().contiguous(), dt.detach().float().contiguous()
        color = torch.empty(rays, 3, device=sigma.device)
        opacity, depth = torch.empty(rays, device=sigma.device), torch.empty(rays, device=sigma.device)
        weights = torch.empty_like(sigma)
        used = torch.empty(rays, dtype=torch.int32, device=sigma.device)
        warp_call(
            kernels.composite_forward,
            sigma,
            rgb,
            t,
            dt,
            offsets,
            float(threshold),
            color,
            opacity,
            depth,
            weights,
            used,
        )
        ctx.save_for_backward(sigma, rgb, t, dt, offsets, weights, used)
        ctx.mark_non_differentiable(used)
        return color, opacity, depth, weights, used

    @staticmethod
    def backward(
        ctx: Any,
        g_color: torch.Tensor | None,
        g_opacity: torch.Tensor | None,
        g_depth: torch.Tensor | None,
        g_weights: torch.Tensor | None,
        _g_used: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, ...]:
        sigma, rgb, t, dt, offsets, weights, used = ctx.saved_tensors
        rays = offsets.shape[0] - 1

        def dense(g: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
            return torch.zeros(shape, device=sigma.device) if g is None else g.float().contiguous()

        grad_sigma, grad_rgb = torch.empty_like(sigma), torch.empty_like(rgb)
        warp_call(
            kernels.composite_backward,
            sigma,
            rgb,
            t,
            dt,
            offsets,
            weights,
            used,
            dense(g_color, (rays, 3)),
            dense(g_opacity, (rays,)),
            dense(g_depth, (rays,)),
            dense(g_weights, tuple(sigma.shape)),
            grad_sigma,
            grad_rgb,
        )
        return grad_sigma, grad_rgb, None, None, None, None


def composite(
    sigma: torch.Tensor,
    rgb: torch.Tensor,
    t: torch.Tensor,
    dt: torch.Tensor,
    offsets: torch.Tensor,
    threshold: float = TERMINATION,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Volume rendering along rays: sigma (S,), rgb (S, 3), t (S,), dt (S,), offsets (R + 1,) ->
    color (R, 3), opacity (R,), depth (R,), weights (S,), used (R,) (samples before termination).
    Differentiable in sigma and rgb (the backward is a Warp kernel)."""
    return _Composite.apply(sigma, rgb, t, dt, offsets, threshold)


class _Distortion(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, weights: torch.Tensor, t: torch.Tensor, dt: torch.Tensor, offsets: torch.Tensor
    ) -> torch.Tensor:
        weights = weights.detach().float().contiguous()
        t, dt = t.detach().float().contiguous(), dt.detach().float().contiguous()
        loss = torch.empty(offsets.shape[0] - 1, device=weights.device)
        warp_call(kernels.distortion, weights, t, dt, offsets, loss)
        ctx.save_for_backward(weights, t, dt, offsets)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        weights, t, dt, offsets = ctx.saved_tensors
        grad_weights = torch.empty_like(weights)
        warp_call(kernels.distortion_backward, weights, t, dt, offsets, grad_loss.float().contiguous(), grad_weights)
        return grad_weights, None, None, None


def distortion_loss(weights: torch.Tensor, t: torch.Tensor, dt: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """mip-NeRF 360's distortion loss per ray (R,): sum_ij w_i w_j |t_i - t_j| + 1/3 sum_i w_i^2 dt_i."""
    return _Distortion.apply(weights, t, dt, offsets)


class OccupancyGrid(nn.Module):
    """Instant-NGP's density grid over [0,1]^3: per cell the decayed maximum of sigma * dt seen at
    random points in it; a cell is occupied while that exceeds min(0.01, the mean over the grid).

    Cells never looked at count as occupied (their value starts at 1 and decays), so nothing is
    skipped before the field has been asked. Buffers (saved in snapshots): density (G^3,) float32,
    seen (G^3,) bool, occupied (G, G, G) bool.
    """

    density: torch.Tensor
    seen: torch.Tensor
    occupied: torch.Tensor

    def __init__(self, resolution: int = 128, decay: float = 0.95, share: float = 0.125) -> None:
        super().__init__()
        check(8 <= resolution <= 512, f"occupancy grid resolution must be between 8 and 512, not {resolution}")
        check(0.0 < share <= 1.0, f"the share of cells updated must be in (0, 1], not {share}")
        self.resolution, self.decay, self.share = resolution, decay, share
        cells = resolution**3
        self.register_buffer("density", torch.ones(cells))
        self.register_buffer("seen", torch.zeros(cells, dtype=torch.bool))
        self.register_buffer("occupied", torch.ones(resolution, resolution, resolution, dtype=torch.bool))
        self._order: torch.Tensor | None = None  # the order uniform looks follow, and how far they got
        self._cursor = 0

    @torch.no_grad()
    def update(
        self,
        field: FieldBase,
        dt: float,
        generator: torch.Generator,
        chunk: int = 1 << 18,
        to_sigma: Callable[[torch.Tensor], torch.Tensor] | None = None,
        share: float | None = None,
    ) -> None:
        """Look at `share` (default: the grid's) of the cells uniformly and as many among the
        occupied ones (Instant-NGP looks at a quarter of each; less here, for CPU budgets), then
        decay and threshold. `to_sigma`: the density (N,) of the field's output 0 (N,) (default:
        exp, a NeRF's)."""
        to_sigma = to_sigma or density
        cells = self.density.numel()
        count = max(1, int(cells * (share or self.share)))
        uniform = self._next_cells(count, generator)
        occupied = torch.nonzero(self.occupied.reshape(-1).cpu()).reshape(-1)
        pick = occupied[torch.randint(occupied.numel(), (count,), generator=generator)] if occupied.numel() else uniform
        index = torch.cat([uniform, pick]).to(self.density.device)
        res = self.resolution
        cell = torch.stack([index // (res * res), (index // res) % res, index % res], dim=-1).float()
        jitter = torch.rand(index.shape[0], 3, generator=generator).to(cell.device)
        points = (cell + jitter) / res
        values = torch.cat([to_sigma(field(points[s : s + chunk])[:, 0]) for s in range(0, index.shape[0], chunk)])
        fresh = torch.zeros_like(self.density).scatter_reduce_(
            0, index, values.float() * dt, "amax", include_self=False
        )
        looked = torch.zeros_like(self.seen).index_fill_(0, index, True)
        self.density.mul_(self.decay)
        self.density.copy_(
            torch.where(looked, torch.where(self.seen, self.density.maximum(fresh), fresh), self.density)
        )
        self.seen.logical_or_(looked)
        threshold = min(0.01, float(self.density.mean()))
        self.occupied.copy_((self.density > threshold).reshape(res, res, res))

    def _next_cells(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """`count` cells to look at uniformly: until every cell has been looked at once, the next
        ones of a random order of all of them (cells never looked at count as occupied, and random
        picks would leave (1 - share)^n of them so after n updates: every ray marched through them),
        then random ones (a cell emptied too early is looked at again soon, not one cycle later)."""
        if self._cursor >= self.density.numel():
            return torch.randperm(self.density.numel(), generator=generator)[:count]
        if self._order is None:
            self._order = torch.randperm(self.density.numel(), generator=generator)
        cells = self._order[self._cursor : self._cursor + count]
        self._cursor += count
        return cells

    def occupancy(self) -> float:
        """Share of occupied cells."""
        return float(self.occupied.float().mean())


@dataclass(frozen=True)
class Rendered:
    """What `render_rays` returns: per ray color (R, 3) (over the background), opacity (R,), depth
    (R,); per kept sample points (S, 3), weights (S,), t (S,), dt (S,), offsets (R + 1,)."""

    color: torch.Tensor
    opacity: torch.Tensor
    depth: torch.Tensor
    points: torch.Tensor
    weights: torch.Tensor
    t: torch.Tensor
    dt: torch.Tensor
    offsets: torch.Tensor
    marched: int


def _before_termination(samples: Samples, used: torch.Tensor) -> torch.Tensor:
    """Mask (S,) of the samples before each ray's termination (`used` (R,) per ray)."""
    position = torch.arange(samples.t.shape[0], device=samples.t.device) - samples.offsets[:-1].long()[samples.ray]
    return position < used.long()[samples.ray]


def render_rays(
    field: FieldBase,
    head: NerfHead,
    origins: torch.Tensor,
    directions: torch.Tensor,
    background: torch.Tensor,
    occupied: torch.Tensor,
    dt: float,
    jitter: torch.Tensor | None = None,
    threshold: float = TERMINATION,
) -> Rendered:
    """Render rays (R, 3) through a field and a head (its sigma and colour_at), over background
    (R, 3) or (3,).

    A first, gradient-free pass of the field finds where each ray's transmittance runs out; the
    field (again, with gradients, when they are enabled) and the head then run only on the samples
    before that: Instant-NGP's compaction. Without gradients, a head with `skip_weight` > 0 gives no
    colour (black) to samples that the first pass weighed under it.
    """
    samples = march_rays(origins, directions, occupied, dt, jitter)
    marched = samples.t.shape[0]
    with torch.no_grad():
        out = field(origins[samples.ray] + samples.t[:, None] * directions[samples.ray])
        dts = torch.full_like(samples.t, dt)
        zeros = torch.zeros(marched, 3, device=out.device)
        first = composite(head.sigma(out[:, 0], samples, dt), zeros, samples.t, dts, samples.offsets, threshold)
        used = first[4]
    keep = _before_termination(samples, used)
    samples = Samples(samples.ray[keep], samples.t[keep], offsets_of(used.long()))
    view = directions[samples.ray]
    points = origins[samples.ray] + samples.t[:, None] * view
    out = field(points) if torch.is_grad_enabled() else out[keep]
    sigma = head.sigma(out[:, 0], samples, dt)
    skip = float(getattr(head, "skip_weight", 0.0))
    if skip > 0.0 and not torch.is_grad_enabled():
        # a render (no training): colour only the samples that weigh (the surface head's colour
        # takes six more field evaluations per sample, for the normal)
        weighs = first[3][keep] >= skip
        rgb = torch.zeros(points.shape[0], 3, device=points.device)
        rgb[weighs] = head.colour_at(field, points[weighs], out[weighs], view[weighs]).to(rgb.dtype)
    else:
        rgb = head.colour_at(field, points, out, view)
    dts = dts[keep]
    color, opacity, depth, weights, _ = composite(sigma, rgb, samples.t, dts, samples.offsets, threshold)
    color = color + (1.0 - opacity)[:, None] * background
    return Rendered(color, opacity, depth, points, weights, samples.t, dts, samples.offsets, marched)
