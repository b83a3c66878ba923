"""The NTK paper's scaling experiment (ntk-multigrid-encodings.txt, section 5 and appendix A, its
Table 3 and Figures 2 and 4), run by `fieldscope ntk --protocol paper`.

2D: one photograph at `size` x `size` pixels (pixel centres in [0, 1]^2, RGB in [0, 1]); the same
MLP for every encoding (the paper: 2 hidden layers of 512 ReLU units, NTK parameterisation, SGD at
learning rate 100, batches of 32 pixels, 300 epochs, MSE); six encodings: none (the baseline),
axis-aligned log-spaced Fourier features with low, mid and high top frequencies, a dense multigrid
with the input concatenated, coarse and fine. The empirical NTK over all the image's pixels at the
start, middle and end of training (epochs 0, E/2, E), its eigenvalues sorted high to low and
resampled to a fixed count, with and without the grid term; PSNR and MS-SSIM (pytorch-msssim) of
the trained network's image.

3D (appendix E): occupancy of a mesh normalised into the unit cube, 8 hidden layers of 256 units,
a sigmoid and binary cross-entropy, fresh uniform points every epoch; the NTK over a size^3 lattice
of points; the quality is the IoU of the 0.5 level set on that lattice (PSNR / MS-SSIM are image
measures: None in 3D).

The paper does not give the image size nor the encodings' hyperparameters (its Table 3 lists them
in symbols the text lost); here the top Fourier frequency of `high` is the image's Nyquist
frequency (mid a quarter of it, low a sixteenth) and the multigrid has 4 levels of 2 features,
log-spaced from 4 cells to a quarter of the image (coarse) or to one cell per pixel (fine)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as nnf
from pytorch_msssim import ms_ssim

from fieldscope.fields.analysis.ntk_paper import EncodingSpec, PaperNet, spectra
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes.image import pixel_centers

#: The paper's Table 3 (the scaling experiment: one image, hand-picked encodings).
PAPER_TABLE3 = {
    "baseline": {"psnr": 20.0, "ms_ssim": 0.08},
    "fourier_low": {"psnr": 25.0, "ms_ssim": 0.20},
    "fourier_mid": {"psnr": 35.0, "ms_ssim": 0.23},
    "fourier_high": {"psnr": 36.5, "ms_ssim": 0.40},
    "grid_coarse": {"psnr": 34.5, "ms_ssim": 0.37},
    "grid_fine": {"psnr": 41.5, "ms_ssim": 0.73},
}
NAMES = tuple(PAPER_TABLE3)
GRID_LEVELS, GRID_FEATURES, SMALLEST_GRID = 4, 2, 4
#: The paper's learning rate (Table 3): with mean-squared error over a batch of 32 it drives the
#: baseline and the multigrid networks to NaN in the first epoch here, so both scales use 30.
PAPER_LEARNING_RATE = 100.0


@dataclass(frozen=True)
class PaperProtocol:
    """The experiment's sizes. `paper()` gives the paper's network and schedule, `cpu()` the
    scaling that runs in minutes on two cores; `size` is the image side (2D) or the NTK lattice's
    points per axis (3D), `points_per_epoch` the fresh samples of a 3D epoch."""

    dims: int = 2
    size: int = 48
    width: int = 512
    depth: int = 2
    epochs: int = 150
    batch_size: int = 32
    learning_rate: float = 30.0
    spectrum_count: int = 256
    points_per_epoch: int = 0
    seed: int = 0

    @classmethod
    def paper(cls, dims: int = 2) -> PaperProtocol:
        if dims == 3:  # appendix E / Table 4: 8 x 256, about 1e4 points a batch, learning rate about 0.8
            return cls(3, 16, 256, 8, 4000, 10_000, 0.8, 1000, 10_000)
        return cls(2, 64, 512, 2, 300, 32, 30.0, 1000)

    @classmethod
    def cpu(cls, dims: int = 2) -> PaperProtocol:
        if dims == 3:
            return cls(3, 10, 256, 8, 300, 1000, 0.8, 256, 1000)
        # 48 pixels, half the paper's epochs: about 10 minutes on two shared cores. At 36 pixels and 300
        # epochs (8 minutes) the high Fourier features' top frequency (16) sits at the image's Nyquist
        # frequency (18) and they memorise the image (52.7 dB), a regime the paper's "high" is not in.
        return cls(2, 48, 512, 2, 150, 32, 30.0, 256)

    @property
    def detail(self) -> int:
        """The finest resolution the encodings aim at: the image side in 2D, a 32^3 lattice in 3D."""
        return self.size if self.dims == 2 else 32

    def check(self) -> None:
        if self.dims not in (2, 3):
            raise ConfigError(f"dims must be 2 or 3, not {self.dims}")
        if self.dims == 2 and self.size < 33:
            raise ConfigError(f"the image must be at least 33 pixels a side for MS-SSIM, not {self.size}")
        if min(self.width, self.depth, self.epochs, self.batch_size, self.spectrum_count) < 1:
            raise ConfigError("width, depth, epochs, batch size and spectrum count must be positive")

    def describe(self, paper: PaperProtocol) -> str:
        """The scaling against the paper's sizes, in words (the JSON's "scaling")."""
        what = "image side" if self.dims == 2 else "NTK lattice points per axis"
        paper_rate = f"{paper.learning_rate:g}"
        if self.dims == 2:
            paper_rate = f"{PAPER_LEARNING_RATE:g}, which diverges to NaN here"
        parts = [
            f"{self.dims}D",
            f"{what} {self.size} (n = {self.size**self.dims} NTK points; the paper does not say its size, "
            f"run with {paper.size} at paper scale)",
            f"MLP {self.depth} x {self.width} (paper {paper.depth} x {paper.width})",
            f"{self.epochs} epochs (paper {paper.epochs})",
            f"batch {self.batch_size} (paper {paper.batch_size})",
            f"SGD learning rate {self.learning_rate:g} (paper {paper_rate})",
            f"spectra resampled to {self.spectrum_count} values",
        ]
        if self.dims == 3:
            parts.append(f"{self.points_per_epoch} points an epoch (paper {paper.points_per_epoch})")
        return "; ".join(parts)


def encodings(protocol: PaperProtocol) -> list[EncodingSpec]:
    """The six encodings for the protocol's resolution (see the module docstring)."""
    high = max(1, int(math.log2(protocol.detail / 2)) + 1)  # top frequency 2^(L-1) <= size / 2 (Nyquist)

    def grid(top: int) -> tuple[int, ...]:
        top = max(top, SMALLEST_GRID)
        steps = [i / (GRID_LEVELS - 1) for i in range(GRID_LEVELS)]
        return tuple(sorted({round(SMALLEST_GRID * (top / SMALLEST_GRID) ** t) for t in steps}))

    return [
        EncodingSpec("baseline", "none"),
        EncodingSpec("fourier_low", "fourier", frequencies=max(1, high - 4)),
        EncodingSpec("fourier_mid", "fourier", frequencies=max(1, high - 2)),
        EncodingSpec("fourier_high", "fourier", frequencies=high),
        EncodingSpec("grid_coarse", "grid", resolutions=grid(protocol.detail // 4), features=GRID_FEATURES),
        EncodingSpec("grid_fine", "grid", resolutions=grid(protocol.detail), features=GRID_FEATURES),
    ]


@dataclass(frozen=True)
class Task:
    """What the networks learn: `points` (n, D) the NTK's points, `loss(net, generator, epoch)` one
    epoch of SGD steps, `quality(net)` the final measures (psnr, ms_ssim and more)."""

    points: torch.Tensor
    out_dims: int
    train_epoch: Callable[[PaperNet, torch.optim.Optimizer, torch.Generator], None]
    quality: Callable[[PaperNet], dict[str, float | None]]


def image_task(pixels: np.ndarray, protocol: PaperProtocol, device: torch.device) -> Task:
    """pixels (H, W, C) in [0, 1], already size x size: every epoch visits every pixel once in
    shuffled batches; quality is PSNR and MS-SSIM of the whole image."""
    height, width, channels = pixels.shape
    points = pixel_centers(height, width).to(device)
    target = torch.from_numpy(np.ascontiguousarray(pixels)).float().reshape(-1, channels).to(device)

    def train_epoch(net: PaperNet, optimiser: torch.optim.Optimizer, generator: torch.Generator) -> None:
        order = torch.randperm(points.shape[0], generator=generator).to(device)
        for start in range(0, order.numel(), protocol.batch_size):
            index = order[start : start + protocol.batch_size]
            optimiser.zero_grad(set_to_none=True)
            nnf.mse_loss(net(points[index]), target[index]).backward()
            optimiser.step()

    def quality(net: PaperNet) -> dict[str, float | None]:
        with torch.no_grad():
            predicted = net(points).clamp(0.0, 1.0)
        return image_quality(predicted.reshape(height, width, channels), target.reshape(height, width, channels))

    return Task(points, channels, train_epoch, quality)


def occupancy_task(
    inside: Callable[[torch.Tensor], torch.Tensor], protocol: PaperProtocol, device: torch.device
) -> Task:
    """`inside` (m, 3) points in [0, 1]^3 -> (m,) bool, the mesh's inside test: every epoch draws
    `points_per_epoch` fresh uniform points and takes batches of them (sigmoid + binary
    cross-entropy, appendix E); the NTK's points are the size^3 lattice's cell centres; quality is
    the IoU of the 0.5 level set on a lattice of twice the size (psnr and ms_ssim None)."""
    points = lattice(protocol.size).to(device)
    check = lattice(2 * protocol.size).to(device)
    truth = inside(check).bool()

    def train_epoch(net: PaperNet, optimiser: torch.optim.Optimizer, generator: torch.Generator) -> None:
        samples = torch.rand(protocol.points_per_epoch, 3, generator=generator).to(device)
        labels = inside(samples).float()
        for start in range(0, samples.shape[0], protocol.batch_size):
            x, y = samples[start : start + protocol.batch_size], labels[start : start + protocol.batch_size]
            optimiser.zero_grad(set_to_none=True)
            nnf.binary_cross_entropy_with_logits(net(x)[:, 0], y).backward()
            optimiser.step()

    def quality(net: PaperNet) -> dict[str, float | None]:
        with torch.no_grad():
            predicted = net(check)[:, 0] > 0.0
        union = float((predicted | truth).sum())
        return {"psnr": None, "ms_ssim": None, "iou": float((predicted & truth).sum()) / union if union else 1.0}

    return Task(points, 1, train_epoch, quality)


def lattice(size: int) -> torch.Tensor:
    """The cell centres of a size^3 lattice over [0, 1]^3 -> (size^3, 3)."""
    axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


def image_quality(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float | None]:
    """PSNR (dB) and MS-SSIM of predicted against target (H, W, C) in [0, 1]; MS-SSIM's Gaussian
    window is the largest odd size <= 11 that its 4 halvings allow ((window - 1) * 16 < the side)."""
    mse = float(((predicted - target) ** 2).mean())
    side = min(target.shape[:2])
    window = min(11, (side - 1) // 16 + 1)
    window -= 1 - window % 2  # odd
    x, y = (t.permute(2, 0, 1)[None].float() for t in (predicted, target))
    similarity = float(ms_ssim(x, y, data_range=1.0, win_size=window)) if window >= 3 else None
    return {"psnr": -10.0 * math.log10(max(mse, 1e-12)), "ms_ssim": similarity}


def measure(
    spec: EncodingSpec,
    task: Task,
    protocol: PaperProtocol,
    device: torch.device,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Train one network with `spec` on the task; the NTK spectra at epochs 0, E/2 and E, and the
    final quality -> one row of the JSON's "encodings" (plus "seconds")."""
    torch.manual_seed(protocol.seed)  # the same MLP weights for every encoding of equal input width
    net = PaperNet(spec, protocol.dims, task.out_dims, protocol.width, protocol.depth).to(device)
    optimiser = torch.optim.SGD(net.parameters(), lr=protocol.learning_rate)
    generator = torch.Generator().manual_seed(protocol.seed)
    started = time.perf_counter()
    whole: dict[str, list[float]] = {}
    without: dict[str, list[float]] = {}
    checkpoints = {0: "start", protocol.epochs // 2: "middle", protocol.epochs: "end"}
    for epoch in range(protocol.epochs + 1):
        if epoch in checkpoints:
            name = checkpoints[epoch]
            if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
                raise ConfigError(
                    f"{spec.name} diverged (non-finite weights by epoch {epoch}) at learning rate "
                    f"{protocol.learning_rate:g}: give a smaller --lr"
                )
            whole[name], without[name] = spectra(net, task.points, protocol.spectrum_count)
            say(f"{spec.name}: epoch {epoch} ({name}) smallest eigenvalue {whole[name][-1]:.3e}")
        if epoch < protocol.epochs:
            task.train_epoch(net, optimiser, generator)
    row: dict[str, Any] = {"name": spec.name}
    row.update(task.quality(net))
    row["eigenvalues"] = {k: whole[k] for k in ("start", "middle", "end")}
    row["eigenvalues_without_grid_term"] = {k: without[k] for k in ("start", "middle", "end")}
    row["seconds"] = time.perf_counter() - started
    return row


def run_experiment(
    task: Task,
    protocol: PaperProtocol,
    device: torch.device,
    names: tuple[str, ...] = NAMES,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every named encoding through `measure` -> {"encodings": [...], "scaling": ...} (rows keep
    their "seconds"; the command drops it from --json)."""
    protocol.check()
    chosen = [spec for spec in encodings(protocol) if spec.name in names]
    rows = [measure(spec, task, protocol, device, say) for spec in chosen]
    scaling = protocol.describe(PaperProtocol.paper(protocol.dims))
    scaling += "; encodings: " + ", ".join(describe_encoding(spec) for spec in chosen)
    return {"encodings": rows, "scaling": scaling}


def describe_encoding(spec: EncodingSpec) -> str:
    if spec.kind == "fourier":
        return f"{spec.name} L={spec.frequencies} (top {2 ** (spec.frequencies - 1)} cycles per unit)"
    if spec.kind == "grid":
        return f"{spec.name} resolutions {list(spec.resolutions)} x {spec.features} features"
    return f"{spec.name} none"
