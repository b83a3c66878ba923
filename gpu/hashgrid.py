"""Warp kernels of the multiresolution hash encoding (Instant-NGP), D=2 and D=3.

Layout (shared with the callers in fields/kinds/hashgrid.py):
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

from collections.abc import Callable
from functools import cache
from types import SimpleNamespace

import warp as wp

from fieldscope.gpu import runtime
from fieldscope.gpu.hashing import Levels, grid_helpers, make_levels, point_block

#: Points each thread encodes in a row: amortises the per-thread and per-level set-up on the CPU.
POINTS_PER_THREAD = 64


@cache
def kernels(dims: int, feats: int, smooth: int) -> SimpleNamespace:
    """The three kernels for D = dims, F = feats and the interpolation, compiled on first use
    (one module each).

    Launch dims are (L, ceil(N / points_per_thread)), level-major: consecutive threads read the
    same level's table, which keeps it in cache. Forward and input gradients are sliced by point
    blocks (axis 1), the table gradient by levels (axis 0, interleaved: dense and hashed levels
    cost differently). Corner rows are computed before their loads, so that the cache misses of
    one point overlap.
    """
    g = grid_helpers(dims, smooth)
    corners = g.corners

    @wp.kernel(enable_backward=False, module="unique")
    def encode_forward(
        x: wp.array2d(dtype=float),
        table: wp.array2d(dtype=float),
        levels: Levels,
        out: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        first, last = point_block(levels, q * slice_stride + slice_start, x.shape[0])
        on = levels.mask[lvl] != 0
        for i in range(first, last):
            rows = wp.vector(0, length=wp.static(corners), dtype=int)
            upper = g.no_weights()
            if on:
                rows, upper, _slope = g.cell_corners(x, i, levels, lvl)
            for f in range(wp.static(feats)):
                acc = float(0.0)
                if on:
                    for c in range(wp.static(corners)):
                        acc += g.corner_weight(upper, c) * table[rows[c], f]
                out[i, lvl * wp.static(feats) + f] = acc

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_table(
        x: wp.array2d(dtype=float),
        levels: Levels,
        grad_out: wp.array2d(dtype=float),
        grad_table: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        j, q = wp.tid()
        lvl = j * slice_stride + slice_start
        if levels.mask[lvl] == 0:
            return
        first, last = point_block(levels, q, x.shape[0])
        for i in range(first, last):
            rows, upper, _slope = g.cell_corners(x, i, levels, lvl)
            for f in range(wp.static(feats)):
                g_out = grad_out[i, lvl * wp.static(feats) + f]
                for c in range(wp.static(corners)):
                    wp.atomic_add(grad_table, rows[c], f, g.corner_weight(upper, c) * g_out)

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_points(
        x: wp.array2d(dtype=float),
        table: wp.array2d(dtype=float),
        levels: Levels,
        grad_out: wp.array2d(dtype=float),
        grad_x: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        if levels.mask[lvl] == 0:
            return
        first, last = point_block(levels, q * slice_stride + slice_start, x.shape[0])
        scale = float(levels.resolution[lvl])
        for i in range(first, last):
            rows, upper, slope = g.cell_corners(x, i, levels, lvl)
            grads = g.corner_grads(upper, slope)
            passes = g.inside(x, i)
            grad = wp.vec3(0.0)
            for c in range(wp.static(corners)):
                s = float(0.0)
                for f in range(wp.static(feats)):
                    s += grad_out[i, lvl * wp.static(feats) + f] * table[rows[c], f]
                grad += s * g.corner_weight_grad(upper, grads, c)
            for d in range(wp.static(dims)):
                wp.atomic_add(grad_x, i, d, grad[d] * passes[d] * scale)

    return SimpleNamespace(
        forward=encode_forward, backward_table=encode_backward_table, backward_points=encode_backward_points
    )


def _launch(name: str, x: wp.array, feats: int, smooth: int, levels: Levels, axis: int, inputs: list[object]) -> None:
    kernel = getattr(kernels(x.shape[1], feats, smooth), name)
    device = str(x.device)
    runtime.ensure_loaded(kernel, device)
    dim = (levels.resolution.shape[0], -(-x.shape[0] // POINTS_PER_THREAD))
    runtime.launch_sliced(kernel, dim, axis, inputs, device, interleave=axis == 0)


def forward(
    x: wp.array, table: wp.array, levels: dict[str, wp.array], table_size: int, smooth: int, out: wp.array
) -> None:
    """Encode points: x (N, D), table (R, F) -> out (N, L*F), overwritten.

    levels: warp int32 arrays (L,) named resolution, offset, hashed, mask.
    """
    packed = make_levels(levels, table_size, POINTS_PER_THREAD)
    _launch("forward", x, table.shape[1], smooth, packed, 1, [x, table, packed, out])


def backward_table(
    x: wp.array, levels: dict[str, wp.array], table_size: int, smooth: int, grad_out: wp.array, grad_table: wp.array
) -> None:
    """Add d loss / d table (R, F) to grad_table, from grad_out (N, L*F); sliced by levels."""
    packed = make_levels(levels, table_size, POINTS_PER_THREAD)
    _launch("backward_table", x, grad_table.shape[1], smooth, packed, 0, [x, packed, grad_out, grad_table])


def backward_points(
    x: wp.array,
    table: wp.array,
    levels: dict[str, wp.array],
    table_size: int,
    smooth: int,
    grad_out: wp.array,
    grad_x: wp.array,
) -> None:
    """Add d loss / d x (N, D) to grad_x (zero it first), from grad_out (N, L*F); sliced by points."""
    packed = make_levels(levels, table_size, POINTS_PER_THREAD)
    _launch("backward_points", x, table.shape[1], smooth, packed, 1, [x, table, packed, grad_out, grad_x])


@cache
def collision_kernel(dims: int) -> wp.Kernel:
    """Kernel counting, for one level, how many grid vertices map to each table row.

    A line is the N+1 vertices along x at one (y, z); lines line_start .. line_stop-1 are counted
    (line r is y = r % (N+1), z = r // (N+1)). Launch dim: ceil(lines / P) with interleaved slices;
    slice k counts into its own row of counts (P, T), so concurrent slices never add to the same
    counter.
    """
    g = grid_helpers(dims, 0)

    @wp.kernel(enable_backward=False, module="unique")
    def count_vertices(
        res: int,
        hashed: int,
        table_size: int,
        line_start: int,
        line_stop: int,
        counts: wp.array2d(dtype=int),
        slice_start: int,
        slice_stride: int,
    ):
        r = line_start + wp.tid() * slice_stride + slice_start
        side = res + 1
        if r >= line_stop:
            return
        cell = wp.vec3i(0, r % side, r // side)
        table_mask = wp.uint32(table_size - 1)
        for x in range(side):
            cell[0] = x
            wp.atomic_add(counts, slice_start, g.corner_row(cell, 0, res, hashed, table_mask), 1)

    return count_vertices


def vertex_lines(dims: int, resolution: int) -> int:
    """How many lines of N+1 vertices along x a level of resolution N has: (N+1)^(D-1)."""
    return (resolution + 1) ** (dims - 1)


def count_vertices(
    dims: int, resolution: int, hashed: bool, table_size: int, counts: wp.array, lines: tuple[int, int] | None = None
) -> None:
    """counts (P, rows) int32, zeroed, P >= runtime.cpu_workers(): slice k adds into row k how many of
    the (N+1)^D vertices of a level of resolution N map to each row (sum over P is the answer).
    `lines` (start, stop) counts only those lines of vertices (see vertex_lines), so that a large
    level can be counted in parts; default all."""
    kernel = collision_kernel(dims)
    device = str(counts.device)
    runtime.ensure_loaded(kernel, device)
    start, stop = lines if lines is not None else (0, vertex_lines(dims, resolution))
    parts = min(counts.shape[0], runtime.cpu_workers()) if device == "cpu" else 1
    inputs = [resolution, int(hashed), table_size, start, stop, counts]
    size = max(0, stop - start)

    def job(k: int) -> Callable[[], object]:
        return lambda: wp.launch(kernel, dim=-(-size // parts), inputs=[*inputs, k, parts], device=device)

    runtime.run_all([job(k) for k in range(parts)])
