"""The multiresolution hash-grid field (Instant-NGP): config, level layout, the torch autograd
wrapper around the Warp kernels of gpu/hashgrid.py, and the Field."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from fieldscope.fields import reference
from fieldscope.fields.config import Capabilities, check
from fieldscope.fields.field import Field
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import hashgrid as kernels

INTERPOLATIONS = ("linear", "smoothstep", "lagrange")
#: Lagrange multi-sampling orders: k = 1 is linear, k = 2 the paper's 16 (2D) / 64 (3D) vertices.
LAGRANGE_KS = (1, 2)
IMPLEMENTATIONS = ("warp", "torch")


@dataclass(frozen=True)
class GridConfig:
    """Settings every multiresolution grid field shares. Level l has resolution
    floor(base_resolution * growth**l); the decoder has `hidden_layers` ReLU layers. With
    interpolation "lagrange", each level reads (2 lagrange_k)^D vertices (gpu/lagrange.py)."""

    kind: str = ""
    dims: int = 2
    out_dims: int = 3
    levels: int = 16
    features: int = 2
    log2_table_size: int = 19
    base_resolution: int = 16
    growth: float = 1.26
    interpolation: str = "linear"
    lagrange_k: int = 2
    hidden_width: int = 64
    hidden_layers: int = 1
    capabilities: ClassVar[Capabilities] = Capabilities(hash_table=True, growth_levels=True)

    def __post_init__(self) -> None:
        check_grid_settings(self)

    @property
    def table_size(self) -> int:
        return 1 << self.log2_table_size


@dataclass(frozen=True)
class HashGridConfig(GridConfig):
    """Instant-NGP hash grid."""

    kind: str = "hashgrid"

    def __post_init__(self) -> None:
        check(self.kind == "hashgrid", f"kind must be 'hashgrid', not {self.kind!r}")
        super().__post_init__()


def check_grid_settings(c: GridConfig) -> None:
    """Validate the settings every grid-based config shares (dims, levels, features, table, decoder)."""
    check(c.dims in (2, 3), f"dims must be 2 or 3, not {c.dims}")
    check(c.out_dims >= 1, f"out_dims must be at least 1, not {c.out_dims}")
    check(1 <= c.levels <= 32, f"levels (L) must be between 1 and 32, not {c.levels}")
    check(c.features in (1, 2, 4, 8), f"features per level (F) must be 1, 2, 4 or 8, not {c.features}")
    check(
        isinstance(c.log2_table_size, int) and 10 <= c.log2_table_size <= 24,
        f"table size must be 2^k with k between 10 and 24, not k={c.log2_table_size}",
    )
    check(c.base_resolution >= 1, f"base resolution must be at least 1, not {c.base_resolution}")
    check(c.growth >= 1.0, f"growth per level must be at least 1, not {c.growth}")
    top = level_resolution(c.base_resolution, c.growth, c.levels - 1)
    check(top <= 2**20, f"finest resolution {top} is too large (at most 2^20)")
    check(c.interpolation in INTERPOLATIONS, f"interpolation must be one of {INTERPOLATIONS}")
    check(c.lagrange_k in LAGRANGE_KS, f"lagrange_k must be one of {LAGRANGE_KS}, not {c.lagrange_k}")
    check(
        c.interpolation != "lagrange" or c.base_resolution >= 2 * c.lagrange_k - 1,
        f"lagrange with k={c.lagrange_k} needs a base resolution of at least {2 * c.lagrange_k - 1}"
        f" (its {2 * c.lagrange_k} vertices per axis must lie in the grid), not {c.base_resolution}",
    )
    check(c.hidden_width >= 1 and c.hidden_layers >= 0, "decoder width must be >= 1 and layers >= 0")


def interpolation_code(interpolation: str, lagrange_k: int = 2) -> int:
    """The kernels' interpolation code (gpu/hashing.py: 0 linear, 1 smoothstep, 2 + k - 1 Lagrange)."""
    if interpolation == "lagrange":
        return INTERPOLATIONS.index("lagrange") + lagrange_k - 1
    return INTERPOLATIONS.index(interpolation)


def growth_for(base_resolution: int, max_resolution: int, levels: int) -> float:
    """The per-level growth b that takes base_resolution to max_resolution over `levels` levels."""
    check(max_resolution >= base_resolution, "max resolution must be at least the base resolution")
    if levels == 1:
        return 1.0
    return math.exp(math.log(max_resolution / base_resolution) / (levels - 1))


def level_resolution(base_resolution: int, growth: float, level: int) -> int:
    """N_l = floor(N_min * b^l), with a 1e-6 nudge so that a growth computed from N_max reaches it."""
    return math.floor(base_resolution * growth**level + 1e-6)


@dataclass(frozen=True)
class LevelLayout:
    """Where each level lives in the table: resolution, rows, first row, hashed or dense."""

    resolution: tuple[int, ...]
    rows: tuple[int, ...]
    offset: tuple[int, ...]
    hashed: tuple[bool, ...]
    table_size: int
    dims: int

    @property
    def total_rows(self) -> int:
        return self.offset[-1] + self.rows[-1]


@lru_cache(maxsize=64)
def level_layout(dims: int, levels: int, base_resolution: int, growth: float, log2_table_size: int) -> LevelLayout:
    """Levels with (N_l+1)^D <= T are dense (one row per vertex), finer ones hash into T rows."""
    table_size = 1 << log2_table_size
    resolution = tuple(level_resolution(base_resolution, growth, lvl) for lvl in range(levels))
    hashed = tuple((n + 1) ** dims > table_size for n in resolution)
    rows = tuple(table_size if h else (n + 1) ** dims for n, h in zip(resolution, hashed, strict=True))
    offset = tuple(int(o) for o in np.concatenate([[0], np.cumsum(rows)[:-1]]))
    return LevelLayout(resolution, rows, offset, hashed, table_size, dims)


def layout_of(config: GridConfig) -> LevelLayout:
    return level_layout(config.dims, config.levels, config.base_resolution, config.growth, config.log2_table_size)


class _WarpHashGrid(torch.autograd.Function):
    """x (N, D), table (R, F) -> (N, L*F) through the Warp kernels; backward to table and x."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, table: torch.Tensor, enc: HashGridEncoding) -> torch.Tensor:
        x = x.detach().float().contiguous()
        out = torch.empty(x.shape[0], enc.out_dims, device=x.device)
        warp_call(kernels.forward, x, table.detach(), enc.level_arrays(), enc.table_size, enc.smooth, out)
        ctx.save_for_backward(x, table)
        ctx.encoding = enc
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, table = ctx.saved_tensors
        enc: HashGridEncoding = ctx.encoding
        common = (enc.level_arrays(), enc.table_size, enc.smooth, grad_out.float().contiguous())
        grad_x = grad_table = None
        if ctx.needs_input_grad[1]:
            grad_table = torch.zeros_like(table)
            warp_call(kernels.backward_table, x, *common, grad_table)
        if ctx.needs_input_grad[0]:
            grad_x = torch.zeros_like(x)
            warp_call(kernels.backward_points, x, table.detach(), *common, grad_x)
        return grad_x, grad_table, None


class HashGridEncoding(nn.Module):
    """Multiresolution hash encoding over a LevelLayout: (N, D) -> (N, L*F).

    impl="warp" runs the Warp kernels; impl="torch" the vectorised pure-PyTorch version
    (fields.reference), used as reference and as the benchmark baseline.
    """

    resolution: torch.Tensor
    offset: torch.Tensor
    hashed: torch.Tensor
    mask: torch.Tensor

    def __init__(
        self, layout: LevelLayout, features: int, interpolation: str, impl: str = "warp", lagrange_k: int = 2
    ) -> None:
        super().__init__()
        check(impl in IMPLEMENTATIONS, f"implementation must be one of {IMPLEMENTATIONS}")
        self.layout = layout
        self.features = features
        self.table_size = layout.table_size
        self.smooth = interpolation_code(interpolation, lagrange_k)
        self.impl = impl
        self.num_levels = len(layout.resolution)
        self.out_dims = self.num_levels * features
        # Instant-NGP initialises the table uniformly in [-1e-4, 1e-4].
        self.table = nn.Parameter(torch.empty(layout.total_rows, features).uniform_(-1e-4, 1e-4))
        for name in ("resolution", "offset"):
            self.register_buffer(name, torch.tensor(getattr(layout, name), dtype=torch.int32), persistent=False)
        self.register_buffer("hashed", torch.tensor(layout.hashed, dtype=torch.int32), persistent=False)
        self.register_buffer("mask", torch.ones(self.num_levels, dtype=torch.int32), persistent=False)

    def set_mask(self, mask: tuple[bool, ...]) -> None:
        self.mask.copy_(torch.tensor(mask, dtype=torch.int32))

    def level_arrays(self) -> dict[str, torch.Tensor]:
        return {
            "resolution": self.resolution,
            "offset": self.offset,
            "hashed": self.hashed,
            "mask": self.mask,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) in [0,1]^D -> (N, L*F) float32."""
        if self.impl == "torch":
            return reference.hashgrid_encode(x, self.table, self.layout, self.mask, self.smooth)
        return _WarpHashGrid.apply(x, self.table, self)

    def level_info(self) -> list[dict[str, Any]]:
        """Per level: resolution, dense or hashed, table rows and occupancy (share of rows that some
        grid vertex of [0,1]^D maps to; for large hashed levels the expected share)."""
        return [
            {
                "level": lvl,
                "resolution": n,
                "hashed": hashed,
                "rows": rows,
                "occupancy": occupancy(n, self.layout.dims, rows) if hashed else 1.0,
            }
            for lvl, (n, hashed, rows) in enumerate(
                zip(self.layout.resolution, self.layout.hashed, self.layout.rows, strict=True)
            )
        ]


@lru_cache(maxsize=256)
def occupancy(resolution: int, dims: int, table_size: int) -> float:
    """Share of hash-table rows hit by at least one of the (N+1)^D grid vertices.

    Counted exactly up to 2^24 vertices, else the expectation 1 - exp(-V/T) of a uniform hash.
    """
    vertices = (resolution + 1) ** dims
    if vertices > 1 << 24:
        return float(1.0 - math.exp(-vertices / table_size))
    axes = [torch.arange(resolution + 1, dtype=torch.int64)] * dims
    corners = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, dims)
    rows = reference.hash_index(corners, table_size)
    return float(torch.unique(rows).numel() / table_size)


class HashGridField(Field):
    """Hash-grid encoding + MLP decoder."""

    config: HashGridConfig
    encoding: HashGridEncoding

    def __init__(self, config: HashGridConfig, impl: str = "warp") -> None:
        encoding = HashGridEncoding(layout_of(config), config.features, config.interpolation, impl, config.lagrange_k)
        super().__init__(config, encoding)
