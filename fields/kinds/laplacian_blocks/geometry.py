"""Where a Laplacian-block field's evaluation reads its blocks: BlockGeometry (which weight row each
block of the chosen scales uses, as the arrays the Warp kernels read, and every (point, block) pair an
evaluation sums) and torch_blocks, the same evaluation in pure PyTorch (reference and baseline)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

from fieldscope.fields import reference
from fieldscope.fields.kinds.laplacian_blocks.layout import (
    PADDED_BATCH,
    Scale,
    locate,
    padded_batches,
    sample_counts,
    scale_layout,
    u2_windows,
    window_samples,
)

if TYPE_CHECKING:
    from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig


class BlockGeometry:
    """Which weight row each block of the chosen scales uses, as the arrays the kernels read.

    slots: (sum over all scales of blocks,) int32, -1 for no MLP; scales_on: scale j adds its
    residual; top: the scale whose reconstruction is evaluated (None: the finest that is on).
    """

    def __init__(
        self, config: LaplacianBlocksConfig, slots: torch.Tensor, scales_on: tuple[bool, ...], top: int | None = None
    ) -> None:
        self.config = config
        self.layout = scale_layout(config)
        self.slots = slots
        self.scales_on = scales_on
        self.top = top if top is not None else next((j for j, on in enumerate(scales_on) if on), config.scales - 1)
        device = slots.device
        self.arrays = {
            "slots": slots,
            "slot_offset": torch.tensor([s.first for s in self.layout], dtype=torch.int32, device=device),
            "blocks": torch.tensor([_vec3(s.blocks, 1) for s in self.layout], dtype=torch.int32, device=device),
            "inv_extent": torch.tensor(
                [_vec3([n / s.extent for n in config.size], 1.0) for s in self.layout],
                dtype=torch.float32,
                device=device,
            ),
            "mask": torch.tensor(scales_on, dtype=torch.int32, device=device),
            "samples": torch.tensor(
                [_vec3(sample_counts(config, j), 1) for j in range(config.scales)], dtype=torch.int32, device=device
            ),
            "sample_scale": torch.tensor(
                [_vec3([n / (1 << j) for n in config.size], 1.0) for j in range(config.scales)],
                dtype=torch.float32,
                device=device,
            ),
        }

    def entries(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every (point, block with an MLP) pair the evaluation at x (N, D) sums: point index, weight
        row, local coordinates (E, D) and U2 weight (E,), both in x's dtype."""
        c, top = self.config, self.top
        points, rows, local, weights = [], [], [], []

        def add(point: torch.Tensor, row: torch.Tensor, loc: torch.Tensor, weight: torch.Tensor) -> None:
            keep = torch.nonzero(row >= 0).squeeze(1)
            points.append(point[keep])
            rows.append(row[keep])
            local.append(loc[keep])
            weights.append(weight[keep])

        if self.scales_on[top]:
            ids, loc = locate(x, self.layout[top], c.size)
            add(
                torch.arange(x.shape[0], device=x.device),
                self.slots[self.layout[top].first + ids].long(),
                loc,
                torch.ones(x.shape[0], dtype=x.dtype, device=x.device),
            )
        for j, base, win in u2_windows(x, c, top):
            if self.scales_on[j]:
                point, m, weight = window_samples(base, win)
                ids, loc = sample_blocks(m, self.layout[j], c.block_size, x.dtype)
                add(point, self.slots[self.layout[j].first + ids].long(), loc, weight)
        if not points:
            empty = torch.zeros(0, dtype=torch.long, device=x.device)
            return empty, empty, x.new_zeros(0, x.shape[1]), x.new_zeros(0)
        return torch.cat(points), torch.cat(rows), torch.cat(local), torch.cat(weights)

    def segments(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The entries grouped by weight row, for the per-block gradient reduction (see
        gpu.laplacian_blocks.backward); on CUDA long segments are cut into pieces of 128."""
        points, rows, local, weight = self.entries(x)
        order = torch.argsort(rows, stable=True)
        rows, points = rows[order], points[order]
        starts = _segment_starts(rows, 128 if x.device.type == "cuda" else None)
        return {
            "order": points.to(torch.int32),
            "local": local[order].float().contiguous(),
            "weight": weight[order].float().contiguous(),
            "row": rows[starts[:-1]].to(torch.int32),
            "start": starts.to(torch.int32),
        }


def sample_blocks(m: torch.Tensor, scale: Scale, side: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples m (E, D) of a scale (indices per axis) -> their block ids (E,) and local coordinates (E, D)."""
    k = m // side
    local = (2.0 * (m - k * side).to(dtype) + 1.0) / side - 1.0
    ids = k[:, -1]
    for d in range(m.shape[1] - 2, -1, -1):
        ids = ids * scale.blocks[d] + k[:, d]
    return ids, local


def _vec3(values: Iterable[float], fill: float) -> list[float]:
    values = list(values)
    return values + [fill] * (3 - len(values))


def _segment_starts(sorted_rows: torch.Tensor, piece: int | None) -> torch.Tensor:
    """Start offsets (S+1,) of the runs of equal rows, runs cut every `piece` entries if given."""
    n = sorted_rows.numel()
    if n == 0:
        return torch.zeros(1, dtype=torch.long, device=sorted_rows.device)
    change = torch.ones(n, dtype=torch.bool, device=sorted_rows.device)
    change[1:] = sorted_rows[1:] != sorted_rows[:-1]
    if piece:
        run_start = torch.cummax(torch.where(change, torch.arange(n, device=change.device), 0), 0).values
        change |= (torch.arange(n, device=change.device) - run_start) % piece == 0
    starts = torch.nonzero(change).squeeze(1)
    return torch.cat([starts, torch.tensor([n], device=starts.device)])


def torch_blocks(x: torch.Tensor, weights: torch.Tensor, blocks: BlockGeometry) -> torch.Tensor:
    """The same evaluation in pure PyTorch (reference and benchmark baseline): the entries grouped by
    block, padded to equal length, the MLPs of a batch of blocks in one torch.bmm per layer, weighted
    by U2. Blocks go in batches of similar entry counts whose padded size stays within PADDED_BATCH
    (a coarse block holds far more entries than a fine one: padding all to the longest took tens of
    GB for a 640x480 view of four scales)."""
    c = blocks.config
    points, rows, local, weight = blocks.entries(x.to(weights.dtype))
    out = torch.zeros(x.shape[0], c.out_dims, dtype=weights.dtype, device=x.device)
    if rows.numel() == 0:
        return out
    order = torch.argsort(rows, stable=True)
    rows, points, local, weight = rows[order], points[order], local[order], weight[order]
    starts = _segment_starts(rows, None)
    lengths = starts[1:] - starts[:-1]
    segment = torch.repeat_interleave(torch.arange(lengths.numel(), device=x.device), lengths)
    position = torch.arange(rows.numel(), device=x.device) - starts[:-1][segment]
    for batch_segments in padded_batches(lengths.cpu(), PADDED_BATCH):
        batch_segments = batch_segments.to(x.device)
        slot = torch.full((lengths.numel(),), -1, dtype=torch.long, device=x.device)
        slot[batch_segments] = torch.arange(batch_segments.numel(), device=x.device)
        chosen = torch.nonzero(slot[segment] >= 0).squeeze(1)
        where = slot[segment[chosen]]
        batch = local.new_zeros(batch_segments.numel(), int(lengths[batch_segments].max()), local.shape[1])
        batch[where, position[chosen]] = local[chosen]
        mlp_weights = weights[rows[starts[:-1][batch_segments]]]
        values = reference.siren_blocks(batch, mlp_weights, *c.mlp[1:3], c.omega)
        out = out.index_add(0, points[chosen], values[where, position[chosen]] * weight[chosen, None])
    return out
