"""Laplacian blocks (MINER) in the view, from a snapshot alone: every level's block grid with each
block's state and residual error (the same arrays as LaplacianBlocksField.inspect()), the block
under a point of the view, active-block counts, and the overlay layer that colours the blocks of
one level by state over the 2D view, with the grid lines between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fieldscope.fields.kinds.laplacian_blocks.layout import ACTIVE, STATUS_NAMES, scale_layout
from fieldscope.fields.training.trainer import Snapshot

#: RGBA per block state (index = state): not started (clear), active (orange), converged (green),
#: stopped at the epoch limit (blue), pruned (grey: no MLP, the residual was small already).
STATE_COLOURS = np.array(
    [
        (0.0, 0.0, 0.0, 0.0),
        (1.0, 0.55, 0.1, 0.45),
        (0.2, 0.8, 0.3, 0.4),
        (0.3, 0.5, 1.0, 0.4),
        (0.45, 0.45, 0.45, 0.55),
    ],
    np.float32,
)
LINE_COLOUR = np.array((0.05, 0.05, 0.05, 0.85), np.float32)


@dataclass(frozen=True)
class BlockLevel:
    """One level's blocks (level l is scale J-1-l): per axis the block count (coordinate order) and
    the block side in field units; status and error in inspect()'s array order ((n_y, n_x) or
    (n_z, n_y, n_x))."""

    level: int
    scale: int
    blocks: tuple[int, ...]
    side: tuple[float, ...]
    status: np.ndarray
    error: np.ndarray

    def counts(self) -> dict[str, int]:
        found = np.bincount(self.status.reshape(-1).astype(np.int64), minlength=len(STATUS_NAMES))
        return {name: int(found[k]) for k, name in enumerate(STATUS_NAMES)}

    def index_of(self, points: np.ndarray) -> np.ndarray:
        """Block index per axis (..., D) int64 of field points (..., D), as the field locates them
        (clamped to [0,1], the last block taking its padding)."""
        p = np.clip(points, 0.0, 1.0).astype(np.float32) / np.asarray(self.side, np.float32)
        return np.minimum(np.floor(p).astype(np.int64), np.asarray(self.blocks) - 1)

    def lookup(self, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        """values (inspect()'s order) at block indices (..., D) in coordinate order."""
        return values[tuple(index[..., d] for d in reversed(range(index.shape[-1])))]


def has_blocks(snapshot: Snapshot) -> bool:
    config = snapshot.config
    return config is not None and config.capabilities.blocks and "status" in snapshot.params


def block_levels(snapshot: Snapshot) -> list[BlockLevel]:
    """Every level's blocks, coarse to fine (empty for other kinds)."""
    if not has_blocks(snapshot):
        return []
    config = snapshot.config
    status, error = np.asarray(snapshot.params["status"]), np.asarray(snapshot.params["error"])
    layout = scale_layout(config)
    found = []
    for level in range(config.scales):
        s = layout[config.scales - 1 - level]
        shape = tuple(reversed(s.blocks))
        side = tuple(s.extent / n for n in config.size)
        part = slice(s.first, s.stop)
        found.append(
            BlockLevel(level, s.scale, s.blocks, side, status[part].reshape(shape), error[part].reshape(shape))
        )
    return found


def active_counts(snapshot: Snapshot) -> tuple[int, ...] | None:
    """Active blocks per level (coarse to fine), or None for kinds without blocks."""
    if not has_blocks(snapshot):
        return None
    return tuple(int(np.count_nonzero(b.status == ACTIVE)) for b in block_levels(snapshot))


@dataclass(frozen=True)
class BlockInfo:
    level: int
    scale: int
    index: tuple[int, ...]
    state: str
    error: float

    def describe(self) -> str:
        error = f"residual MSE {self.error:.3g}" if self.error >= 0 else "residual not measured yet"
        where = ", ".join(map(str, self.index))
        return f"level {self.level} (scale {self.scale}) block ({where}): {self.state.replace('_', ' ')}, {error}"


def block_at(snapshot: Snapshot, level: int, point: np.ndarray) -> BlockInfo | None:
    """The block of `level` that holds field point (D,), or None outside [0,1]^D or without blocks."""
    levels = block_levels(snapshot)
    point = np.asarray(point, np.float64)
    if not levels or not 0 <= level < len(levels) or np.any(point < 0.0) or np.any(point > 1.0):
        return None
    blocks = levels[level]
    index = blocks.index_of(point)
    state = int(blocks.lookup(index, blocks.status))
    error = float(blocks.lookup(index, blocks.error))
    return BlockInfo(level, blocks.scale, tuple(int(i) for i in index), STATUS_NAMES[state], error)


def layer(blocks: BlockLevel, coords: np.ndarray) -> np.ndarray:
    """The overlay (H, W, 4) premultiplied float32 for view pixels at field points (H, W, D) (the
    2D view's coordinates, or the 3D slice plane's points): each pixel inside the domain takes its
    block's state colour, and pixels where the block changes to the right or below take the grid
    line colour."""
    inside = np.all((coords >= 0.0) & (coords <= 1.0), axis=-1)
    index = blocks.index_of(coords)
    colours = STATE_COLOURS[blocks.lookup(index, blocks.status).astype(np.int64)]
    flat = sum(index[..., d] * int(np.prod(blocks.blocks[:d])) for d in range(index.shape[-1]))
    edge = np.zeros(flat.shape, bool)
    edge[:, :-1] |= flat[:, 1:] != flat[:, :-1]
    edge[:-1, :] |= flat[1:, :] != flat[:-1, :]
    colours[edge] = LINE_COLOUR
    colours[~inside] = 0.0
    colours[..., :3] *= colours[..., 3:]
    return colours
