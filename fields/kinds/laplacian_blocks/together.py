"""MINER's scales trained together (the "together" schedule of fields/kinds/laplacian_blocks/field.py), a trainer
strategy.

A finer scale starts as soon as the scale above it is good enough for it (its blocks' mean error
fell by less than the fraction min_gain over the last gain_window passes, or none of its blocks is
still training), not at that scale's plateau; the coarser scales go on training meanwhile, each
until its own end (tau_j, max_epochs or the plateau), or stop then (config.stop_coarser). Each step
is one pass: one Adam step for every active block of every started scale, in one fused launch
(`per_scale_launches` cuts it into one launch per scale, the same arithmetic), on a sample_fraction
of each block's samples (a round of steps covers them all). Because the coarser reconstruction
keeps changing, every scale's targets are taken anew each step: its signal (kept in memory, padded
to whole blocks) minus U2 of the reconstruction of the scale above, built from every started
scale's MLP outputs at its samples as of their last pass (a block that stops has its outputs taken
anew at all samples). New blocks are pruned and initialised as in Algorithm 1.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.laplacian_blocks import pyramid
from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksField, given
from fieldscope.fields.kinds.laplacian_blocks.layout import (
    ACTIVE,
    CONVERGED,
    NOT_STARTED,
    PRUNED,
    STOPPED,
    Scale,
    from_blocks,
    sample_counts,
    to_blocks,
    upsample2,
)
from fieldscope.fields.kinds.laplacian_blocks.training import (
    BETAS,
    EPS,
    all_finite,
    checked_field,
    good_enough,
    initial_rows,
    inside,
    region_scene,
    take_rows,
)
from fieldscope.fields.scenes.base import psnr_from_mse
from fieldscope.fields.training.trainer import TrainingError
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import laplacian_blocks as kernels

if TYPE_CHECKING:
    from fieldscope.fields.training.trainer import Trainer

#: The dense signal and predictions of all scales must fit in this many bytes (else: "sequential").
DENSE_LIMIT = 4 << 30


class ScaleState:
    """A started scale: its blocks with an MLP (ids in row order, weight rows), its signal (padded to
    whole blocks, array order, channels last), every block's last MLP outputs at its samples, its
    samples inside the signal (count, b^D; 1 inside, 0 on padding) and loss weights, its passes, and its
    targets as of the coarser scales' outputs when they last changed.
    The sample arrays are numpy: they are worked on between Warp launches, where torch's threads
    would compete with Warp's for the cores."""

    def __init__(self, scale: Scale, signal: np.ndarray, valid: np.ndarray, channels: int) -> None:
        self.scale = scale
        self.signal = signal
        self.valid = valid
        self.loss_weight = valid / (valid.sum(1, keepdims=True) * channels)
        self.pred = np.zeros((scale.count, valid.shape[1], channels), np.float32)
        self.version = 0  # counts changes of pred
        self.up: np.ndarray | np.float32 = np.float32(0.0)  # U2 of the reconstruction of the scale above (array order)
        self.targets = np.zeros(0, np.float32)  # (count, b^D, C): signal - up, cut into blocks
        self.targets_of: tuple[int, ...] | None = None  # the coarser scales' versions they were built at
        self.block_ids = torch.zeros(0, dtype=torch.long)
        self.rows = torch.zeros(0, dtype=torch.long)
        self.epoch = 0
        self.last_loss = math.nan
        self.scale_losses: list[float] = []


class ScalesTogetherTraining:
    """`step()` -> (loss, metrics); `finished` turns true once no block of any scale trains and the
    finest scale has started; `run` is the finest started scale."""

    def __init__(self, trainer: Trainer) -> None:
        self.field: LaplacianBlocksField = checked_field(trainer)
        self.trainer = trainer
        self.config = c = self.field.config
        dense = 2 * 4 * c.out_dims * sum(s.count for s in self.field.layout) * c.block_size**c.dims
        if dense > DENSE_LIMIT:
            raise ConfigError(
                f"training the scales together keeps {dense / 2**30:.1f} GiB of samples in memory (at most "
                f"{DENSE_LIMIT / 2**30:.0f}); use the sequential schedule for this signal"
            )
        self.states: list[ScaleState] = []  # coarse to fine
        self.m = torch.zeros(0, c.row_length)
        self.v = torch.zeros(0, c.row_length)
        self.steps = torch.zeros(0, dtype=torch.int32)
        self.per_scale_launches = False
        self.finished = False
        self._weights_seen: torch.Tensor | None = None
        self._order = np.zeros(0, np.int64)
        self._cursor = 0
        self._last: tuple[float, dict[str, float]] = (math.nan, {})

    @property
    def run(self) -> ScaleState | None:
        return self.states[-1] if self.states else None

    # ---- the step
    def step(self) -> tuple[float, dict[str, float]]:
        if self.field.weights is not self._weights_seen:
            self._resume()
        while not self.finished:
            if not self.states:
                self._start(self.config.scales - 1)
                continue
            targets = self._targets()
            batch = [(st, torch.nonzero(self._status(st) == ACTIVE).squeeze(1)) for st in self.states]
            trained = any(active.numel() for _, active in batch)
            if trained:
                self._last = self._train(batch, targets)
            self._end_pass(batch)
            if trained:
                return self._last
        time.sleep(0.02)  # nothing left to train: do not spin
        return self._last[0], {**self._last[1], "finished": 1.0}

    def _train(
        self, batch: list[tuple[ScaleState, torch.Tensor]], targets: list[np.ndarray]
    ) -> tuple[float, dict[str, float]]:
        """One Adam step for the active blocks of every started scale (local indices into each)."""
        c = self.config
        samples = self._samples()
        parts = []
        base_lr = self.trainer.optimizer.param_groups[0]["lr"]
        for (st, active), target in zip(batch, targets, strict=True):
            if active.numel():
                chosen = st.block_ids[active].numpy()
                lr = np.full(active.numel(), base_lr * c.lr_decay**st.epoch, np.float32)
                blocks = target[chosen[:, None], samples[None, :]]
                valid = st.valid[chosen[:, None], samples[None, :]]
                weight = valid / np.maximum(valid.sum(1, keepdims=True) * c.out_dims, 1e-30)
                parts.append((st, active, st.rows[active], blocks, weight, lr))
        if self.per_scale_launches:
            results = [self._fit_and_step(*p[2:], samples) for p in parts]
        else:
            rows = torch.cat([p[2] for p in parts])
            target, weight, lr = (np.concatenate([p[k] for p in parts]) for k in range(3, 6))
            mse, pred = self._fit_and_step(rows, target, weight, lr, samples)
            splits = np.cumsum([int(p[1].numel()) for p in parts])[:-1]
            results = list(zip(np.split(mse, splits), np.split(pred, splits), strict=True))
        total, count = 0.0, 0
        for (st, active, _, _, weight, _), (mse, pred) in zip(parts, results, strict=True):
            self._record(st, active, mse, pred, samples, weight.sum(1) > 0)
            total += float(mse.sum())
            count += active.numel()
        value = self.trainer.check_finite(torch.tensor(total / count))
        metrics = {
            "batch_psnr": psnr_from_mse(value),
            "scale": float(self.states[-1].scale.scale),
            "epoch": float(self.states[-1].epoch),
            "active_blocks": float(count),
        }
        return value, metrics

    def _samples(self) -> np.ndarray:
        """This step's samples of every block (indices into b^D, sorted): the next sample_fraction of a
        random order of all b^D, so that every sample is trained (and its stored output refreshed:
        finer scales' targets are built from it) once per round of 1/sample_fraction steps."""
        c = self.config
        total = c.block_size**c.dims
        fraction = given(c.sample_fraction)
        if fraction >= 1:
            return np.arange(total)
        count = max(1, round(total * fraction))
        if self._cursor + count > self._order.size:
            self._order = torch.randperm(total, generator=self.trainer.generator).numpy()
            self._cursor = 0
        chosen = self._order[self._cursor : self._cursor + count]
        self._cursor += count
        return np.sort(chosen)

    def _fit_and_step(
        self, rows: torch.Tensor, target: np.ndarray, weight: np.ndarray, lr: np.ndarray, samples: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One fused fit and one Adam step for weight rows (B,) against targets (B, S, C) at block samples
        `samples` (S,) with loss weights (B, S) at learning rates (B,); returns their errors (B,) and
        outputs (B, S, C)."""
        field = self.field
        device = field.weights.device
        target_t, weight_t = torch.from_numpy(target).to(device), torch.from_numpy(weight).to(device)
        mse, grad, pred = field.fit_blocks(take_rows(field.weights.detach(), rows), target_t, weight_t, samples)
        if not all_finite(grad):
            raise TrainingError(f"step {self.trainer.step_count + 1}: a gradient is not finite")
        index = rows.to(device, torch.int32)
        state = (index, self.m, self.v, self.steps)
        lr_t = torch.from_numpy(lr).to(device)
        warp_call(kernels.adam_rows, field.weights.data, index, state[0], grad, *state[1:], lr_t, BETAS, EPS)
        return mse.detach().cpu().numpy(), pred.detach().cpu().numpy()

    def _record(
        self,
        st: ScaleState,
        active: torch.Tensor,
        mse: np.ndarray,
        pred: np.ndarray,
        samples: np.ndarray,
        seen: np.ndarray,
    ) -> None:
        """Store the blocks' errors and outputs at the samples; those at or under tau_j (measured on
        samples inside the signal, `seen`) leave the active set."""
        field = self.field
        ids = st.scale.first + st.block_ids[active]
        mse_t = torch.from_numpy(mse)
        field.error[ids] = mse_t.to(field.error.device, field.error.dtype)
        done = (mse_t <= self.config.converged_mse(st.scale.scale)) & torch.from_numpy(seen)
        field.status[ids[done]] = CONVERGED
        st.pred[st.block_ids[active].numpy()[:, None], samples[None, :]] = pred
        st.version += 1
        if given(self.config.sample_fraction) < 1 and bool(done.any()):
            self._refresh_outputs(st, active[done])

    def _end_pass(self, batch: list[tuple[ScaleState, torch.Tensor]]) -> None:
        """Count a pass for every scale that trained; end coarse scales; start the next finer one."""
        c, field = self.config, self.field
        for st, active in batch:
            if not active.numel():
                continue
            ids = st.scale.first + st.block_ids
            loss = float(field.error[ids[active]].mean())
            plateau = abs(loss - st.last_loss) < c.plateau
            st.last_loss = loss
            st.epoch += 1
            st.scale_losses.append(float(field.error[ids].mean()))
            if st.scale.scale > 0 and (st.epoch >= given(c.max_epochs) or plateau):
                self._stop_training([st])
        finest = self.states[-1]
        idle = not bool((self._status(finest) == ACTIVE).any())
        if finest.scale.scale > 0 and (idle or good_enough(finest.scale_losses, c)):
            if c.stop_coarser:
                self._stop_training(self.states)
            self._start(finest.scale.scale - 1)
        elif finest.scale.scale == 0 and all(not bool((self._status(st) == ACTIVE).any()) for st in self.states):
            self.finished = True

    # ---- scales
    def _status(self, st: ScaleState) -> torch.Tensor:
        return self.field.status[st.scale.first + st.block_ids].cpu()

    def _targets(self) -> list[np.ndarray]:
        """Every started scale's targets (coarse to fine), cut into blocks (count, b^D, C): its signal
        minus U2 of the reconstruction of the scale above (the coarser scales' last MLP outputs,
        upsampled scale by scale). Built anew only when a coarser scale's outputs changed since (U2
        of a 1 MP photo's scales takes ~60 ms, more than a pass on 1/8 of the samples)."""
        c = self.config
        for i, st in enumerate(self.states):
            versions = tuple(above.version for above in self.states[:i])
            if st.targets_of == versions:
                continue
            if i:
                above = self.states[i - 1]
                upper = from_blocks(above.pred, above.signal.shape, c.block_size) + above.up
                st.up = upsample2(upper, st.signal.shape[:-1], sample_counts(c, st.scale.scale + 1))
            st.targets = to_blocks(st.signal - st.up, c.block_size)
            st.targets_of = versions
        return [st.targets for st in self.states]

    def _start(self, j: int, fresh: bool = True) -> None:
        """Open scale j: read its signal; when fresh, prune by the energy of its targets and give the
        other blocks MLPs (parents' weights / 2 from J-3 down)."""
        field, c = self.field, self.config
        scale = field.layout[j]
        valid = inside(scale, torch.arange(scale.count), c)
        st = ScaleState(scale, self._signal(scale), valid, c.out_dims)
        self.states.append(st)
        if fresh:
            target = self._targets()[-1]
            energy = torch.from_numpy(((target**2).sum(-1) * st.loss_weight).sum(1))
            block_ids = torch.nonzero(energy > c.target_mse).squeeze(1)
            status = field.status[scale.first : scale.stop]
            status.fill_(PRUNED)
            status[block_ids] = ACTIVE
            field.error[scale.first : scale.stop] = energy.to(field.error.device, field.error.dtype)
            rows = field.add_rows(j, block_ids, initial_rows(field, scale, block_ids, self.trainer.generator))
            self._weights_seen = field.weights
            self._grow_state(field.weights.shape[0])
        else:
            block_ids = torch.nonzero(field.block_rows(j).cpu() >= 0).squeeze(1)
            rows = field.block_rows(j).cpu()[block_ids]
        st.block_ids, st.rows = block_ids, rows.long()
        if not fresh:
            self._refresh_outputs(st, torch.arange(block_ids.numel()))

    def _stop_training(self, states: list[ScaleState]) -> None:
        """The active blocks of these scales stop (STOPPED), their outputs taken at all samples."""
        for st in states:
            still = torch.nonzero(self._status(st) == ACTIVE).squeeze(1)
            self.field.status[st.scale.first + st.block_ids[still]] = STOPPED
            if given(self.config.sample_fraction) < 1:
                self._refresh_outputs(st, still)

    def _refresh_outputs(self, st: ScaleState, local: torch.Tensor) -> None:
        """Store the MLP outputs of blocks `local` (indices into st.block_ids) at all their samples.
        Blocks that leave the active set need it when a step trains only some samples: finer scales'
        targets are built from these outputs, and stale ones (a round old) would stay so for good
        (1 MP photo, 4 scales, 1/8 of the samples a step: stuck at 19 dB without, 29.9 dB at 30 s with)."""
        if not local.numel():
            return
        st.pred[st.block_ids[local].numpy()] = self.field.block_outputs(st.rows[local])
        st.version += 1

    def _signal(self, scale: Scale) -> np.ndarray:
        """The signal averaged down to the scale, padded to whole blocks (array order, channels last)."""
        c = self.config
        region = region_scene(self.trainer).read_region((0,) * c.dims, tuple(c.size))
        signal = torch.from_numpy(np.ascontiguousarray(region, dtype=np.float32))
        full = tuple(n * scale.extent for n in reversed(scale.blocks))
        return pyramid.downsample(pyramid.pad_edges(signal, full), 1 << scale.scale).numpy()

    def _grow_state(self, rows: int) -> None:
        """Adam moments and step counts for weight rows added since (new rows start from zero)."""
        extra = rows - self.m.shape[0]
        device = self.field.weights.device
        self.m = torch.cat([self.m.to(device), torch.zeros(extra, self.config.row_length, device=device)])
        self.v = torch.cat([self.v.to(device), torch.zeros(extra, self.config.row_length, device=device)])
        self.steps = torch.cat([self.steps.to(device), torch.zeros(extra, dtype=torch.int32, device=device)])

    def _resume(self) -> None:
        """Pick up where the field's block states say training is (a fresh field starts at J-1)."""
        self.states, self.finished = [], False
        self._weights_seen = self.field.weights
        self.m = self.v = torch.zeros(0, self.config.row_length)
        self.steps = torch.zeros(0, dtype=torch.int32)
        self._grow_state(self.field.weights.shape[0])
        for j in range(self.config.scales - 1, -1, -1):
            s = self.field.layout[j]
            if bool((self.field.status[s.first : s.stop] != NOT_STARTED).any()):
                self._start(j, fresh=False)
        if self.states and self.states[-1].scale.scale == 0:
            self.finished = all(not bool((self._status(st) == ACTIVE).any()) for st in self.states)
