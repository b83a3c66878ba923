"""Warp kernels of the multiresolution hash encoding (Instant-NGP), D=2 and D=3.

Layout (shared with the callers in fields/hashgrid.py):
- x: (N, D) float32 points in [0,1]^D.
- table: (R, F) float32; level l owns rows offset[l] .. offset[l] + size[l] - 1.
- resolution, offset, hashed, mask: (L,) int32 per level; hashed=1 means spatial hash into
  table_size rows, 0 means dense indexing of the (N_l+1)^D vertices; mask=0 turns a level off
  (it outputs zeros and gets no gradient).
- out: (N, L*F) float32, the decoder's input rows.

Every kernel ends with the slice parameters of gpu.runtime.launch_sliced: forward and input
gradients are sliced by points, the table gradient by levels, so that concurrent CPU launches
never write the same memory.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import warp as wp

from gpu import runtime
from gpu.hashing import grid_helpers

#: Points each thread encodes in a row: amortises the per-thread and per-level set-up on the CPU.
POINTS_PER_THREAD = 64


@cache
def kernels(dims: int, feats: int, smooth: int) -> SimpleNamespace:
    """The three kernels for D = dims, F = feats and the interpolation, compiled on first use
    (one module each).

    Launch dims are (L, ceil(N / points_per_thread)), level-major: consecutive threads read the
    same level's table, which keeps it in cache. Forward and input gradients are sliced by point
    blocks (axis 1), the table gradient by levels (axis 0, interleaved: dense and hashed levels
    cost differently).
    """
    g = grid_helpers(dims, smooth)
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
        points_per_thread: int,
        out: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        first = (q * slice_stride + slice_start) * points_per_thread
        last = wp.min(first + points_per_thread, x.shape[0])
        res, off, hsh, on = resolution[lvl], offset[lvl], hashed[lvl], mask[lvl]
        table_mask = wp.uint32(table_size - 1)
        rows = wp.vector(0, length=wp.static(corners), dtype=int)
        weights = wp.vector(0.0, length=wp.static(corners), dtype=float)
        for i in range(first, last):
            if on != 0:
                # all corner rows first, so that their (cache-missing) loads are issued together
                cell, frac = g.locate(x, i, res)
                upper, _slope = g.axis_weights(frac)
                for c in range(wp.static(corners)):
                    weights[c] = g.corner_weight(upper, c)
                    rows[c] = off + g.corner_row(cell, c, res, hsh, table_mask)
            for f in range(wp.static(feats)):
                acc = float(0.0)
                if on != 0:
                    for c in range(wp.static(corners)):
                        acc += weights[c] * table[rows[c], f]
                out[i, lvl * wp.static(feats) + f] = acc

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_table(
        x: wp.array2d(dtype=float),
        resolution: wp.array(dtype=int),
        offset: wp.array(dtype=int),
        hashed: wp.array(dtype=int),
        mask: wp.array(dtype=int),
        table_size: int,
        points_per_thread: int,
        grad_out: wp.array2d(dtype=float),
        grad_table: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        j, q = wp.tid()
        lvl = j * slice_stride + slice_start
        if mask[lvl] == 0:
            return
        first = q * points_per_thread
        last = wp.min(first + points_per_thread, x.shape[0])
        res, off, hsh = resolution[lvl], offset[lvl], hashed[lvl]
        table_mask = wp.uint32(table_size - 1)
        rows = wp.vector(0, length=wp.static(corners), dtype=int)
        weights = wp.vector(0.0, length=wp.static(corners), dtype=float)
        for i in range(first, last):
            cell, frac = g.locate(x, i, res)
            upper, _slope = g.axis_weights(frac)
            for c in range(wp.static(corners)):
                weights[c] = g.corner_weight(upper, c)
                rows[c] = off + g.corner_row(cell, c, res, hsh, table_mask)
            for f in range(wp.static(feats)):
                g_out = grad_out[i, lvl * wp.static(feats) + f]
                for c in range(wp.static(corners)):
                    wp.atomic_add(grad_table, rows[c], f, weights[c] * g_out)

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_points(
        x: wp.array2d(dtype=float),
        table: wp.array2d(dtype=float),
        resolution: wp.array(dtype=int),
        offset: wp.array(dtype=int),
        hashed: wp.array(dtype=int),
        mask: wp.array(dtype=int),
        table_size: int,
        points_per_thread: int,
        grad_out: wp.array2d(dtype=float),
        grad_x: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        if mask[lvl] == 0:
            return
        first = (q * slice_stride + slice_start) * points_per_thread
        last = wp.min(first + points_per_thread, x.shape[0])
        res, off, hsh = resolution[lvl], offset[lvl], hashed[lvl]
        table_mask = wp.uint32(table_size - 1)
        rows = wp.vector(0, length=wp.static(corners), dtype=int)
        for i in range(first, last):
            cell, frac = g.locate(x, i, res)
            upper, slope = g.axis_weights(frac)
            passes = g.inside(x, i)
            for c in range(wp.static(corners)):
                rows[c] = off + g.corner_row(cell, c, res, hsh, table_mask)
            grad = wp.vec3(0.0)
            for c in range(wp.static(corners)):
                s = float(0.0)
                for f in range(wp.static(feats)):
                    s += grad_out[i, lvl * wp.static(feats) + f] * table[rows[c], f]
                grad += s * g.corner_weight_grad(upper, slope, c)
            for d in range(wp.static(dims)):
                wp.atomic_add(grad_x, i, d, grad[d] * passes[d] * float(res))

    return SimpleNamespace(
        forward=encode_forward, backward_table=encode_backward_table, backward_points=encode_backward_points
    )


def _launch(name: str, x: Any, levels: dict[str, Any], feats: int, smooth: int, axis: int, inputs: list[Any]) -> None:
    kernel = getattr(kernels(x.shape[1], feats, smooth), name)
    device = str(x.device)
    runtime.ensure_loaded(kernel, device)
    blocks = -(-x.shape[0] // POINTS_PER_THREAD)
    dim = (levels["resolution"].shape[0], blocks)
    runtime.launch_sliced(kernel, dim, axis, inputs, device, interleave=axis == 0)


def _level_args(levels: dict[str, Any]) -> list[Any]:
    return [levels["resolution"], levels["offset"], levels["hashed"], levels["mask"]]


def forward(x: Any, table: Any, levels: dict[str, Any], table_size: int, smooth: int, out: Any) -> None:
    """Encode points: x (N, D), table (R, F) -> out (N, L*F), overwritten.

    levels: warp int32 arrays (L,) named resolution, offset, hashed, mask.
    """
    inputs = [x, table, *_level_args(levels), table_size, POINTS_PER_THREAD, out]
    _launch("forward", x, levels, table.shape[1], smooth, 1, inputs)


def backward_table(
    x: Any, levels: dict[str, Any], table_size: int, smooth: int, grad_out: Any, grad_table: Any
) -> None:
    """Add d loss / d table (R, F) to grad_table, from grad_out (N, L*F); sliced by levels."""
    inputs = [x, *_level_args(levels), table_size, POINTS_PER_THREAD, grad_out, grad_table]
    _launch("backward_table", x, levels, grad_table.shape[1], smooth, 0, inputs)


def backward_points(
    x: Any, table: Any, levels: dict[str, Any], table_size: int, smooth: int, grad_out: Any, grad_x: Any
) -> None:
    """Add d loss / d x (N, D) to grad_x (zero it first), from grad_out (N, L*F); sliced by points."""
    inputs = [x, table, *_level_args(levels), table_size, POINTS_PER_THREAD, grad_out, grad_x]
    _launch("backward_points", x, levels, table.shape[1], smooth, 1, inputs)
