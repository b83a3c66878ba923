"""Coarse-to-fine training of the Laplacian-block field (MINER's Algorithm 1), as a trainer strategy.

Scales are fitted from the coarsest (J-1) to the finest (0). When scale j starts, one pass over the
scene computes every block's target: the signal averaged down to scale j minus the field's coarser
scales there (Eq. 7). A block whose residual mean squared error is at most tau (`target_mse`) gets
no MLP (pruned); the others get one, started from their parent's weights divided by 2 (images) or
sqrt(8) (volumes) from the third scale on, else SIREN's initialisation. Each step then trains
every active block (config.blocks_per_step > 0: that many) on all their samples in one fused launch,
one Adam step per block (blocks are independent, so
each has its own Adam moments and step count); a block whose error reaches tau_j leaves the active
set (tau on the finest scale, tau * coarse_ratio on the others). A coarser scale ends when none is
active, after max_epochs passes, or when the pass loss stops changing; the finest scale trains
until every block is done.

The scene must offer `read_region(lo, hi)`: the samples in [lo, hi) per axis (coordinate order
x, y[, z]) as an array in array order with channels last; its describe()["size"] is the field's
config.size.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.laplacian_blocks import pyramid
from fieldscope.fields.kinds.laplacian_blocks.field import (
    LaplacianBlocksConfig,
    LaplacianBlocksField,
    given,
    siren_init,
)
from fieldscope.fields.kinds.laplacian_blocks.layout import (
    ACTIVE,
    CONVERGED,
    NOT_STARTED,
    PRUNED,
    STOPPED,
    Scale,
    to_blocks,
)
from fieldscope.fields.scenes.base import psnr_from_mse
from fieldscope.fields.training.trainer import TrainingError
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import laplacian_blocks as kernels

if TYPE_CHECKING:
    from fieldscope.fields.training.trainer import Trainer

#: Residual targets of a scale larger than this stay on disk (read per batch) instead of in memory.
RESIDUALS_IN_MEMORY = 1 << 30
#: Points per call when the coarser scales are evaluated during a scale's set-up pass.
EVAL_CHUNK = 1 << 18
#: Adam constants (PyTorch's defaults, which MINER uses).
BETAS, EPS = (0.9, 0.999), 1e-8


class ResidualStore:
    """A scale's residual targets, one (samples, C) float32 row per trained block, appended in row
    order during the set-up pass and read by batches: in memory, or in a temporary file when large."""

    def __init__(self, samples: int, channels: int, expected_rows: int) -> None:
        self.row_shape = (samples, channels)
        self.row_bytes = samples * channels * 4
        self.rows = 0
        self._parts: list[np.ndarray] = []
        self._memory: np.ndarray | None = None
        self._file = None
        if expected_rows * self.row_bytes > RESIDUALS_IN_MEMORY:
            self._file = tempfile.TemporaryFile(prefix="fieldscope-residuals-")  # noqa: SIM115 (closed by close())

    def append(self, rows: np.ndarray) -> None:
        """Add rows (n, samples, C)."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self._file is not None:
            os.pwrite(self._file.fileno(), rows.tobytes(), self.rows * self.row_bytes)
        else:
            self._parts.append(rows)
        self.rows += rows.shape[0]

    def read(self, index: np.ndarray) -> np.ndarray:
        """Rows (B, samples, C) at the given indices."""
        if self._file is None:
            if self._memory is None:
                empty = np.zeros((0, *self.row_shape), np.float32)
                self._memory = np.concatenate(self._parts) if self._parts else empty
                self._parts = []
            return self._memory[index]
        out = np.empty((len(index), *self.row_shape), np.float32)
        for k, i in enumerate(index):
            data = os.pread(self._file.fileno(), self.row_bytes, int(i) * self.row_bytes)
            out[k] = np.frombuffer(data, np.float32).reshape(self.row_shape)
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class ScaleRun:
    """Training state of the scale being fitted: its blocks with an MLP, their residuals, per-block
    Adam moments and the pass (epoch) over the active ones."""

    def __init__(
        self,
        scale: Scale,
        block_ids: torch.Tensor,
        rows: torch.Tensor,
        store: ResidualStore,
        width: int,
        device: torch.device,
    ) -> None:
        self.scale = scale
        self.block_ids = block_ids  # (n,) ids within the scale, in row order
        self.rows = rows  # (n,) weight rows
        self.store = store
        self.m = torch.zeros(rows.numel(), width, device=device)
        self.v = torch.zeros(rows.numel(), width, device=device)
        self.steps = torch.zeros(rows.numel(), dtype=torch.int32, device=device)
        self.epoch = 0
        self.order = torch.zeros(0, dtype=torch.long)
        self.cursor = 0
        self.epoch_sum = 0.0
        self.epoch_count = 0
        self.last_epoch_loss = math.nan
        self.scale_losses: list[float] = []  # after each pass: the mean error of all the scale's blocks


class ScaleByScaleTraining:
    """MINER's training strategy, scale by scale from the coarsest: `step()` -> (loss, metrics).
    `finished` turns true once the finest scale is done; further steps only wait briefly."""

    def __init__(self, trainer: Trainer) -> None:
        field = checked_field(trainer)
        self.trainer = trainer
        self.field: LaplacianBlocksField = field
        self.config = field.config
        self.run: ScaleRun | None = None
        self.finished = False
        self._weights_seen: torch.Tensor | None = None
        self._last: tuple[float, dict[str, float]] = (math.nan, {})

    # ---- the step
    def step(self) -> tuple[float, dict[str, float]]:
        if self.field.weights is not self._weights_seen:
            self._resume()  # first step, or the trainer restored parameters
        while not self.finished:
            if self.run is None:
                self._begin_next_scale()
                continue
            batch = self._next_batch()
            if batch is None:
                self._end_epoch()
                continue
            self._last = self._train(batch)
            return self._last
        time.sleep(0.02)  # nothing left to train: do not spin
        return self._last[0], {**self._last[1], "finished": 1.0}

    def _train(self, batch: torch.Tensor) -> tuple[float, dict[str, float]]:
        """One Adam step on every block of the batch (local indices into the run)."""
        run, c, field = self.run, self.config, self.field
        assert run is not None
        device = field.weights.device
        valid = inside(run.scale, run.block_ids[batch], c)
        loss_weight = torch.from_numpy(valid / (valid.sum(1, keepdims=True) * c.out_dims)).to(device)
        targets = torch.from_numpy(run.store.read(batch.numpy())).to(device)
        block_mse, grad, _ = field.fit_blocks(take_rows(field.weights.detach(), run.rows[batch]), targets, loss_weight)
        value = self.trainer.check_finite(block_mse.mean())
        if not all_finite(grad):
            raise TrainingError(f"step {self.trainer.step_count + 1}: a gradient is not finite")
        lr = self.trainer.optimizer.param_groups[0]["lr"] * c.lr_decay**run.epoch
        rows = run.rows[batch].to(device, torch.int32)
        state = (batch.to(device, torch.int32), run.m, run.v, run.steps)
        lrs = torch.full((batch.numel(),), lr, device=device)
        warp_call(kernels.adam_rows, field.weights.data, rows, *state[:1], grad, *state[1:], lrs, BETAS, EPS)
        self._record(batch, block_mse.detach())
        active = int((field.status[run.scale.first + run.block_ids] == ACTIVE).sum())
        metrics = {
            "batch_psnr": psnr_from_mse(value),
            "scale": float(run.scale.scale),
            "epoch": float(run.epoch),
            "active_blocks": float(active),
        }
        return value, metrics

    def _record(self, batch: torch.Tensor, block_mse: torch.Tensor) -> None:
        """Store the blocks' errors; those at or under tau_j leave the active set."""
        run, field = self.run, self.field
        assert run is not None
        ids = run.scale.first + run.block_ids[batch]
        field.error[ids] = block_mse.to(field.error.dtype)
        done = block_mse <= self.config.converged_mse(run.scale.scale)
        field.status[ids[done.cpu()]] = CONVERGED
        run.epoch_sum += float(block_mse.sum())
        run.epoch_count += batch.numel()

    # ---- passes over the active blocks
    def _next_batch(self) -> torch.Tensor | None:
        """Local indices of the next blocks of this pass that are still active (None: pass over)."""
        run = self.run
        assert run is not None
        per_step = self.config.blocks_per_step or run.order.numel()
        status = self.field.status[run.scale.first + run.block_ids].cpu()
        picked: list[torch.Tensor] = []
        count = 0
        while count < per_step and run.cursor < run.order.numel():
            chunk = run.order[run.cursor : run.cursor + per_step - count]
            run.cursor += chunk.numel()
            chunk = chunk[status[chunk] == ACTIVE]
            picked.append(chunk)
            count += chunk.numel()
        return torch.cat(picked) if count else None

    def _end_epoch(self) -> None:
        """Close a pass; start the next one or end the scale."""
        run, c, field = self.run, self.config, self.field
        assert run is not None
        active = torch.nonzero(field.status[run.scale.first + run.block_ids].cpu() == ACTIVE).squeeze(1)
        if run.epoch_count:
            loss = run.epoch_sum / run.epoch_count
            plateau = abs(loss - run.last_epoch_loss) < c.plateau
            run.last_epoch_loss = loss
            run.epoch += 1
            run.scale_losses.append(float(field.error[run.scale.first + run.block_ids].mean()))
            coarse = run.scale.scale > 0
            if coarse and (run.epoch >= given(c.max_epochs) or plateau or good_enough(run.scale_losses, c)):
                field.status[run.scale.first + run.block_ids[active]] = STOPPED
                active = active[:0]
        if active.numel() == 0:
            self._end_scale()
            return
        run.order = active[torch.randperm(active.numel(), generator=self.trainer.generator)]
        run.cursor, run.epoch_sum, run.epoch_count = 0, 0.0, 0

    def _end_scale(self) -> None:
        run = self.run
        assert run is not None
        run.store.close()
        self.run = None
        if run.scale.scale == 0:
            self.finished = True

    # ---- scales
    def _resume(self) -> None:
        """Pick up where the field's block states say training is (a fresh field starts at J-1)."""
        if self.run is not None:
            self.run.store.close()
            self.run = None
        self.finished = False
        self._weights_seen = self.field.weights
        for j in range(self.config.scales):
            s = self.field.layout[j]
            status = self.field.status[s.first : s.stop]
            if bool((status != NOT_STARTED).any()):
                if bool((status == ACTIVE).any()):
                    self._open_scale(j, fresh=False)
                elif j == 0:
                    self.finished = True
                return

    def _begin_next_scale(self) -> None:
        started = [j for j in range(self.config.scales) if self._started(j)]
        nxt = self.config.scales - 1 if not started else min(started) - 1
        if nxt < 0:
            self.finished = True
            return
        self._open_scale(nxt, fresh=True)

    def _started(self, j: int) -> bool:
        s = self.field.layout[j]
        return bool((self.field.status[s.first : s.stop] != NOT_STARTED).any())

    def _open_scale(self, j: int, fresh: bool) -> None:
        """Compute scale j's residual targets; when fresh, prune and give the other blocks MLPs."""
        field, c = self.field, self.config
        scale = field.layout[j]
        samples = c.block_size**c.dims
        store = ResidualStore(samples, c.out_dims, scale.count)
        rows_before = field.block_rows(j).cpu()
        energies = torch.empty(scale.count)
        kept: list[torch.Tensor] = []
        for band, residual in self._residual_bands(scale):
            ids = band * residual.shape[0] + torch.arange(residual.shape[0])
            valid = torch.from_numpy(inside(scale, ids, c))
            energy = ((residual**2).sum(-1) * valid).sum(1) / (valid.sum(1) * c.out_dims)
            energies[ids] = energy
            keep = energy > c.target_mse if fresh else rows_before[ids] >= 0
            kept.append(ids[keep])
            store.append(residual[keep].numpy())
        block_ids = torch.cat(kept) if kept else torch.zeros(0, dtype=torch.long)
        if fresh:
            status = field.status[scale.first : scale.stop]
            status.fill_(PRUNED)
            status[block_ids] = ACTIVE
            field.error[scale.first : scale.stop] = energies
            rows = field.add_rows(j, block_ids, initial_rows(field, scale, block_ids, self.trainer.generator))
            self._weights_seen = field.weights
        else:
            rows = rows_before[block_ids]
        self.run = ScaleRun(scale, block_ids, rows, store, c.row_length, field.weights.device)
        self._end_epoch()

    def _residual_bands(self, scale: Scale) -> Iterator[tuple[int, torch.Tensor]]:
        """For each band of blocks along the last axis: (band, residuals (blocks in band, b^D, C)), the
        scale-j signal minus the field's coarser scales, blocks in id order, samples x fastest."""
        c, field, scene = self.config, self.field, region_scene(self.trainer)
        b, f = c.block_size, 1 << scale.scale
        coarser = tuple(j > scale.scale for j in range(c.scales))
        any_coarser = any(bool((field.block_rows(j) >= 0).any()) for j in range(scale.scale + 1, c.scales))
        last = c.dims - 1
        for band in range(scale.blocks[last]):
            lo = [0] * c.dims
            hi = list(c.size)
            lo[last] = band * scale.extent
            hi[last] = min(c.size[last], (band + 1) * scale.extent)
            region = torch.from_numpy(np.ascontiguousarray(scene.read_region(tuple(lo), tuple(hi)), dtype=np.float32))
            full = tuple(n * scale.extent for n in reversed(scale.blocks[:last]))
            signal = pyramid.downsample(pyramid.pad_edges(region, (scale.extent, *full)), f)
            if any_coarser:
                x = band_coordinates(scale, band, c).to(field.weights.device)
                parts = [
                    field.evaluate_scales(x[i : i + EVAL_CHUNK], coarser, scale.scale)
                    for i in range(0, len(x), EVAL_CHUNK)
                ]
                pred = torch.cat(parts)
                signal = signal - pred.detach().cpu().view(signal.shape)
            yield band, torch.from_numpy(to_blocks(signal.numpy(), b))


def checked_field(trainer: Trainer) -> LaplacianBlocksField:
    """The trainer's field, once it is a Laplacian-block field that fits the trainer's scene."""
    field = trainer.field
    if not isinstance(field, LaplacianBlocksField):
        raise ConfigError("coarse-to-fine training needs a laplacian_blocks field")
    size = tuple(trainer.scene.describe().get("size", ()))
    if size != tuple(field.config.size):
        raise ConfigError(
            f"the field was made for a {'x'.join(map(str, field.config.size))} signal, "
            f"the scene has {'x'.join(map(str, size))} samples"
        )
    region_scene(trainer)
    return field


@runtime_checkable
class RegionScene(Protocol):
    """A scene that reads its samples in [lo, hi) per axis (coordinate order), as (..., C) in array order."""

    def read_region(self, lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray: ...


def region_scene(trainer: Trainer) -> RegionScene:
    """The trainer's scene, once it reads regions of its samples."""
    scene = trainer.scene
    if not isinstance(scene, RegionScene):
        raise ConfigError(f"a {scene.task} scene cannot train a laplacian_blocks field (no read_region)")
    return scene


def initial_rows(
    field: LaplacianBlocksField, scale: Scale, block_ids: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Weight rows (n, P) for new blocks of a scale: the parent's weights / 2 (2D) or / sqrt(8) (3D)
    from scale J-3 down, else SIREN's initialisation."""
    c = field.config
    rows = siren_init(block_ids.numel(), c, generator)
    if scale.scale > c.scales - 3 or block_ids.numel() == 0:
        return rows
    parent = field.layout[scale.scale + 1]
    k = unravel(block_ids, scale.blocks) // 2
    parent_ids = k[:, -1]
    for d in range(c.dims - 2, -1, -1):
        parent_ids = parent_ids * parent.blocks[d] + k[:, d]
    parent_rows = field.slots[parent.first + parent_ids].long()
    has = parent_rows >= 0
    divisor = 2.0 if c.dims == 2 else math.sqrt(8.0)
    rows[has] = field.weights.detach()[parent_rows[has]].cpu() / divisor
    return rows


def good_enough(scale_losses: list[float], c: LaplacianBlocksConfig) -> bool:
    """Whether a coarse scale has trained enough for its children to start: its blocks' mean error
    fell by less than the fraction c.min_gain over the last c.gain_window passes (min_gain 0: never)."""
    min_gain = given(c.min_gain)
    if min_gain <= 0 or len(scale_losses) <= c.gain_window:
        return False
    before, now = scale_losses[-1 - c.gain_window], scale_losses[-1]
    return now > (1.0 - min_gain) * before


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether every value is finite (through numpy on the CPU: torch's threads there wake slowly
    next to the Warp launches)."""
    if tensor.device.type == "cpu":
        return bool(np.isfinite(tensor.numpy()).all())
    return bool(torch.isfinite(tensor).all())


def unravel(ids: torch.Tensor, blocks: tuple[int, ...]) -> torch.Tensor:
    """Block ids -> per-axis block indices (n, D), coordinate order (x fastest in the id)."""
    out = []
    rest = ids.long()
    for n in blocks:
        out.append(rest % n)
        rest = rest // n
    return torch.stack(out, dim=1)


def take_rows(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tensor[index] (through numpy on the CPU, as all_finite)."""
    if tensor.device.type == "cpu":
        return torch.from_numpy(tensor.numpy()[index.numpy()])
    return tensor[index.to(tensor.device)]


def inside(scale: Scale, ids: torch.Tensor, c: LaplacianBlocksConfig) -> np.ndarray:
    """(n, b^D) float32: 1 where a sample of blocks `ids` (sample x fastest) lies inside the signal,
    0 on the padding past its end. (numpy: torch's threads wake slowly next to Warp launches.)"""
    b, f = c.block_size, 1 << scale.scale
    k = unravel(ids, scale.blocks).numpy()  # (n, D)
    mask = np.ones((len(k), 1), np.float32)
    for d in range(c.dims):
        count = np.clip((c.size[d] + f - 1) // f - k[:, d] * b, 0, b)  # samples of the block inside, axis d
        axis = (np.arange(b)[None, :] < count[:, None]).astype(np.float32)  # (n, b)
        mask = (axis[:, :, None] * mask[:, None, :]).reshape(len(k), -1)  # axis d varies slowest so far
    return mask


def band_coordinates(scale: Scale, band: int, c: LaplacianBlocksConfig) -> torch.Tensor:
    """Coordinates (N, D) of the scale-j samples of a band of blocks, in array order (x fastest)."""
    b, f = c.block_size, 1 << scale.scale
    axes = []
    for d in range(c.dims):
        start = band * b if d == c.dims - 1 else 0
        count = b if d == c.dims - 1 else scale.blocks[d] * b
        axes.append((torch.arange(start, start + count, dtype=torch.float64) + 0.5) * f / c.size[d])
    grids = torch.meshgrid(*reversed(axes), indexing="ij")
    return torch.stack([g.reshape(-1) for g in reversed(grids)], dim=-1).float()
