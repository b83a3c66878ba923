"""The optical-flow experiment of HashEncoding (sec. 4.3, Table 2), headless: translations estimated
from zero by gradient descent through a frozen field of A, pixel-wise, 3x3 patch-wise and image-wise.

The paper: 100 images, each translated by a random vector within a radius of 50 px; a hash grid of
T = 2^12, L = 12, N_min = 4, N_max = 346; the pixel loss minimised on 256 random points, none within
50 px of the image's border; the three estimates share a displacement per point, per 3x3 patch (the
point +- 1 px in x and y) or over the whole image; the end-point error (EPE) for Lagrange
multi-sampling with k = 1 (linear) and k = 2.

Here, as in fields/analysis/flow.py, B(x) = A(x + t) and field_A(x + d) is matched to B at x (pixel
units, x right, y down). Pixel- and patch-wise, 256 points (patch centres) are drawn once and each
keeps its own displacement through the steps; image-wise, one displacement and 256 fresh points
every step. Every displacement starts at zero (no coarse search) and Adam descends with a cosine
decay of its learning rate (pixels). The EPE of an estimate is the mean |d - t| over its
displacements (image-wise: the one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fieldscope.fields.analysis.flow import Matcher, cosine_lr, shift_image
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.kinds.hashgrid import growth_for

ESTIMATES = ("pixel", "patch", "image")
#: HashEncoding's Table 2: EPE (px) by k and estimate, over 100 COCO images.
PAPER_EPE: Mapping[int, Mapping[str, float]] = {
    1: {"pixel": 36.4531, "patch": 34.0380, "image": 4.2565},
    2: {"pixel": 34.5785, "patch": 33.0150, "image": 2.9412},
}
PAPER_PAIRS = 100


@dataclass(frozen=True)
class PaperGrid:
    """The paper's hash grid (T = 2^log2_table_size, L levels from N_min to N_max, F features)."""

    log2_table_size: int = 12
    levels: int = 12
    base_resolution: int = 4
    max_resolution: int = 346
    features: int = 2

    def settings(self, k: int) -> dict[str, Any]:
        """Hash-grid settings (FieldOptions.settings) for Lagrange order k: 1 is linear interpolation."""
        if k not in (1, 2):
            raise ConfigError(f"the paper's k is 1 or 2, not {k}")
        interpolation = {"interpolation": "linear"} if k == 1 else {"interpolation": "lagrange", "lagrange_k": k}
        return {
            **interpolation,
            "log2_table_size": self.log2_table_size,
            "levels": self.levels,
            "base_resolution": self.base_resolution,
            "growth": growth_for(self.base_resolution, self.max_resolution, self.levels),
            "features": self.features,
        }


@dataclass(frozen=True)
class PaperFlowOptions:
    """The descent: `steps` Adam steps of learning rate `lr` px (cosine decay to 1%) on `points`
    points (patch centres) at least `border` px inside the image; patches of patch x patch pixels."""

    steps: int = 300
    points: int = 256
    border: int = 50
    patch: int = 3
    lr: float = 2.0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.points < 1 or self.border < 0 or self.lr <= 0:
            raise ConfigError("flow steps >= 0, points >= 1, border >= 0 and lr > 0 are needed")
        if self.patch < 1 or self.patch % 2 == 0:
            raise ConfigError(f"the patch side must be odd and positive, not {self.patch}")


def interior_index(height: int, width: int, border: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random pixels (count,) as flat indices row * width + col, drawn uniformly (with
    replacement) among those with border <= row < height - border and border <= col < width - border:
    no pixel within `border` px of the image's edge."""
    rows, cols = height - 2 * border, width - 2 * border
    if rows < 1 or cols < 1:
        raise ConfigError(f"a {width}x{height} image has no pixel {border} px inside its border")
    pick = torch.randint(rows * cols, (count,), generator=generator)
    return (pick // cols + border) * width + pick % cols + border


def patch_index(centres: torch.Tensor, width: int, side: int = 3) -> torch.Tensor:
    """The side x side patches around pixels `centres` (N,) (flat indices of an image `width`
    wide): (N, side * side) flat indices, row-major within a patch (the centre in the middle)."""
    radius = side // 2
    steps = torch.arange(-radius, radius + 1)
    offsets = (steps[:, None] * width + steps[None, :]).reshape(-1)
    return centres[:, None] + offsets[None, :]


def point_groups(
    estimate: str, height: int, width: int, options: PaperFlowOptions, generator: torch.Generator
) -> torch.Tensor:
    """The pixels (G, P) (flat indices) that share each displacement: pixel (points, 1), patch
    (points, patch^2; every pixel of a patch obeys the border rule), image (1, points)."""
    if estimate == "pixel":
        return interior_index(height, width, options.border, options.points, generator)[:, None]
    if estimate == "patch":
        border = options.border + options.patch // 2
        return patch_index(interior_index(height, width, border, options.points, generator), width, options.patch)
    if estimate == "image":
        return interior_index(height, width, options.border, options.points, generator)[None, :]
    raise ConfigError(f"unknown estimate {estimate!r} (known: {', '.join(ESTIMATES)})")


def estimate_displacements(
    matcher: Matcher, estimate: str, options: PaperFlowOptions, generator: torch.Generator
) -> torch.Tensor:
    """Displacements (G, 2) px from zero by Adam on the photometric error of matcher's field at
    p + d against B at p: G = options.points for pixel and patch, 1 for image (fresh points each step)."""
    groups = point_groups(estimate, matcher.height, matcher.width, options, generator)
    d = torch.zeros(groups.shape[0], 2, requires_grad=True)
    optimizer = torch.optim.Adam([d], lr=options.lr)
    for step in range(options.steps):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(options.lr, step, options.steps)
        if estimate == "image" and step > 0:
            groups = point_groups(estimate, matcher.height, matcher.width, options, generator)
        loss = matcher.error(groups.reshape(-1), d.repeat_interleave(groups.shape[1], dim=0))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return d.detach()


def end_point_error(displacements: torch.Tensor, truth: tuple[float, float]) -> float:
    """Mean |d - t| (px) over displacements (G, 2) against the true translation t."""
    return float(torch.linalg.norm(displacements - torch.tensor(truth), dim=1).mean())


def translated(image: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """B (H, W, C) with B(x) = A(x + shift): A resampled bicubically (its edge clamped, which only
    reaches the pixels whose x + shift lies within 2 px of A's edge)."""
    flow = np.broadcast_to(np.array(shift, np.float32), (*image.shape[:2], 2))
    return shift_image(image, np.ascontiguousarray(flow))


def pair_errors(
    field: FieldBase, b: np.ndarray, shift: tuple[float, float], options: PaperFlowOptions, seed: int
) -> dict[str, float]:
    """EPE of each estimate (ESTIMATES) for B (H, W, C) = A translated by `shift`, through A's
    frozen `field`; every estimate draws its points from a generator seeded with `seed`."""
    matcher = Matcher(field, b)
    errors = {}
    for estimate in ESTIMATES:
        generator = torch.Generator().manual_seed(seed)
        errors[estimate] = end_point_error(estimate_displacements(matcher, estimate, options, generator), shift)
    return errors
