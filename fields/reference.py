"""Pure-PyTorch versions of the Warp kernels: the references the tests compare against (in
float64) and the baselines the benchmarks race (in float32). Vectorised over points, levels and
cell corners; autograd gives their gradients.

Cell choice is computed in float32 exactly as the kernels do, so both pick the same cells; the
interpolation then runs in the table's dtype.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as nnf

PRIMES = (1, 2654435761, 805459861)


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


def level_features(x: torch.Tensor, table: torch.Tensor, layout: Any, level: int, smooth: int) -> torch.Tensor:
    """Features (N, F) of one level: corner rows (dense or hashed) interpolated at x (N, D)."""
    res = layout.resolution[level]
    cell, frac = locate(x, res, table.dtype)
    corners = cell[:, None, :] + corner_bits(x.shape[1], x.device)[None]  # (N, C, D)
    if layout.hashed[level]:
        rows = hash_index(corners, layout.table_size)
    else:
        rows = dense_index(corners, torch.tensor(res, device=x.device))
    feats = nnf.embedding(rows + layout.offset[level], table)  # (N, C, F)
    return (corner_weights(frac, smooth)[..., None] * feats).sum(dim=1)


def hashgrid_encode(x: torch.Tensor, table: torch.Tensor, layout: Any, mask: torch.Tensor, smooth: int) -> torch.Tensor:
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


def block_layers(weights: torch.Tensor, dims: int, hidden: int, layers: int, out_dims: int) -> list[tuple[Any, Any]]:
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
