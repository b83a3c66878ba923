"""Warp helpers shared by the grid encodings: locating a point in a level's grid, the row of a cell
corner (dense or spatially hashed, as in Instant-NGP) and the interpolation weights.

Conventions: a level of resolution N has vertices 0..N along each axis; a point x in [0,1]^D sits
at N*x; coordinates outside [0,1] are clamped and get no gradient. Corner c has bit d set when it
is on the upper side along axis d. The helpers are built per dimension D (2 or 3) and
interpolation, so that every loop over axes and corners unrolls and folds at compile time; vectors
are vec3 with the unused component zero for D=2.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import warp as wp

#: Instant-NGP's spatial hash: the row of vertex c is xor_d(c_d * PRIMES[d]) mod 2^32, masked to the
#: table. The one copy: the torch reference, the collision counts and the shaders (as #defines) use it.
PRIMES = (1, 2654435761, 805459861)
PRIME_Y = wp.constant(wp.uint32(PRIMES[1]))
PRIME_Z = wp.constant(wp.uint32(PRIMES[2]))

#: Interpolation modes (the `smooth` argument of the kernel factories); codes from LAGRANGE up are
#: Lagrange multi-sampling with k = smooth - LAGRANGE + 1 (gpu/lagrange.py).
LINEAR = 0
SMOOTHSTEP = 1
LAGRANGE = 2


def lagrange_k(smooth: int) -> int:
    """The Lagrange k of an interpolation code (0: not Lagrange)."""
    return smooth - LAGRANGE + 1 if smooth >= LAGRANGE else 0


@wp.struct
class Levels:
    """Where each level of a grid encoding lives: per-level int32 arrays (L,) resolution, offset
    (first row), hashed (1: spatial hash into table_size rows, 0: dense (N+1)^D vertices) and mask
    (0: the level is off), the hash table size, and how many points a thread handles."""

    resolution: wp.array(dtype=int)
    offset: wp.array(dtype=int)
    hashed: wp.array(dtype=int)
    mask: wp.array(dtype=int)
    table_size: int
    points_per_thread: int


def make_levels(arrays: dict[str, wp.array], table_size: int, points_per_thread: int) -> Levels:
    """A Levels struct from warp arrays named resolution, offset, hashed, mask."""
    levels = Levels()
    levels.resolution, levels.offset = arrays["resolution"], arrays["offset"]
    levels.hashed, levels.mask = arrays["hashed"], arrays["mask"]
    levels.table_size, levels.points_per_thread = table_size, points_per_thread
    return levels


@wp.func
def point_block(levels: Levels, block: int, count: int):
    """The points [first, last) of a thread's block."""
    first = block * levels.points_per_thread
    return first, wp.min(first + levels.points_per_thread, count)


@cache
def grid_helpers(dims: int, smooth: int) -> SimpleNamespace:
    """wp.func helpers for D = dims and the given interpolation: locate, inside, axis_weights,
    corner_weight, corner_grads, corner_weight_grad, corner_row, cell_corners; `corners` is how many vertices a
    point reads and no_weights() the zero of cell_corners' weights (Lagrange: gpu/lagrange.py)."""
    if smooth >= LAGRANGE:
        from fieldscope.gpu.lagrange import stencil_helpers  # lazy: import cycle (lagrange builds on this module)

        return stencil_helpers(dims, lagrange_k(smooth))
    corners = 1 << dims

    @wp.func
    def no_weights():
        return wp.vec3(0.0)

    @wp.func
    def locate(x: wp.array2d(dtype=float), i: int, res: int):
        """Cell (lower corner) and fraction in the cell of x[i] (clamped to [0,1]^D)."""
        cell = wp.vec3i(0)
        frac = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            pos = wp.clamp(x[i, d], 0.0, 1.0) * float(res)
            c = wp.min(int(wp.floor(pos)), res - 1)
            cell[d] = c
            frac[d] = pos - float(c)
        return cell, frac

    @wp.func
    def inside(x: wp.array2d(dtype=float), i: int):
        """Per axis 1.0 where x[i] lies in [0,1] (so the clamp passes gradients), else 0.0."""
        passes = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            v = x[i, d]
            passes[d] = wp.where(v >= 0.0 and v <= 1.0, 1.0, 0.0)
        return passes

    @wp.func
    def axis_weights(frac: wp.vec3):
        """Weights of the upper vertex along each axis (the lower one is 1 - that), and their
        derivatives with respect to the fraction."""
        upper = frac
        slope = wp.vec3(1.0)
        if wp.static(smooth == SMOOTHSTEP):
            for d in range(wp.static(dims)):
                t = frac[d]
                upper[d] = t * t * (3.0 - 2.0 * t)
                slope[d] = 6.0 * t * (1.0 - t)
        return upper, slope

    @wp.func
    def corner_weight(upper: wp.vec3, corner: int):
        """Interpolation weight of a cell corner: the product of its per-axis weights."""
        w = float(1.0)
        for d in range(wp.static(dims)):
            w = w * wp.where(((corner >> d) & 1) == 1, upper[d], 1.0 - upper[d])
        return w

    @wp.func
    def corner_weight_grad(upper: wp.vec3, slope: wp.vec3, corner: int):
        """Gradient of corner_weight with respect to the fraction, per axis."""
        g = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            gd = float(1.0)
            for e in range(wp.static(dims)):
                up = ((corner >> e) & 1) == 1
                if e == d:
                    gd = gd * wp.where(up, slope[e], -slope[e])
                else:
                    gd = gd * wp.where(up, upper[e], 1.0 - upper[e])
            g[d] = gd
        return g

    @wp.func
    def corner_grads(upper: wp.vec3, slope: wp.vec3):
        """What corner_weight_grad takes besides the weights: here the slopes themselves (Lagrange
        makes every stencil point's derivatives once, gpu/lagrange.py)."""
        return slope

    @wp.func
    def corner_row(cell: wp.vec3i, corner: int, res: int, hashed: int, table_mask: wp.uint32):
        """Row within its level of a cell corner: dense vertex index, or the spatial hash."""
        c0 = cell[0] + (corner & 1)
        c1 = cell[1] + ((corner >> 1) & 1)
        c2 = int(0)
        if wp.static(dims == 3):
            c2 = cell[2] + ((corner >> 2) & 1)
        if hashed == 0:
            stride = res + 1
            return c0 + stride * (c1 + stride * c2)
        h = wp.uint32(c0) ^ (wp.uint32(c1) * PRIME_Y)
        if wp.static(dims == 3):
            h = h ^ (wp.uint32(c2) * PRIME_Z)
        return int(h & table_mask)

    @wp.func
    def cell_corners(x: wp.array2d(dtype=float), i: int, levels: Levels, lvl: int):
        """For x[i] in level lvl: the rows of its cell's corners (vector of 2^D ints, level offset
        included), and the per-axis upper-vertex weights and their slopes (see axis_weights)."""
        res = levels.resolution[lvl]
        cell, frac = locate(x, i, res)
        upper, slope = axis_weights(frac)
        rows = wp.vector(0, length=wp.static(corners), dtype=int)
        table_mask = wp.uint32(levels.table_size - 1)
        for c in range(wp.static(corners)):
            rows[c] = levels.offset[lvl] + corner_row(cell, c, res, levels.hashed[lvl], table_mask)
        return rows, upper, slope

    return SimpleNamespace(
        corners=corners,
        no_weights=no_weights,
        cell_corners=cell_corners,
        locate=locate,
        inside=inside,
        axis_weights=axis_weights,
        corner_weight=corner_weight,
        corner_weight_grad=corner_weight_grad,
        corner_grads=corner_grads,
        corner_row=corner_row,
    )
