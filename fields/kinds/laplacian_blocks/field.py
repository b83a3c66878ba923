"""The Laplacian-block field (MINER, Saragadam et al. 2022): config, the torch autograd
wrapper around the Warp kernels of gpu/laplacian_blocks.py, and the field module.

The signal (S_x x S_y [x S_z] samples) is a Laplacian pyramid of J scales; scale j (0 is the
finest) is cut into blocks of b^D samples of that scale, i.e. b * 2^j finest samples per axis
(the last block per axis may reach past the signal: padding). A block with an MLP owns one weight
row. The reconstruction at scale j is its blocks' MLPs (each at the block-local coordinate in
[-1, 1]^D, Eq. 5) plus the bilinear 2x upsampling U2 of the reconstruction at scale j+1 (Eq. 2-4;
gpu/laplacian_blocks.py spells out the weights); the field at x is the reconstruction at the
finest scale that is on. Blocks without an MLP (pruned, or their scale not yet trained) read as
zero; a scale that is off adds nothing but passes the coarser ones on. Levels (the level mask,
the viewer's level of detail) run coarse to fine: level l is scale J-1-l, so levels 0..l on give
the reconstruction at scale J-1-l.

Training (coarse to fine, pruning, convergence, parent weights) is fields/kinds/laplacian_blocks/training.py; the
block layout and U2 are fields/kinds/laplacian_blocks/layout.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from fieldscope.fields import reference
from fieldscope.fields.config import Capabilities, check
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase, TrainingStrategy, checked_level_mask
from fieldscope.fields.kinds.laplacian_blocks.geometry import BlockGeometry, torch_blocks
from fieldscope.fields.kinds.laplacian_blocks.layout import (
    ACTIVE,
    CONVERGED,
    NOT_STARTED,
    STATUS_NAMES,
    STOPPED,
    block_grid,
    from_blocks,
    sample_counts,
    scale_layout,
    upsample2,
)
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import laplacian_blocks as kernels

if TYPE_CHECKING:
    from fieldscope.fields.training.trainer import Trainer

IMPLEMENTATIONS = ("warp", "torch")
#: "sequential": MINER's Algorithm 1, one scale after the other (fields/kinds/laplacian_blocks/training.py);
#: "together": a finer scale starts once the one above is good enough and all started scales train
#: in one launch per pass (fields/kinds/laplacian_blocks/together.py).
SCHEDULES = ("sequential", "together")

#: Default block side per dimension (MINER: 32x32 pixels, 16^3 voxels).
DEFAULT_BLOCK = {2: 32, 3: 16}

#: Settings that None leaves to a preset, per preset and dims. "paper": MINER Sec. 4 for images (4 layers
#: of 20, Adam 5e-4, 500 passes per scale) and its 3D occupancy section (2 hidden layers of 22, i.e. 3
#: linear layers, Adam 1e-3, 2000 iterations per scale). "tuned" (chosen with `fieldscope bench fit`): lr
#: 2e-3, a coarse scale ends once its error falls by < 20% over 10 passes, scales train together; on the
#: bundled 512x512 image 31.1 dB after 60 s against the paper's 23.5 dB (2 shared cores). 3D: the paper's
#: settings with the together schedule (not measured yet).
_PAPER_2D: dict[str, Any] = {
    "hidden_width": 20,
    "layers": 4,
    "learning_rate": 5e-4,
    "max_epochs": 500,
    "min_gain": 0.0,
    "schedule": "sequential",
    "sample_fraction": 1.0,
    "stop_coarser": False,
}
_PAPER_3D: dict[str, Any] = {**_PAPER_2D, "hidden_width": 22, "layers": 3, "learning_rate": 1e-3, "max_epochs": 2000}
DEFAULTS: dict[str, dict[int, dict[str, Any]]] = {
    "paper": {2: _PAPER_2D, 3: _PAPER_3D},
    "tuned": {
        2: {**_PAPER_2D, "learning_rate": 2e-3, "min_gain": 0.2, "schedule": "together"},
        3: {**_PAPER_3D, "schedule": "together"},
    },
}
#: "fast": "tuned", but each step trains 1/8 of every block's samples and the coarser scales stop when
#: a finer one starts: about twice as fast to a given PSNR on a 1-megapixel photo, but the coarser
#: levels stay rougher (they stop once good enough for their children, not at their plateau).
DEFAULTS["fast"] = {
    2: {**DEFAULTS["tuned"][2], "sample_fraction": 0.125, "stop_coarser": True},
    3: DEFAULTS["tuned"][3],
}


T = TypeVar("T")


def given(setting: T | None) -> T:
    """A setting that None leaves to the preset, after LaplacianBlocksConfig.__post_init__ filled it in."""
    if setting is None:
        raise ConfigError("a Laplacian-block setting was read before its preset filled it in")
    return setting


@dataclass(frozen=True)
class LaplacianBlocksConfig:
    """MINER: J scales of blocks, each with a SIREN of `layers` linear layers of `hidden_width` units.

    size: samples per axis of the signal at the finest scale, in coordinate order (x, y[, z]).
    block_size 0 means 32 in 2D and 16 in 3D. hidden_width, layers, learning_rate, max_epochs and
    min_gain left None take the values of `defaults` for the signal's dims: "paper" (MINER's image
    settings; its 3D section's for volumes), "tuned" (faster here, measured with `fieldscope bench
    fit`) or "fast" (faster still in 2D, with rougher coarse levels; see DEFAULTS). schedule
    "sequential" (the paper's) trains one scale after the other, each step every
    active block of the scale in one launch (blocks_per_step > 0: at most that many); "together"
    starts a scale once the one above is good enough (see min_gain) and trains every active block
    of every started scale in one launch per step, each on a random sample_fraction of its samples
    (the same ones for every block of the step; 1: all, as the paper). stop_coarser: in the together
    schedule, the coarser scales stop training when a finer one starts (its targets then stand still).
    target_mse is MINER's tau: a block whose residual mean squared error is at
    most tau before its scale starts gets no MLP (pruned), and a training block of the finest scale
    that reaches it leaves the active set. On coarser scales a block leaves at tau * coarse_ratio
    (Algorithm 1's tau_j per scale), so that the residual it leaves to its children falls clearly
    under the pruning threshold where the signal is smooth. A scale other than the finest ends after
    max_epochs passes over its blocks, when the loss changes by less than `plateau` between passes
    (the paper's rule), or once it is good enough for its children: when the mean error of its
    blocks fell by less than the fraction min_gain over the last gain_window passes.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(blocks=True, grows_while_training=True)

    kind: str = "laplacian_blocks"
    dims: int = 2
    out_dims: int = 3
    size: tuple[int, ...] = (512, 512)
    scales: int = 4
    block_size: int = 0
    defaults: str = "tuned"
    hidden_width: int | None = None  # None (this and the others so typed): from `defaults`
    layers: int | None = None
    omega: float = 30.0
    target_mse: float = 1e-4
    coarse_ratio: float = 0.25
    learning_rate: float | None = None
    lr_decay: float = 0.999
    max_epochs: int | None = None
    plateau: float = 2e-7
    min_gain: float | None = None
    gain_window: int = 10
    blocks_per_step: int = 0
    schedule: str | None = None
    sample_fraction: float | None = None
    stop_coarser: bool | None = None

    def __post_init__(self) -> None:
        check(self.kind == "laplacian_blocks", f"kind must be 'laplacian_blocks', not {self.kind!r}")
        check(self.dims in (2, 3), f"dims must be 2 or 3, not {self.dims}")
        check(self.out_dims >= 1, f"out_dims must be at least 1, not {self.out_dims}")
        object.__setattr__(self, "size", tuple(int(n) for n in self.size))
        check(len(self.size) == self.dims, f"size {self.size} must give {self.dims} sample counts")
        check(all(n >= 1 for n in self.size), f"size {self.size} must be positive")
        if self.block_size == 0:
            object.__setattr__(self, "block_size", DEFAULT_BLOCK[self.dims])
        check(self.defaults in DEFAULTS, f"defaults must be one of {', '.join(DEFAULTS)}, not {self.defaults!r}")
        for name, value in DEFAULTS[self.defaults][self.dims].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        check(2 <= self.block_size <= 256, f"block size must be between 2 and 256 samples, not {self.block_size}")
        check(1 <= self.scales <= 16, f"scales (J) must be between 1 and 16, not {self.scales}")
        shortest = min(self.size)
        most = math.floor(math.log2(shortest)) + 1
        check(
            self.scales <= most,
            f"{self.scales} scales is too many for a {'x'.join(map(str, self.size))} signal: the coarsest "
            f"scale would average {1 << (self.scales - 1)} samples per axis, more than the shortest side "
            f"({shortest}); use at most {most}",
        )
        hidden_width, layers = given(self.hidden_width), given(self.layers)
        check(1 <= hidden_width <= 128, f"hidden width must be between 1 and 128, not {hidden_width}")
        check(2 <= layers <= 8, f"layers must be between 2 and 8, not {layers}")
        check(self.omega > 0, f"omega must be positive, not {self.omega}")
        check(self.target_mse >= 0, f"target MSE must be >= 0, not {self.target_mse}")
        check(0 < self.coarse_ratio <= 1, f"coarse ratio must be in (0, 1], not {self.coarse_ratio}")
        check(given(self.learning_rate) > 0, f"learning rate must be positive, not {self.learning_rate}")
        check(0 < self.lr_decay <= 1, f"lr decay must be in (0, 1], not {self.lr_decay}")
        check(given(self.max_epochs) >= 1, f"max epochs must be at least 1, not {self.max_epochs}")
        check(given(self.min_gain) >= 0 and self.gain_window >= 1, "min_gain must be >= 0 and gain_window >= 1")
        check(self.blocks_per_step >= 0, f"blocks per step must be >= 0 (0: all), not {self.blocks_per_step}")
        check(0 < given(self.sample_fraction) <= 1, f"sample fraction must be in (0, 1], not {self.sample_fraction}")
        check(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")

    @property
    def row_length(self) -> int:
        """Parameters of one block MLP."""
        return kernels.row_length(*self.mlp)

    def converged_mse(self, scale: int) -> float:
        """The error at which a block of `scale` leaves the active set (tau_j)."""
        return self.target_mse if scale == 0 else self.target_mse * self.coarse_ratio

    @property
    def mlp(self) -> tuple[int, int, int, int]:
        """(dims, hidden_width, layers, out_dims) of every block's SIREN."""
        return (self.dims, given(self.hidden_width), given(self.layers), self.out_dims)


def siren_init(count: int, config: LaplacianBlocksConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """(count, P) weight rows initialised as SIREN (Sitzmann et al. 2020, as MINER's code): the first
    layer's W and b uniform in +-1/fan_in, the others' in +-sqrt(6/fan_in)/omega."""
    rows = torch.empty(count, config.row_length)
    parts = reference.block_layers(rows, *config.mlp)
    for index, (w, b) in enumerate(parts):
        fan_in = w.shape[1]
        bound = 1.0 / fan_in if index == 0 else math.sqrt(6.0 / fan_in) / config.omega
        w.uniform_(-bound, bound, generator=generator)
        b.uniform_(-bound, bound, generator=generator)
    return rows


class _WarpBlocks(torch.autograd.Function):
    """x (N, D), weights (R, P) -> (N, C) through the Warp kernels; gradient to the weights only."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weights: torch.Tensor, blocks: BlockGeometry) -> torch.Tensor:
        x = x.detach().float().contiguous()
        out = torch.empty(x.shape[0], blocks.config.out_dims, device=x.device)
        c = blocks.config
        warp_call(kernels.forward, x, weights.detach(), blocks.arrays, c.mlp, c.omega, out, c.block_size, blocks.top)
        ctx.save_for_backward(x, weights)
        ctx.blocks = blocks
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weights = ctx.saved_tensors
        blocks: BlockGeometry = ctx.blocks
        grad_w = torch.zeros_like(weights)
        segments = blocks.segments(x)
        if segments["row"].numel():
            c = blocks.config
            g = grad_out.float().contiguous()
            warp_call(kernels.backward, weights.detach(), c.mlp, c.omega, segments, g, grad_w)
        return None, grad_w, None


#: Pixels up to which pixel_grid builds whole images (its scales take ~40 bytes a pixel: 4096^2, ~0.7 GB).
GRID_PIXELS = 1 << 24


class LaplacianBlocksField(FieldBase):
    """MINER's multiscale blocks. Parameters: `weights` (R, P), one row per block with an MLP (R
    grows as scales start); buffers per block of every scale: `slots` (row or -1), `status` and
    `error` (the block's last mean squared error, -1 if not measured)."""

    config: LaplacianBlocksConfig
    slots: torch.Tensor
    status: torch.Tensor
    error: torch.Tensor

    def __init__(self, config: LaplacianBlocksConfig, impl: str = "warp") -> None:
        super().__init__()
        check(impl in IMPLEMENTATIONS, f"implementation must be one of {IMPLEMENTATIONS}")
        self.config = config
        self.impl = impl
        self.layout = scale_layout(config)
        total = self.layout[-1].stop
        self.weights = nn.Parameter(torch.zeros(0, config.row_length))
        self.register_buffer("slots", torch.full((total,), -1, dtype=torch.int32))
        self.register_buffer("status", torch.full((total,), NOT_STARTED, dtype=torch.int8))
        self.register_buffer("error", torch.full((total,), -1.0))
        self._level_mask = (True,) * config.scales

    # ---- evaluation
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) in [0,1]^D -> (N, out_dims): the sum over the scales of the level mask."""
        return self.evaluate_scales(x, self.scales_of_mask())

    def evaluate_scales(self, x: torch.Tensor, scales_on: tuple[bool, ...], top: int | None = None) -> torch.Tensor:
        """The reconstruction at scale `top` (None: the finest on) from the residuals of the given
        scales only (indexed by scale, 0 finest), whatever the level mask."""
        return self.run(x, self.weights, BlockGeometry(self.config, self.slots, scales_on, top))

    def run(self, x: torch.Tensor, weights: torch.Tensor, blocks: BlockGeometry) -> torch.Tensor:
        """Evaluate weight rows `weights` laid out by `blocks` at x (N, D) -> (N, C), differentiable
        in the weights."""
        if self.impl == "torch":
            return torch_blocks(x, weights, blocks)
        return _WarpBlocks.apply(x, weights, blocks)

    @torch.no_grad()
    def pixel_grid(self, height: int, width: int) -> torch.Tensor | None:
        """The field at every pixel centre (H, W, C) when those are the finest scale's samples (2D,
        size (width, height), finest scale on, at most GRID_PIXELS): each scale's MLPs once at its own
        samples, then U2 from coarse to fine (with 4 scales, 1/17 of the MLP evaluations of the
        forward at the same points: 23 a pixel). None otherwise."""
        c = self.config
        grid = c.dims == 2 and tuple(c.size) == (width, height) and height * width <= GRID_PIXELS
        if not grid or not self.scales_of_mask()[0]:
            return None
        upper: np.ndarray | None = None
        for scale in reversed(self.layout):
            shape = (*(n * c.block_size for n in reversed(scale.blocks)), c.out_dims)
            recon = from_blocks(self._outputs_at_samples(scale.scale), shape, c.block_size)
            if upper is not None:
                recon += upsample2(upper, shape[:-1], sample_counts(c, scale.scale + 1))
            upper = recon
        assert upper is not None  # the layout has at least one scale
        return torch.from_numpy(np.ascontiguousarray(upper[:height, :width])).to(self.weights.device)

    def _outputs_at_samples(self, scale: int) -> np.ndarray:
        """(count, b^D, C) the MLP outputs of the scale's blocks at their samples (0: no MLP or off)."""
        c = self.config
        rows = self.block_rows(scale).cpu()
        out = np.zeros((rows.numel(), c.block_size**c.dims, c.out_dims), np.float32)
        if self.scales_of_mask()[scale]:
            have = torch.nonzero(rows >= 0).squeeze(1)
            out[have.numpy()] = self.block_outputs(rows[have])
        return out

    def block_outputs(self, rows: torch.Tensor, chunk: int = 4096) -> np.ndarray:
        """The MLPs of weight rows `rows` (n,) at all their block's samples -> (n, b^D, C), float32
        numpy (through the fused fit pass, `chunk` blocks at a time)."""
        c = self.config
        out = np.zeros((rows.numel(), c.block_size**c.dims, c.out_dims), np.float32)
        for start in range(0, rows.numel(), chunk):
            part = rows[start : start + chunk].to(self.weights.device)
            zero = torch.zeros(part.numel(), out.shape[1], c.out_dims, device=self.weights.device)
            _, _, pred = self.fit_blocks(self.weights.detach()[part], zero, zero[..., 0])
            out[start : start + part.numel()] = pred.cpu()
        return out

    def fit_blocks(
        self, weights: torch.Tensor, targets: torch.Tensor, loss_weight: torch.Tensor, samples: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training on whole blocks: weight rows (B, P) against targets (B, S, C) at every sample of
        their block (S = b^D, sample x fastest), or at the block samples of index `samples` (S,) only.
        Returns each block's loss sum_s loss_weight[b, s] * |MLP_b - t|^2 (B,), its gradient (B, P)
        and the MLPs' outputs (B, S, C), in one fused Warp pass (impl="torch": torch.bmm and autograd)."""
        c = self.config
        grid = block_grid(c) if samples is None else block_grid(c)[torch.as_tensor(samples)]
        grid = grid.to(weights.device, weights.dtype).contiguous()
        if self.impl == "torch":
            leaf = weights.detach().requires_grad_(True)
            local = grid[None].expand(weights.shape[0], -1, -1)
            pred = reference.siren_blocks(local, leaf, *c.mlp[1:3], c.omega)
            losses = (((pred - targets) ** 2).sum(-1) * loss_weight).sum(1)
            (grad,) = torch.autograd.grad(losses.sum(), leaf)
            return losses.detach(), grad, pred.detach()
        sse = torch.zeros(weights.shape[0], device=weights.device)
        grad = torch.zeros_like(weights)
        pred = torch.empty(targets.shape, device=weights.device)
        warp_call(
            kernels.fit,
            weights.detach().contiguous(),
            grid,
            targets.float().contiguous(),
            loss_weight.float().contiguous(),
            c.mlp,
            c.omega,
            grad,
            sse,
            pred,
        )
        return sse, grad, pred

    # ---- levels
    @property
    def num_levels(self) -> int:
        return self.config.scales

    @property
    def level_mask(self) -> tuple[bool, ...]:
        return self._level_mask

    def set_level_mask(self, mask: tuple[bool, ...] | list[bool]) -> None:
        """Turn levels (coarse to fine: level l is scale J-1-l) on or off."""
        self._level_mask = checked_level_mask(mask, self.num_levels)

    def scales_of_mask(self) -> tuple[bool, ...]:
        """The level mask indexed by scale (0 finest)."""
        return tuple(reversed(self._level_mask))

    # ---- blocks
    def add_rows(self, scale: int, block_ids: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Give blocks (ids within `scale`) MLPs with initial weight rows (n, P); returns their rows."""
        first = self.weights.shape[0]
        new = torch.arange(first, first + block_ids.numel(), dtype=torch.int32)
        grown = torch.cat([self.weights.detach(), rows.to(self.weights.device, torch.float32)])
        self.weights = nn.Parameter(grown)
        self.slots[self.layout[scale].first + block_ids.long()] = new.to(self.slots.device)
        return new.long()

    def block_rows(self, scale: int) -> torch.Tensor:
        """Weight rows of the scale's blocks (-1: no MLP), (count,) int64."""
        s = self.layout[scale]
        return self.slots[s.first : s.stop].long()

    def param_count(self) -> int:
        return self.weights.numel()

    def inspect(self) -> dict[str, Any]:
        """Per level (coarse to fine) the block counts by state, parameters and errors; per level the
        block grid of states and errors (array order: (n_y, n_x) or (n_z, n_y, n_x))."""
        levels, grids = [], []
        for level in range(self.num_levels):
            s = self.layout[self.config.scales - 1 - level]
            status = self.status[s.first : s.stop].cpu().numpy()
            error = self.error[s.first : s.stop].cpu().numpy()
            counts = np.bincount(status, minlength=len(STATUS_NAMES))
            measured = error[error >= 0]
            with_mlp = int(counts[ACTIVE] + counts[CONVERGED] + counts[STOPPED])
            levels.append(
                {
                    "level": level,
                    "scale": s.scale,
                    "blocks": list(s.blocks),
                    "block_extent": s.extent,
                    "total": s.count,
                    **{name: int(counts[k]) for k, name in enumerate(STATUS_NAMES)},
                    "params": with_mlp * self.config.row_length,
                    "mean_error": float(measured.mean()) if measured.size else math.nan,
                    "max_error": float(measured.max()) if measured.size else math.nan,
                }
            )
            shape = tuple(reversed(s.blocks))
            grids.append({"level": level, "status": status.reshape(shape), "error": error.reshape(shape)})
        return {
            "kind": self.config.kind,
            "param_count": self.param_count(),
            "level_mask": list(self.level_mask),
            "levels": levels,
            "blocks": grids,
            "status_names": list(STATUS_NAMES),
        }

    # ---- state
    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Load arrays made by state() for the same config (the number of weight rows may differ)."""
        own = self.state_dict()
        missing, extra = sorted(set(own) - set(arrays)), sorted(set(arrays) - set(own))
        if missing or extra:
            raise ConfigError(f"parameters do not match the field: missing {missing}, unexpected {extra}")
        for name in ("slots", "status", "error"):
            if tuple(arrays[name].shape) != tuple(own[name].shape):
                raise ConfigError(f"{name} has shape {tuple(arrays[name].shape)}, expected {tuple(own[name].shape)}")
        weights = np.asarray(arrays["weights"])
        if weights.ndim != 2 or weights.shape[1] != self.config.row_length:
            raise ConfigError(f"weights have shape {weights.shape}, expected (rows, {self.config.row_length})")
        slots = np.asarray(arrays["slots"])
        if slots.size and slots.max() >= weights.shape[0]:
            raise ConfigError(f"a block points at weight row {slots.max()}, there are {weights.shape[0]}")
        device = self.slots.device
        self.weights = nn.Parameter(torch.tensor(weights, dtype=torch.float32, device=device))
        for name in ("slots", "status", "error"):
            getattr(self, name).copy_(torch.tensor(np.asarray(arrays[name]), device=device))

    # ---- training hooks
    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """MINER's own learning rate (the trainer's SetLearningRate scales it)."""
        return [{"params": [self.weights], "lr": self.config.learning_rate}]

    def training_strategy(self, trainer: Trainer) -> TrainingStrategy:
        # lazy: import cycle (the schedules build on this module's field)
        from fieldscope.fields.kinds.laplacian_blocks import together, training

        if self.config.schedule == "together":
            return together.ScalesTogetherTraining(trainer)
        return training.ScaleByScaleTraining(trainer)
