"""Warp kernels of the multiresolution hash encoding (Instant-NGP), D=2 and D=3.

Layout (shared with the callers in fields/hashgrid.py):
- x: (N, D) float32 points in [0,1]^D.
- table: (R, F) float32; level l owns rows offset[l] .. offset[l] + size[l] - 1.
- resolution, offset, hashed, mask: (L,) int32 per level; hashed=1 means spatial hash into
  table_size rows, 0 means dense indexing of the (N_l+1)^D vertices; mask=0 turns a level off
  (it outputs zeros and gets no gradient).
- out: (N, L*F) float32, level-major features.

Every kernel takes the start of its slice as its last argument (see gpu.runtime.launch_sliced):
forward and input gradients are sliced by points, the table gradient by levels, so that
concurrent CPU launches never write the same memory.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import warp as wp

from gpu import runtime
from gpu.hashing import grid_helpers


@cache
def kernels(dims: int, feats: int) -> SimpleNamespace:
    """The three kernels for D = dims and F = feats, compiled on first use (one module each).

    Launch dims are (L, N), level-major: consecutive threads read the same level's table, which
    keeps it in cache. Forward and input gradients are sliced by points (axis 1), the table
    gradient by levels (axis 0).
    """
    g = grid_helpers(dims)
    corners = 1 << dims

    @wp.kernel(enable_backward=False, module="unique")
    def encode_forward(
        x: wp.array2d(dtype=float),
        table: wp.array2d(dtype=float),
        resolution: wp.array(dtype=int),
        offset: wp.array(dtype=int),
        hashed: wp.array(dtype=int),
        mask: wp.array(dtype=int),
        table_size: int,
        smooth: int,
        out: wp.array2d(dtype=float),
        point_start: int,
    ):
        lvl, p = wp.tid()
        i = p + point_start
        acc = wp.vector(0.0, length=wp.static(feats), dtype=float)
        if mask[lvl] != 0:
            res = resolution[lvl]
            cell, frac, _passes = g.locate(x, i, res)
            table_mask = wp.uint32(table_size - 1)
            for c in range(wp.static(corners)):
                w = g.corner_weight(frac, c, smooth)
                row = offset[lvl] + g.corner_row(cell, c, res, hashed[lvl], table_mask)
                for f in range(wp.static(feats)):
                    acc[f] = acc[f] + w * table[row, f]
        for f in range(wp.static(feats)):
            out[i, lvl * wp.static(feats) + f] = acc[f]

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_table(
        x: wp.array2d(dtype=float),
        resolution: wp.array(dtype=int),
        offset: wp.array(dtype=int),
        hashed: wp.array(dtype=int),
        mask: wp.array(dtype=int),
        table_size: int,
        smooth: int,
        grad_out: wp.array2d(dtype=float),
        grad_table: wp.array2d(dtype=float),
        level_start: int,
    ):
        j, i = wp.tid()
        lvl = j + level_start
        if mask[lvl] != 0:
            res = resolution[lvl]
            cell, frac, _passes = g.locate(x, i, res)
            table_mask = wp.uint32(table_size - 1)
            for c in range(wp.static(corners)):
                w = g.corner_weight(frac, c, smooth)
                row = offset[lvl] + g.corner_row(cell, c, res, hashed[lvl], table_mask)
                for f in range(wp.static(feats)):
                    wp.atomic_add(grad_table, row, f, w * grad_out[i, lvl * wp.static(feats) + f])

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_points(
        x: wp.array2d(dtype=float),
        table: wp.array2d(dtype=float),
        resolution: wp.array(dtype=int),
        offset: wp.array(dtype=int),
        hashed: wp.array(dtype=int),
        mask: wp.array(dtype=int),
        table_size: int,
        smooth: int,
        grad_out: wp.array2d(dtype=float),
        grad_x: wp.array2d(dtype=float),
        point_start: int,
    ):
        lvl, p = wp.tid()
        i = p + point_start
        if mask[lvl] != 0:
            res = resolution[lvl]
            cell, frac, passes = g.locate(x, i, res)
            table_mask = wp.uint32(table_size - 1)
            grad = wp.vec3(0.0)
            for c in range(wp.static(corners)):
                row = offset[lvl] + g.corner_row(cell, c, res, hashed[lvl], table_mask)
                s = 0.0
                for f in range(wp.static(feats)):
                    s += grad_out[i, lvl * wp.static(feats) + f] * table[row, f]
                grad += s * g.corner_weight_grad(frac, c, smooth)
            for d in range(wp.static(dims)):
                wp.atomic_add(grad_x, i, d, grad[d] * passes[d] * float(res))

    return SimpleNamespace(
        forward=encode_forward, backward_table=encode_backward_table, backward_points=encode_backward_points
    )


def _launch(name: str, x: Any, levels: dict[str, Any], feats: int, axis: int, inputs: list[Any]) -> None:
    kernel = getattr(kernels(x.shape[1], feats), name)
    device = str(x.device)
    runtime.ensure_loaded(kernel, device)
    dim = (levels["resolution"].shape[0], x.shape[0])
    runtime.launch_sliced(kernel, dim, axis, inputs, device)


def _level_args(levels: dict[str, Any]) -> list[Any]:
    return [levels["resolution"], levels["offset"], levels["hashed"], levels["mask"]]


def forward(x: Any, table: Any, levels: dict[str, Any], table_size: int, smooth: int, out: Any) -> None:
    """Encode points: x (N, D), table (R, F) -> out (N, L*F), overwritten.

    levels: warp int32 arrays (L,) named resolution, offset, hashed, mask.
    """
    inputs = [x, table, *_level_args(levels), table_size, smooth, out]
    _launch("forward", x, levels, table.shape[1], 1, inputs)


def backward_table(
    x: Any, levels: dict[str, Any], table_size: int, smooth: int, grad_out: Any, grad_table: Any
) -> None:
    """Add d loss / d table (R, F) to grad_table, from grad_out (N, L*F); sliced by levels."""
    inputs = [x, *_level_args(levels), table_size, smooth, grad_out, grad_table]
    _launch("backward_table", x, levels, grad_table.shape[1], 0, inputs)


def backward_points(
    x: Any, table: Any, levels: dict[str, Any], table_size: int, smooth: int, grad_out: Any, grad_x: Any
) -> None:
    """Add d loss / d x (N, D) to grad_x (zero it first), from grad_out (N, L*F); sliced by points."""
    inputs = [x, table, *_level_args(levels), table_size, smooth, grad_out, grad_x]
    _launch("backward_points", x, levels, table.shape[1], 1, inputs)
