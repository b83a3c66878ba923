"""Pure-PyTorch versions of the Warp kernels: the references the tests compare against (in
float64) and the baselines the benchmarks race (in float32). Vectorised over points, levels and
cell corners; autograd gives their gradients.

Cell choice is computed in float32 exactly as the kernels do, so both pick the same cells; the
interpolation then runs in the table's dtype.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as nnf

from fieldscope.gpu.hashing import LAGRANGE, PRIMES

if TYPE_CHECKING:
    from fieldscope.fields.kinds.hashgrid import LevelLayout


def hash_index(corners: torch.Tensor, table_size: int) -> torch.Tensor:
    """Spatial hash of integer vertices (..., D) -> rows in [0, table_size): xor of coord * prime."""
    h = corners[..., 0] * PRIMES[0]
    for d in range(1, corners.shape[-1]):
        h = h ^ (corners[..., d] * PRIMES[d])
    return h & (table_size - 1)


def dense_index(corners: torch.Tensor, resolution: torch.Tensor) -> torch.Tensor:
    """Row of integer vertices (..., D) in a dense (N+1)^D grid; resolution broadcasts against (...)."""
    stride = resolution + 1
    index = corners[..., -1]
    for d in range(corners.shape[-1] - 2, -1, -1):
        index = index * stride + corners[..., d]
    return index


def corner_bits(dims: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2^D, D) int64: bit d of corner c says upper (1) or lower (0) along axis d."""
    c = torch.arange(1 << dims, device=device)
    return torch.stack([(c >> d) & 1 for d in range(dims)], dim=-1)


def locate(x: torch.Tensor, resolution: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells (N, D) int64 and fractions (N, D) of points x (N, D) in a grid of the given resolution.

    Cells and fraction values follow the float32 kernels; the fractions carry the exact gradient
    resolution * dx (zero where x is outside [0,1]).
    """
    pos32 = x.detach().to(torch.float32).clamp(0.0, 1.0) * float(resolution)
    cell = torch.clamp(torch.floor(pos32), max=float(resolution - 1))
    frac_value = (pos32 - cell).to(dtype)
    xc = x.to(dtype).clamp(0.0, 1.0)
    return cell.to(torch.int64), frac_value + (xc - xc.detach()) * resolution


def corner_weights(frac: torch.Tensor, smooth: int) -> torch.Tensor:
    """(N, D) fractions -> (N, 2^D) corner weights (linear or smoothstep), corner order as corner_bits."""
    s = frac * frac * (3.0 - 2.0 * frac) if smooth else frac
    bits = corner_bits(frac.shape[-1], frac.device).to(torch.bool)  # (C, D)
    return torch.where(bits[None], s[:, None, :], 1.0 - s[:, None, :]).prod(dim=-1)


def corner_rows(cell: torch.Tensor, layout: LevelLayout, level: int) -> torch.Tensor:
    """Rows (N, 2^D) of the corners of cells (N, D) in one level, the level's offset included."""
    return vertex_rows(cell[:, None, :] + corner_bits(cell.shape[1], cell.device)[None], layout, level)


def vertex_rows(vertices: torch.Tensor, layout: LevelLayout, level: int) -> torch.Tensor:
    """Rows (N, P) of integer vertices (N, P, D) in one level (dense or hashed), offset included."""
    if layout.hashed[level]:
        rows = hash_index(vertices, layout.table_size)
    else:
        rows = dense_index(vertices, torch.tensor(layout.resolution[level], device=vertices.device))
    return rows + layout.offset[level]


def lagrange_basis(u: torch.Tensor, support: int) -> torch.Tensor:
    """Lagrange basis on nodes 0..support-1 at u (...) -> (..., support), eq. 2 of HashEncoding."""
    nodes = range(support)
    return torch.stack(
        [math.prod((u - m) / (j - m) for m in nodes if m != j) for j in nodes],  # type: ignore[misc]
        dim=-1,
    )


def stencil_offsets(dims: int, support: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(support^D, D) int64 offsets of a stencil's points, axis 0 fastest (the kernels' order)."""
    p = torch.arange(support**dims, device=device)
    return torch.stack([(p // support**d) % support for d in range(dims)], dim=-1)


def lagrange_points(x: torch.Tensor, resolution: int, k: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Lagrange multi-sampling (gpu/lagrange.py): stencil vertices (N, (2k)^D, D) int64 and their
    weights (N, (2k)^D) for x (N, D). Per axis the stencil starts at clamp(cell - k + 1, 0, N - 2k + 1)
    (shifted inwards at the border); u = N*x - start is computed in float32 as the kernels do."""
    support = 2 * k
    pos32 = x.detach().to(torch.float32).clamp(0.0, 1.0) * float(resolution)
    cell = torch.clamp(torch.floor(pos32), max=float(resolution - 1))
    start = torch.clamp(cell - (k - 1), 0.0, float(resolution - support + 1))
    xc = x.to(dtype).clamp(0.0, 1.0)
    u = (pos32 - start).to(dtype) + (xc - xc.detach()) * resolution
    per_axis = lagrange_basis(u, support)  # (N, D, S)
    offsets = stencil_offsets(x.shape[1], support, x.device)  # (P, D)
    axes = torch.arange(x.shape[1], device=x.device)
    weights = per_axis[:, axes[None, :], offsets].prod(dim=-1)  # (N, P)
    return start.to(torch.int64)[:, None, :] + offsets[None], weights


def interpolation_points(
    x: torch.Tensor, layout: LevelLayout, level: int, smooth: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows (N, P) a level reads for x (N, D) and their weights (N, P): the 2^D cell corners
    (linear, smoothstep) or the (2k)^D Lagrange stencil."""
    if smooth >= LAGRANGE:
        vertices, weights = lagrange_points(x, layout.resolution[level], smooth - LAGRANGE + 1, dtype)
        return vertex_rows(vertices, layout, level), weights
    cell, frac = locate(x, layout.resolution[level], dtype)
    return corner_rows(cell, layout, level), corner_weights(frac, smooth)


def level_features(x: torch.Tensor, table: torch.Tensor, layout: LevelLayout, level: int, smooth: int) -> torch.Tensor:
    """Features (N, F) of one level: the rows it reads (dense or hashed) interpolated at x (N, D)."""
    rows, weights = interpolation_points(x, layout, level, smooth, table.dtype)
    return (weights[..., None] * nnf.embedding(rows, table)).sum(dim=1)


def hashgrid_encode(
    x: torch.Tensor, table: torch.Tensor, layout: LevelLayout, mask: torch.Tensor, smooth: int
) -> torch.Tensor:
    """Hash encoding of x (N, D) with table (R, F) -> (N, L*F) in the table's dtype.

    layout: a fields.hashgrid.LevelLayout; mask (L,) 0/1 turns levels off (zeros, no gradient).
    One level at a time: that keeps each level's rows in cache and was the fastest PyTorch form
    we found (3-4x a version vectorised over levels).
    """
    parts = [
        level_features(x, table, layout, level, smooth)
        if on
        else torch.zeros(x.shape[0], table.shape[1], dtype=table.dtype, device=x.device)
        for level, on in enumerate(mask.tolist())
    ]
    return torch.cat(parts, dim=1)


def bucket_points(
    x: torch.Tensor,
    means: torch.Tensor,
    layout: LevelLayout,
    level: int,
    points: int,
    smooth: int,
    at: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For one Lagrangian level: bucket weights alpha (N, C), the rows of the K points of every
    bucket (N, C, K), and squared distances |x - mu|^2 (N, C, K); the buckets and weights are those
    of the cell of `at` (N, D) when given (the guidance's reach), else of x."""
    buckets, alpha = interpolation_points(x if at is None else at, layout, level, smooth, means.dtype)
    rows = buckets[..., None] * points + torch.arange(points, device=x.device)
    p = x.to(means.dtype).clamp(0.0, 1.0)
    dist2 = ((p[:, None, None, :] - means[rows]) ** 2).sum(dim=-1)
    return alpha, rows, dist2


def gaussian_level_features(
    x: torch.Tensor,
    means: torch.Tensor,
    values: torch.Tensor,
    layout: LevelLayout,
    level: int,
    sigma: float,
    points: int,
    smooth: int,
    norm: float | None = None,
) -> torch.Tensor:
    """Features (N, F) of a Lagrangian level: sum_v alpha_v sum_k N(x; mu_vk, sigma) f_vk with the
    isotropic Gaussian norm * exp(-|x - mu|^2 / (2 sigma^2)); norm None: Lagrangian Hashing's eq. 3,
    1 / (sqrt(2 pi) sigma)."""
    alpha, rows, dist2 = bucket_points(x, means, layout, level, points, smooth)
    norm = 1.0 / (math.sqrt(2.0 * math.pi) * sigma) if norm is None else norm
    gauss = torch.exp(-dist2 / (2.0 * sigma * sigma)) * norm
    return ((alpha[..., None] * gauss)[..., None] * values[rows]).sum(dim=(1, 2))


def guidance_level(
    x: torch.Tensor,
    means: torch.Tensor,
    layout: LevelLayout,
    level: int,
    sigma: float,
    points: int,
    smooth: int,
    alpha_eps: float = 1e-5,
    soft: bool = False,
    at: torch.Tensor | None = None,
) -> torch.Tensor:
    """Guidance cost (N,) of one level (eq. 8 without W): min over corners v and points k of
    cost_vk = -log(alpha_v + eps) + |x - mu_vk|^2 / (2 sigma^2); soft: the softmin
    -log sum_vk exp(-cost_vk), so that every candidate gets its softmax share of the pull. The
    candidates are those of the cell of `at` (N, D) when given (the guidance's reach), else of x.
    Lagrange weights can be negative: with them the guidance uses the linear weights of the cell's
    corners (as gpu/gaussian_buckets.py)."""
    smooth = 0 if smooth >= LAGRANGE else smooth
    alpha, _rows, dist2 = bucket_points(x, means, layout, level, points, smooth, at)
    cost = (-torch.log(alpha + alpha_eps)[..., None] + dist2 / (2.0 * sigma * sigma)).flatten(1)
    return -torch.logsumexp(-cost, dim=1) if soft else cost.min(dim=1).values


def segment_ids(offsets: torch.Tensor) -> torch.Tensor:
    """Ray index (S,) of every sample, from offsets (R + 1,)."""
    counts = (offsets[1:] - offsets[:-1]).long()
    return torch.repeat_interleave(torch.arange(counts.shape[0], device=offsets.device), counts)


def composite_reference(
    sigma: torch.Tensor,
    rgb: torch.Tensor,
    t: torch.Tensor,
    dt: torch.Tensor,
    offsets: torch.Tensor,
    threshold: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Volume rendering of gpu/volume_render.py in the inputs' dtype: color (R, 3), opacity (R,),
    depth (R,), weights (S,). A sample takes part while the transmittance before it is >= threshold."""
    ray = segment_ids(offsets)
    rays = offsets.shape[0] - 1
    tau = sigma * dt
    inclusive = torch.cumsum(tau, 0)
    first = offsets[:-1].long().clamp_max(max(0, tau.shape[0] - 1))
    before_ray = (inclusive - tau)[first] if tau.shape[0] else torch.zeros(rays, dtype=tau.dtype)
    transmittance = torch.exp(-(inclusive - tau - before_ray[ray]))
    used = (transmittance >= threshold).detach()
    weights = torch.where(used, transmittance * (1.0 - torch.exp(-tau)), torch.zeros_like(tau))
    zeros = torch.zeros(rays, dtype=sigma.dtype, device=sigma.device)
    color = torch.zeros(rays, 3, dtype=rgb.dtype, device=rgb.device).index_add(0, ray, weights[:, None] * rgb)
    return color, zeros.index_add(0, ray, weights), zeros.index_add(0, ray, weights * t), weights


def distortion_reference(
    weights: torch.Tensor, t: torch.Tensor, dt: torch.Tensor, offsets: torch.Tensor
) -> torch.Tensor:
    """mip-NeRF 360 distortion loss per ray (R,), by its definition (all pairs of samples)."""
    losses = []
    for r in range(offsets.shape[0] - 1):
        s = slice(int(offsets[r]), int(offsets[r + 1]))
        w, m = weights[s], t[s]
        pairs = (w[:, None] * w[None, :] * (m[:, None] - m[None, :]).abs()).sum()
        losses.append(pairs + (w * w * dt[s]).sum() / 3.0)
    return torch.stack(losses) if losses else weights.new_zeros(0)


def block_layers(
    weights: torch.Tensor, dims: int, hidden: int, layers: int, out_dims: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Unpack weight rows (B, P) of the block MLPs (layout of gpu/laplacian_blocks.py) into per-layer
    (W (B, fan_in, fan_out), b (B, fan_out)) views."""
    widths = [dims] + [hidden] * (layers - 1) + [out_dims]
    parts, start = [], 0
    for fan_in, fan_out in itertools.pairwise(widths):
        w = weights[:, start : start + fan_out * fan_in].reshape(-1, fan_in, fan_out)
        start += fan_out * fan_in
        parts.append((w, weights[:, start : start + fan_out]))
        start += fan_out
    if start != weights.shape[1]:
        raise ValueError(f"weight rows hold {weights.shape[1]} floats, the MLP needs {start}")
    return parts


def siren_blocks(local: torch.Tensor, weights: torch.Tensor, hidden: int, layers: int, omega: float) -> torch.Tensor:
    """Every block's SIREN on its own points: local (B, S, D) in [-1, 1], weights (B, P) -> (B, S, C).

    Hidden layers compute sin(omega * (a W + b)), the last layer is linear; one torch.bmm per layer
    over all blocks at once (as MINER does).
    """
    dims = local.shape[-1]
    out_dims = (weights.shape[1] - hidden * (dims + 1) - (layers - 2) * hidden * (hidden + 1)) // (hidden + 1)
    parts = block_layers(weights, dims, hidden, layers, out_dims)
    h = local
    for index, (w, b) in enumerate(parts):
        h = torch.baddbmm(b[:, None, :], h, w)
        if index < len(parts) - 1:
            h = torch.sin(omega * h)
    return h
