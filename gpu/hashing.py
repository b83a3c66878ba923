"""Warp helpers shared by the grid encodings: locating a point in a level's grid, the row of a cell
corner (dense or spatially hashed, as in Instant-NGP) and the interpolation weights.

Conventions: a level of resolution N has vertices 0..N along each axis; a point x in [0,1]^D sits
at N*x; coordinates outside [0,1] are clamped and get no gradient. Corner c has bit d set when it
is on the upper side along axis d. The helpers are built per dimension D (2 or 3) so that every
loop over axes and corners unrolls at compile time; vectors are vec3 with the unused component
zero for D=2.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import warp as wp

PRIME_Y = wp.constant(wp.uint32(2654435761))
PRIME_Z = wp.constant(wp.uint32(805459861))

#: Interpolation modes (the `smooth` argument of the kernels).
LINEAR = 0
SMOOTHSTEP = 1


@wp.func
def axis_weight(t: float, upper: int, smooth: int):
    """1D interpolation weight of the lower (upper=0) or upper (upper=1) vertex at fraction t."""
    s = wp.where(smooth == 1, t * t * (3.0 - 2.0 * t), t)
    return wp.where(upper == 1, s, 1.0 - s)


@wp.func
def axis_weight_grad(t: float, upper: int, smooth: int):
    """d axis_weight / d t."""
    ds = wp.where(smooth == 1, 6.0 * t * (1.0 - t), 1.0)
    return wp.where(upper == 1, ds, -ds)


@cache
def grid_helpers(dims: int) -> SimpleNamespace:
    """wp.func helpers specialised for D = dims: locate, corner_row, corner_weight, corner_weight_grad."""

    @wp.func
    def locate(x: wp.array2d(dtype=float), i: int, res: int):
        """Cell (lower corner), fraction in the cell, and per axis 1.0 where x[i] was inside [0,1]."""
        cell = wp.vec3i(0)
        frac = wp.vec3(0.0)
        passes = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            v = x[i, d]
            pos = wp.clamp(v, 0.0, 1.0) * float(res)
            c = wp.min(int(wp.floor(pos)), res - 1)
            cell[d] = c
            frac[d] = pos - float(c)
            passes[d] = wp.where(v >= 0.0 and v <= 1.0, 1.0, 0.0)
        return cell, frac, passes

    @wp.func
    def corner_row(cell: wp.vec3i, corner: int, res: int, hashed: int, table_mask: wp.uint32):
        """Row within its level of a cell corner: dense vertex index, or the spatial hash."""
        c0 = cell[0] + (corner & 1)
        c1 = cell[1] + ((corner >> 1) & 1)
        c2 = 0
        if wp.static(dims == 3):
            c2 = cell[2] + ((corner >> 2) & 1)
        stride = res + 1
        h = wp.uint32(c0) ^ (wp.uint32(c1) * PRIME_Y)
        if wp.static(dims == 3):
            h = h ^ (wp.uint32(c2) * PRIME_Z)
        return wp.where(hashed == 0, c0 + stride * (c1 + stride * c2), int(h & table_mask))

    @wp.func
    def corner_weight(frac: wp.vec3, corner: int, smooth: int):
        """Interpolation weight of a cell corner: the product of its per-axis weights."""
        w = 1.0
        for d in range(wp.static(dims)):
            w = w * axis_weight(frac[d], (corner >> d) & 1, smooth)
        return w

    @wp.func
    def corner_weight_grad(frac: wp.vec3, corner: int, smooth: int):
        """Gradient of corner_weight with respect to the fraction, per axis."""
        g = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            gd = 1.0
            for e in range(wp.static(dims)):
                upper = (corner >> e) & 1
                gd = gd * wp.where(
                    e == d, axis_weight_grad(frac[e], upper, smooth), axis_weight(frac[e], upper, smooth)
                )
            g[d] = gd
        return g

    return SimpleNamespace(
        locate=locate,
        corner_row=corner_row,
        corner_weight=corner_weight,
        corner_weight_grad=corner_weight_grad,
    )
