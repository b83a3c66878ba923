"""Optical flow by backpropagation into coordinates (HashEncoding sec. 4.3), headless.

A field f_A fitted to image A is sampled at x + d(x) and compared with image B at x; the motion d is
optimised through the field's coordinate gradient (the Warp kernels' backward to the points), with
f_A frozen. Convention: B(x) = A(x + d(x)), d in pixels, x to the right and y down the rows; pixel
(row, col) has its centre at (col + 0.5, row + 0.5), field coordinates are pixels / (W, H).

Motions: `translation` (one vector), `affine` (d = t + M (x - centre) / size), `dense` (the affine
motion plus a small 2D -> 2D hash-grid field, its levels switched on coarse to fine, with a
smoothness term on neighbouring pixels).

Large motions (the paper's go up to 50 px) would leave gradient descent in a local minimum: every
mode starts from a coarse search, the photometric error of whole-pixel translations on a grid of
`search_step` px within `search_radius` px on a fixed sample of pixels, and descends from the best.
Points whose x + d leaves A do not count (the field clamps there).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.hashgrid import HashGridConfig, HashGridField, growth_for
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run

if TYPE_CHECKING:
    from fieldscope.fields.config import FieldConfig
    from fieldscope.fields.field import FieldBase

MODES = ("translation", "affine", "dense")

#: Called after every optimisation step with the motion (pixels (N, 2) -> (N, 2)) and the fraction of
#: all steps done; returning False stops the optimisation (the motion so far is the result).
Watch = Callable[[nn.Module, float], bool]


@dataclass(frozen=True)
class FlowOptions:
    """How the motion is optimised: Adam steps on `points` random pixels per step, learning rate in
    pixels (cosine decay to 1%), the coarse search's radius and step (radius 0: none), and for
    `dense` the residual field's size, steps, learning rate and the smoothness weight."""

    mode: str = "translation"
    steps: int = 300
    points: int = 4096
    lr: float = 0.5
    search_radius: float = 56.0
    search_step: float = 4.0
    search_points: int = 1024
    dense_levels: int = 6
    dense_steps: int = 600
    dense_lr: float = 0.05
    smoothness: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown flow mode {self.mode!r} (known: {', '.join(MODES)})")
        if self.steps < 0 or self.points < 1 or self.search_radius < 0 or self.search_step <= 0:
            raise ConfigError("flow steps >= 0, points >= 1, search radius >= 0 and search step > 0 are needed")


@dataclass
class FlowResult:
    """flow (H, W, 2) float32 pixels; warped (H, W, C): A's field at x + d; valid (H, W): x + d in A."""

    mode: str
    flow: np.ndarray
    warped: np.ndarray
    valid: np.ndarray
    seconds: float
    warped_psnr: float

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "seconds": self.seconds,
            "flow_mean": [float(v) for v in self.flow.reshape(-1, 2).mean(axis=0)],
            "warped_psnr": self.warped_psnr,
        }


class Translation(nn.Module):
    """d(p) = t: pixels (N, 2) -> displacements (N, 2)."""

    def __init__(self, start: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.t = nn.Parameter(torch.tensor(start, dtype=torch.float32))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.t.expand(p.shape[0], 2)


class Affine(nn.Module):
    """d(p) = t + M (p - centre) / size, M starting at zero: pixels (N, 2) -> (N, 2)."""

    centre: torch.Tensor

    def __init__(self, size: tuple[int, int], start: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__()
        height, width = size
        self.register_buffer("centre", torch.tensor([width / 2.0, height / 2.0]))
        self.scale = float(max(height, width))
        self.t = nn.Parameter(torch.tensor(start, dtype=torch.float32))
        self.m = nn.Parameter(torch.zeros(2, 2))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.t + ((p - self.centre) / self.scale) @ self.m.T


class Dense(nn.Module):
    """An affine motion plus a residual 2D -> 2D hash-grid field in pixels, its levels switched on
    coarse to fine by `reveal`. The decoder is fixed to the sum of the levels' two features, so that
    the table holds displacements in pixels and the learning rate is in pixels: a trained linear
    decoder times a trained table moved the flow by pixels per step. The table starts at zero, so
    the residual does."""

    def __init__(self, affine: Affine, size: tuple[int, int], levels: int) -> None:
        super().__init__()
        height, width = size
        top = max(8, min(max(height, width) // 4, 256))
        config = HashGridConfig(dims=2, out_dims=2, levels=levels, features=2, log2_table_size=14,
                                base_resolution=4, growth=growth_for(4, top, levels), hidden_layers=0)  # fmt: skip
        self.affine = affine
        self.residual = HashGridField(config)
        summing = self.residual.decoder.linears()[0]
        with torch.no_grad():
            self.residual.encoding.table.zero_()
            summing.weight.copy_(torch.eye(2).repeat(1, levels))  # inputs: level-major, 2 features each
            summing.bias.zero_()
        summing.requires_grad_(False)
        self.size = (width, height)

    def reveal(self, fraction: float) -> None:
        """Switch on the coarsest ceil(fraction * L) levels (at least one)."""
        levels = self.residual.num_levels
        on = max(1, math.ceil(fraction * levels))
        self.residual.set_level_mask(tuple(lvl < on for lvl in range(levels)))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        x = p / torch.tensor(self.size, dtype=p.dtype)
        return self.affine(p) + self.residual(x)


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """Pixel centres (H*W, 2) in pixels, x then y, row-major."""
    yy, xx = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1).float()


class Matcher:
    """The photometric error between A's field at p + d and B at p (frozen field, pixels in)."""

    def __init__(self, field: FieldBase, target: np.ndarray) -> None:
        self.field = field
        for param in field.parameters():
            param.requires_grad_(False)
        self.height, self.width, channels = target.shape
        self.target = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).reshape(-1, channels)
        self.grid = pixel_grid(self.height, self.width)
        self.scale = torch.tensor([self.width, self.height], dtype=torch.float32)

    def inside(self, q: torch.Tensor) -> torch.Tensor:
        """(N,) 1.0 where pixel positions q (N, 2) lie in A."""
        return ((q >= 0) & (q <= self.scale)).all(dim=1).float()

    def error(self, index: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """Mean squared error (over the points that land in A) at pixels `index` (N,) moved by d (N, 2)."""
        q = self.grid[index] + d
        diff = self.field(q / self.scale) - self.target[index]
        valid = self.inside(q.detach())
        return ((diff * diff).sum(dim=1) * valid).sum() / valid.sum().clamp_min(1.0)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(self.height * self.width, (n,), generator=generator)


def coarse_search(matcher: Matcher, options: FlowOptions, generator: torch.Generator) -> tuple[float, float]:
    """The best translation on a grid of search_step px within search_radius px (a fixed sample of
    pixels; candidates that move most of them out of A are skipped)."""
    if options.search_radius <= 0:
        return (0.0, 0.0)
    steps = int(options.search_radius // options.search_step)
    offsets = torch.arange(-steps, steps + 1, dtype=torch.float32) * options.search_step
    index = matcher.sample(options.search_points, generator)
    best, best_error = (0.0, 0.0), math.inf
    with torch.no_grad():
        for dy in offsets.tolist():
            shifts = torch.stack([offsets, torch.full_like(offsets, dy)], dim=1)  # (S, 2)
            q = matcher.grid[index][None] + shifts[:, None, :]  # (S, n, 2)
            values = matcher.field((q / matcher.scale).reshape(-1, 2)).reshape(len(offsets), len(index), -1)
            valid = ((q >= 0) & (q <= matcher.scale)).all(dim=2).float()
            errors = (((values - matcher.target[index][None]) ** 2).sum(dim=2) * valid).sum(1) / valid.sum(1)
            errors[valid.mean(dim=1) < 0.5] = math.inf
            k = int(torch.argmin(errors))
            if float(errors[k]) < best_error:
                best, best_error = (float(offsets[k]), dy), float(errors[k])
    return best


def cosine_lr(lr: float, step: int, steps: int) -> float:
    """The learning rate at `step` of `steps`: a cosine decay from lr to 1% of it."""
    return lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * step / max(1, steps))))


def descend(
    matcher: Matcher,
    motion: nn.Module,
    steps: int,
    options: FlowOptions,
    generator: torch.Generator,
    smoothness: float = 0.0,
    lr: float | None = None,
    watch: Callable[[nn.Module, float], bool] | None = None,
) -> bool:
    """Adam on the motion's parameters, lr in pixels with a cosine decay to 1%; with `smoothness`
    (dense), plus that weight times the mean squared difference of d between neighbouring pixels.
    `watch(motion, fraction of these steps done)` after each step; False from it stops: returns False."""
    params = [p for p in motion.parameters() if p.requires_grad]
    lr = options.lr if lr is None else lr
    optimizer = torch.optim.Adam(params, lr=lr)
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(lr, step, steps)
        if isinstance(motion, Dense):
            motion.reveal(min(1.0, 2.0 * (step + 1) / max(1, steps)))
        index = matcher.sample(options.points, generator)
        p = matcher.grid[index]
        d = motion(p)
        loss = matcher.error(index, d)
        if smoothness > 0:
            neighbours = motion(torch.cat([p + torch.tensor([1.0, 0.0]), p + torch.tensor([0.0, 1.0])]))
            loss = loss + smoothness * ((neighbours - d.repeat(2, 1)) ** 2).sum(dim=1).mean() / 1000.0
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if watch is not None and not watch(motion, (step + 1) / steps):
            return False
    return True


def estimate_flow(field: FieldBase, target: np.ndarray, options: FlowOptions, watch: Watch | None = None) -> FlowResult:
    """Optimise the motion d so that field(x + d(x)) matches target (H, W, C) at x; field: a fitted
    2D field of image A (same size as the target), left frozen. Returns the flow over every pixel;
    `watch` sees the motion after every step and may stop early (see Watch)."""
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(options.seed)
    torch.manual_seed(options.seed)
    matcher = Matcher(field, target)
    size = (matcher.height, matcher.width)
    stages = Stages(options, watch)
    start = coarse_search(matcher, options, generator)
    translation = Translation(start)
    motion: nn.Module = translation
    going = descend(matcher, motion, options.steps, options, generator, watch=stages.next(options.steps))
    if going and options.mode in ("affine", "dense"):
        tx, ty = translation.t.detach().tolist()
        affine = Affine(size, (tx, ty))
        going = descend(matcher, affine, options.steps, options, generator, watch=stages.next(options.steps))
        motion = affine
    if going and options.mode == "dense":
        affine.requires_grad_(False)
        motion = Dense(affine, size, options.dense_levels)
        descend(matcher, motion, options.dense_steps, options, generator, options.smoothness, options.dense_lr,
                watch=stages.next(options.dense_steps))  # fmt: skip
    return finish(matcher, motion, options.mode, time.perf_counter() - started)


class Stages:
    """Turns a Watch over all of a mode's steps into one per descent (fraction of that descent)."""

    def __init__(self, options: FlowOptions, watch: Watch | None) -> None:
        stages = {"translation": 1, "affine": 2, "dense": 2}[options.mode]
        self.total = max(1, stages * options.steps + (options.dense_steps if options.mode == "dense" else 0))
        self.done = 0
        self.watch = watch

    def next(self, steps: int) -> Watch | None:
        if self.watch is None:
            return None
        done, watch, total = self.done, self.watch, self.total
        self.done += steps
        return lambda motion, fraction: watch(motion, (done + fraction * steps) / total)


def finish(matcher: Matcher, motion: nn.Module, mode: str, seconds: float, chunk: int = 1 << 16) -> FlowResult:
    """The flow and A's field warped by it over every pixel, and the PSNR against B where x + d is in A."""
    flows, warped = [], []
    with torch.no_grad():
        for start in range(0, matcher.grid.shape[0], chunk):
            p = matcher.grid[start : start + chunk]
            d = motion(p).detach()
            flows.append(d)
            warped.append(matcher.field((p + d) / matcher.scale))
    d = torch.cat(flows)
    image = torch.cat(warped)
    valid = matcher.inside(matcher.grid + d)
    mse = float((((image - matcher.target) ** 2).mean(dim=1) * valid).sum() / valid.sum().clamp_min(1.0))
    h, w = matcher.height, matcher.width
    return FlowResult(
        mode=mode,
        flow=d.reshape(h, w, 2).numpy().astype(np.float32),
        warped=image.reshape(h, w, -1).numpy(),
        valid=valid.reshape(h, w).numpy() > 0,
        seconds=seconds,
        warped_psnr=-10.0 * math.log10(max(mse, 1e-12)),
    )


def fit_image(
    pixels: np.ndarray,
    field_options: FieldOptions | None,
    steps: int,
    train_options: TrainOptions | None = None,
    config: FieldConfig | None = None,
) -> FieldBase:
    """A field fitted to an image (H, W, C) for `steps` steps through fields.run.build_run (field and
    training options as `fit`; `config` replaces the field options' config)."""
    trainer = build_run(ImageScene(pixels), field_options, train_options, config=config)
    for _ in range(steps):
        trainer.step()
    trainer.field.eval()
    return trainer.field


def end_point_error(flow: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean Euclidean distance (pixels) between two flows (H, W, 2), over `mask` (H, W) if given."""
    error = np.linalg.norm(flow - truth, axis=-1)
    return float(error[mask].mean() if mask is not None else error.mean())


def colour_wheel(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Flow (H, W, 2) -> RGB (H, W, 3) in [0,1]: hue is the direction, saturation the magnitude
    (relative to max_magnitude, default the largest), white for no motion."""
    dx, dy = flow[..., 0], flow[..., 1]
    magnitude = np.hypot(dx, dy)
    top = max_magnitude if max_magnitude is not None else float(magnitude.max())
    saturation = np.clip(magnitude / max(top, 1e-9), 0.0, 1.0)
    hue = (np.arctan2(-dy, -dx) / np.pi + 1.0) / 2.0  # [0, 1)
    k = (hue[..., None] * 6.0 + np.array([5.0, 3.0, 1.0])) % 6.0  # HSV -> RGB with value 1
    rgb = 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (1.0 - saturation[..., None] * rgb).astype(np.float32)


def shift_image(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """B(x) = A(x + d(x)) by bicubic sampling (border clamped): image (H, W, C), flow (H, W, 2) px."""
    height, width = image.shape[:2]
    grid = pixel_grid(height, width).reshape(height, width, 2) + torch.from_numpy(flow)
    norm = grid / torch.tensor([width, height]) * 2.0 - 1.0  # align_corners=False convention
    a = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    out = torch.nn.functional.grid_sample(a, norm[None], mode="bicubic", padding_mode="border", align_corners=False)
    return out[0].permute(1, 2, 0).clamp(0.0, 1.0).numpy()
