"""Where a Laplacian-block field's samples and blocks are (fields/kinds/laplacian_blocks/field.py): each scale's
block layout, the block and local coordinate of a point, the samples per axis of a scale, a block's
sample grid, and MINER's U2 (the bilinear 2x upsampling between scales), as a whole-grid numpy
upsampling and as the composed weights of points over coarser samples."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

# Block states (the `status` buffer); here, not in field.py, so that the view's legend and block
# colours read them without loading the Warp kernels.
NOT_STARTED, ACTIVE, CONVERGED, STOPPED, PRUNED = 0, 1, 2, 3, 4
STATUS_NAMES = ("not_started", "active", "converged", "stopped", "pruned")


class PyramidShape(Protocol):
    """What the layout reads of a LaplacianBlocksConfig (fields/kinds/laplacian_blocks/field.py, which imports
    this module)."""

    @property
    def size(self) -> tuple[int, ...]: ...
    @property
    def scales(self) -> int: ...
    @property
    def block_size(self) -> int: ...
    @property
    def dims(self) -> int: ...


@runtime_checkable
class BlocksConfig(PyramidShape, Protocol):
    """A config whose field is Laplacian blocks: the pyramid, and the parameters of one block's MLP."""

    @property
    def row_length(self) -> int: ...


@dataclass(frozen=True)
class Scale:
    """One scale's blocks: per axis (coordinate order) the block count and finest samples per block."""

    scale: int
    blocks: tuple[int, ...]
    extent: int
    first: int

    @property
    def count(self) -> int:
        return math.prod(self.blocks)

    @property
    def stop(self) -> int:
        return self.first + self.count


def scale_layout(config: PyramidShape) -> tuple[Scale, ...]:
    """Every scale's blocks, indexed by scale (0 finest); block ids of scale j are first..stop-1 in
    the field's per-block buffers."""
    out, first = [], 0
    for j in range(config.scales):
        extent = config.block_size << j
        blocks = tuple(-(-n // extent) for n in config.size)
        out.append(Scale(j, blocks, extent, first))
        first += math.prod(blocks)
    return tuple(out)


def locate(x: torch.Tensor, scale: Scale, size: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Block ids (N,) int64 within the scale, and local coordinates (N, D) in x's dtype, of points x.

    The block choice is computed in float32 exactly as the kernels do.
    """
    inv = torch.tensor([n / scale.extent for n in size], dtype=torch.float32, device=x.device)
    p32 = x.detach().to(torch.float32).clamp(0.0, 1.0) * inv
    limit = torch.tensor(scale.blocks, device=x.device) - 1
    k = torch.minimum(torch.floor(p32).long(), limit)
    p = x.clamp(0.0, 1.0) * inv.to(x.dtype)
    local = 2.0 * (p - k.to(x.dtype)) - 1.0
    ids = k[:, -1]
    for d in range(x.shape[1] - 2, -1, -1):
        ids = ids * scale.blocks[d] + k[:, d]
    return ids, local


def sample_counts(config: PyramidShape, scale: int) -> tuple[int, ...]:
    """Samples per axis of scale j inside the signal, ceil(S_d / 2^j)."""
    return tuple(-(-n // (1 << scale)) for n in config.size)


def upsample2(coarse: np.ndarray, fine_shape: tuple[int, ...], valid: tuple[int, ...]) -> np.ndarray:
    """MINER's U2: the bilinear 2x upsampling of a scale's samples coarse (n_{D-1}, ..., n_0, C) (array
    order, channels last) onto the next finer scale's grid of fine_shape (array order). Fine sample
    m sits at (m + 1/2) / 2 - 1/2 coarse samples (torch's interpolate with align_corners=False),
    clamped to the first `valid` coarse samples per axis (coordinate order; those past the signal
    are padding) so that the edges repeat. numpy: it runs between Warp launches, where torch's
    threads would compete with Warp's."""
    out = coarse
    dims = len(fine_shape)
    for axis in range(dims):
        n = valid[dims - 1 - axis]
        s = np.clip((np.arange(fine_shape[axis]) + 0.5) * 0.5 - 0.5, 0.0, n - 1)
        lo = np.floor(s).astype(np.int64)
        f = (s - lo).astype(coarse.dtype).reshape(-1, *([1] * (out.ndim - axis - 1)))
        hi = np.minimum(lo + 1, n - 1)
        out = np.take(out, lo, axis) * (1 - f) + np.take(out, hi, axis) * f
    return out


def u2_windows(x: torch.Tensor, config: PyramidShape, top: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """For each scale j under `top` (top+1 .. J-1): (j, base (N, D) int64, win (N, D, 3)), the composed
    U2 weights of points x (N, D) over samples base + 0..2 of scale j per axis."""
    cnt = torch.tensor(sample_counts(config, top + 1), dtype=x.dtype, device=x.device)
    per_unit = torch.tensor([n / (1 << (top + 1)) for n in config.size], dtype=x.dtype, device=x.device)
    s = torch.minimum((x.clamp(0.0, 1.0) * per_unit - 0.5).clamp_min(0.0), cnt - 1)
    base = torch.floor(s).long()
    f = s - base.to(x.dtype)
    win = torch.stack([1 - f, f, torch.zeros_like(f)], dim=-1)
    for j in range(top + 1, config.scales):
        yield j, base, win
        if j + 1 < config.scales:
            base, win = _next_window(base, win, sample_counts(config, j + 1))


def _next_window(base: torch.Tensor, win: torch.Tensor, counts: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """U2 of the weights win (N, D, 3) over samples base + 0..2 onto the next coarser scale."""
    limit = torch.tensor(counts, device=base.device) - 1
    out = torch.zeros_like(win)
    first = torch.zeros((), dtype=torch.long)
    for e in range(3):
        s = torch.minimum(((base + e).to(win.dtype) * 0.5 - 0.25).clamp_min(0.0), limit.to(win.dtype))
        lo = torch.floor(s).long()
        f = s - lo.to(win.dtype)
        first = lo if e == 0 else first
        hi = torch.minimum(lo + 1, limit)
        out.scatter_add_(2, (lo - first)[..., None], (win[..., e] * (1 - f))[..., None])
        out.scatter_add_(2, (hi - first)[..., None], (win[..., e] * f)[..., None])
    return first, out


def window_samples(base: torch.Tensor, win: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The window's nonzero entries: point index (E,), sample index per axis (E, D), weight (E,)."""
    dims = base.shape[1]
    offsets = torch.cartesian_prod(*([torch.arange(3)] * dims)).view(-1, dims).flip(1).to(base.device)
    weight = torch.ones(base.shape[0], offsets.shape[0], dtype=win.dtype, device=win.device)
    for d in range(dims):
        weight = weight * win[:, d, offsets[:, d]]
    point, entry = torch.nonzero(weight != 0, as_tuple=True)
    return point, base[point] + offsets[entry], weight[point, entry]


def block_grid(config: PyramidShape) -> torch.Tensor:
    """Local coordinates (b^D, D) of a block's samples (their centres), sample x fastest."""
    b = config.block_size
    centres = (torch.arange(b, dtype=torch.float64) + 0.5) * (2.0 / b) - 1.0
    grids = torch.meshgrid(*([centres] * config.dims), indexing="ij")
    return torch.stack([g.reshape(-1) for g in reversed(grids)], dim=-1).float()


def to_blocks(signal: np.ndarray, b: int) -> np.ndarray:
    """A band (b, ..., n_0 * b, C) in array order -> (blocks, b^D, C): blocks x fastest, samples x fastest."""
    spatial = signal.shape[:-1]
    counts = [n // b for n in spatial]
    split: list[int] = []
    for n in counts:
        split += [n, b]
    blocks = signal.reshape(*split, signal.shape[-1])
    dims = len(spatial)
    order = [2 * a for a in range(dims)] + [2 * a + 1 for a in range(dims)] + [2 * dims]
    return blocks.transpose(order).reshape(math.prod(counts), b**dims, signal.shape[-1])


def from_blocks(blocks: np.ndarray, shape: tuple[int, ...], b: int) -> np.ndarray:
    """The inverse of to_blocks: (blocks, b^D, C) -> `shape` (array order, channels last, whole blocks)."""
    spatial = shape[:-1]
    dims = len(spatial)
    counts = [n // b for n in spatial]
    grid = blocks.reshape(*counts, *([b] * dims), shape[-1])
    order = [a for pair in zip(range(dims), range(dims, 2 * dims), strict=True) for a in pair] + [2 * dims]
    return grid.transpose(order).reshape(shape)


#: Padded entries (blocks x longest) evaluated together by torch_blocks.
PADDED_BATCH = 1 << 18


def padded_batches(lengths: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """Segment indices (of lengths (S,)) in batches of similar length, each of at most `budget`
    padded entries (count x its longest; a segment longer than the budget goes alone)."""
    sizes = lengths.tolist()
    batches: list[list[int]] = [[]]
    for s in torch.argsort(lengths, stable=True).tolist():
        if batches[-1] and (len(batches[-1]) + 1) * sizes[s] > budget:
            batches.append([])
        batches[-1].append(s)
    return [torch.tensor(b, dtype=torch.long) for b in batches]
