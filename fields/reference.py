"""Pure-PyTorch versions of the Warp kernels: the references the tests compare against (in
float64) and the baselines the benchmarks race (in float32). Vectorised over points, levels and
cell corners; autograd gives their gradients.

Cell choice is computed in float32 exactly as the kernels do, so both pick the same cells; the
interpolation then runs in the table's dtype.
"""

from __future__ import annotations

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


def locate(x: torch.Tensor, resolution: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells (N, L, D) int64 and fractions (N, L, D) of points x (N, D) in grids of the given
    resolutions (L,). Cells and fraction values follow the float32 kernels; the fractions carry
    the exact gradient resolution * dx (zero where x is outside [0,1])."""
    res32 = resolution.to(torch.float32)
    pos32 = x.detach().to(torch.float32).clamp(0.0, 1.0)[:, None, :] * res32[None, :, None]
    cell = torch.minimum(torch.floor(pos32), (res32 - 1.0)[None, :, None])
    frac_value = (pos32 - cell).to(dtype)
    xc = x.to(dtype).clamp(0.0, 1.0)
    moving = (xc - xc.detach())[:, None, :] * resolution.to(dtype)[None, :, None]
    return cell.to(torch.int64), frac_value + moving


def axis_weights(frac: torch.Tensor, smooth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-axis weights of the lower and upper vertex (linear or smoothstep)."""
    s = frac * frac * (3.0 - 2.0 * frac) if smooth else frac
    return 1.0 - s, s


def corner_weights(frac: torch.Tensor, smooth: int) -> torch.Tensor:
    """(N, L, D) fractions -> (N, L, 2^D) corner weights, corner order as corner_bits."""
    lower, upper = axis_weights(frac, smooth)
    dims = frac.shape[-1]
    bits = corner_bits(dims, frac.device).to(torch.bool)  # (C, D)
    per_axis = torch.where(bits[None, None], upper[:, :, None, :], lower[:, :, None, :])  # (N, L, C, D)
    return per_axis.prod(dim=-1)


def level_rows(cell: torch.Tensor, layout: Any) -> torch.Tensor:
    """Table rows (N, L, 2^D) of the corners of each point's cells, level offsets included."""
    device = cell.device
    dims = cell.shape[-1]
    corners = cell[:, :, None, :] + corner_bits(dims, device)[None, None]  # (N, L, C, D)
    resolution = torch.tensor(layout.resolution, device=device)
    hashed = torch.tensor(layout.hashed, device=device)
    offset = torch.tensor(layout.offset, device=device)
    dense = dense_index(corners, resolution[None, :, None])
    hashed_rows = hash_index(corners, layout.table_size)
    return torch.where(hashed[None, :, None], hashed_rows, dense) + offset[None, :, None]


def hashgrid_encode(x: torch.Tensor, table: torch.Tensor, layout: Any, mask: torch.Tensor, smooth: int) -> torch.Tensor:
    """Hash encoding of x (N, D) with table (R, F) -> (N, L*F) in the table's dtype.

    layout: a fields.hashgrid.LevelLayout; mask (L,) 0/1 turns levels off.
    """
    resolution = torch.tensor(layout.resolution, device=x.device)
    cell, frac = locate(x, resolution, table.dtype)
    weights = corner_weights(frac, smooth) * mask.to(table.dtype)[None, :, None]
    rows = level_rows(cell, layout)
    feats = nnf.embedding(rows, table)  # (N, L, C, F)
    out = (weights[..., None] * feats).sum(dim=2)
    return out.reshape(x.shape[0], -1)
