"""Lagrange multi-sampling (HashEncoding, Zhornyak et al., sec. 3.3.2): per axis, a Lagrange
polynomial of order 2k-1 through 2k grid vertices, so (2k)^D vertices per point (k = 2: 16 in 2D,
64 in 3D); k = 1 is linear interpolation.

Stencil: a point at pos = N*x in cell c = min(floor(pos), N-1) uses vertices s .. s+2k-1 with
s = c-k+1, which puts it between the k-th and (k+1)-th of them (the paper's x_k <= x <= x_{k+1}).
Near the border the stencil shifts inwards, s = clamp(c-k+1, 0, N-2k+1), so that every vertex is
in the grid 0..N (no extrapolation, the polynomial stays one-sided there); that needs N >= 2k-1,
which the configs check. The basis is evaluated at u = pos - s in [0, 2k-1] with nodes 0..2k-1.

These helpers have the interface of gpu.hashing.grid_helpers (cell_corners, corner_weight,
corner_weight_grad, ...), with the per-axis weights held in a vector of 3*2k entries (axis d's
weights at d*2k .. d*2k+2k-1) instead of a vec3 of upper-vertex weights.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import warp as wp

from fieldscope.gpu.hashing import LINEAR, Levels, grid_helpers


@cache
def stencil_helpers(dims: int, k: int) -> SimpleNamespace:
    """wp.func helpers for D = dims and Lagrange order 2k-1 (inside and corner_row are the linear
    grid_helpers' of the same D)."""
    base = grid_helpers(dims, LINEAR)
    support = 2 * k
    points = support**dims
    weights_len = 3 * support

    @wp.func
    def no_weights():
        return wp.vector(0.0, length=wp.static(weights_len), dtype=float)

    @wp.func
    def basis(u: float):
        """Lagrange basis L_j(u) on nodes 0..2k-1 and their derivatives dL_j/du (vectors of 2k)."""
        w = wp.vector(0.0, length=wp.static(support), dtype=float)
        dw = wp.vector(0.0, length=wp.static(support), dtype=float)
        for j in range(wp.static(support)):
            num = float(1.0)
            den = float(1.0)
            slope = float(0.0)
            for m in range(wp.static(support)):
                if m != j:
                    den = den * float(j - m)
                    # product rule: slope of prod over m' < m, times (u - m), plus that product
                    slope = slope * (u - float(m)) + num
                    num = num * (u - float(m))
            w[j] = num / den
            dw[j] = slope / den
        return w, dw

    @wp.func
    def locate(x: wp.array2d(dtype=float), i: int, res: int):
        """First stencil vertex per axis of x[i] (clamped to [0,1]^D), and the per-axis weights and
        their derivatives with respect to pos = N*x."""
        first = wp.vec3i(0)
        w = no_weights()
        dw = no_weights()
        for d in range(wp.static(dims)):
            pos = wp.clamp(x[i, d], 0.0, 1.0) * float(res)
            c = wp.min(int(wp.floor(pos)), res - 1)
            s = wp.clamp(c - wp.static(k - 1), 0, res - wp.static(support - 1))
            first[d] = s
            wa, dwa = basis(pos - float(s))
            for j in range(wp.static(support)):
                w[d * wp.static(support) + j] = wa[j]
                dw[d * wp.static(support) + j] = dwa[j]
        return first, w, dw

    @wp.func
    def digit(corner: int, d: int):
        """Stencil offset along axis d of stencil point `corner` (0..2k-1, axis 0 fastest)."""
        r = corner
        for _e in range(d):
            r = r / wp.static(support)
        return r % wp.static(support)

    @wp.func
    def corner_weight(w: Any, corner: int):
        """Weight of a stencil point: the product of its per-axis Lagrange weights."""
        out = float(1.0)
        for d in range(wp.static(dims)):
            out = out * w[d * wp.static(support) + digit(corner, d)]
        return out

    @wp.func
    def corner_weight_grad(w: Any, dw: Any, corner: int):
        """Gradient of corner_weight with respect to pos = N*x, per axis."""
        g = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            gd = float(1.0)
            for e in range(wp.static(dims)):
                j = e * wp.static(support) + digit(corner, e)
                if e == d:
                    gd = gd * dw[j]
                else:
                    gd = gd * w[j]
            g[d] = gd
        return g

    @wp.func
    def cell_corners(x: wp.array2d(dtype=float), i: int, levels: Levels, lvl: int):
        """As grid_helpers' cell_corners: the rows of the (2k)^D stencil vertices (level offset
        included), and the per-axis weights and derivatives."""
        res = levels.resolution[lvl]
        first, w, dw = locate(x, i, res)
        rows = wp.vector(0, length=wp.static(points), dtype=int)
        table_mask = wp.uint32(levels.table_size - 1)
        for c in range(wp.static(points)):
            vertex = wp.vec3i(0)
            for d in range(wp.static(dims)):
                vertex[d] = first[d] + digit(c, d)
            rows[c] = levels.offset[lvl] + base.corner_row(vertex, 0, res, levels.hashed[lvl], table_mask)
        return rows, w, dw

    return SimpleNamespace(
        corners=points,
        no_weights=no_weights,
        cell_corners=cell_corners,
        inside=base.inside,
        corner_weight=corner_weight,
        corner_weight_grad=corner_weight_grad,
        corner_row=base.corner_row,
    )
