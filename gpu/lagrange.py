"""Lagrange multi-sampling (HashEncoding, Zhornyak et al., sec. 3.3.2): per axis, a Lagrange
polynomial of order 2k-1 through 2k grid vertices, so (2k)^D vertices per point (k = 2: 16 in 2D,
64 in 3D); k = 1 is linear interpolation.

Stencil: a point at pos = N*x in cell c = min(floor(pos), N-1) uses vertices s .. s+2k-1 with
s = c-k+1, which puts it between the k-th and (k+1)-th of them (the paper's x_k <= x <= x_{k+1}).
Near the border the stencil shifts inwards, s = clamp(c-k+1, 0, N-2k+1), so that every vertex is
in the grid 0..N (no extrapolation, the polynomial stays one-sided there); that needs N >= 2k-1,
which the configs check. The basis is evaluated at u = pos - s in [0, 2k-1] with nodes 0..2k-1.

These helpers have the interface of gpu.hashing.grid_helpers (cell_corners, corner_weight,
corner_weight_grad, corner_grads, ...): cell_corners returns the stencil's rows, its (2k)^D
weights and the per-axis weights and their derivatives (locate: axis d's at d*2k .. d*2k+2k-1, their
derivatives 3*2k further); corner_grads, for the backward to the points, every weight's derivative
along each axis. Both are made once per point and level, separably: the innermost axis multiplies
products shared by the outer ones. The stencil is walked as D nested
loops of 2k, which Warp unrolls (it leaves loops of more than 16 iterations rolled: one loop over
the 64 points of a 3D stencil ran 20x slower than linear).
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
    axes_len = 2 * 3 * support  # per-axis weights, then their derivatives
    slopes = 3 * support  # where the derivatives start

    @wp.func
    def no_weights():
        return wp.vector(0.0, length=wp.static(points), dtype=float)

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
        their derivatives with respect to pos = N*x (one vector, see the module's docstring)."""
        first = wp.vec3i(0)
        axes = wp.vector(0.0, length=wp.static(axes_len), dtype=float)
        for d in range(wp.static(dims)):
            pos = wp.clamp(x[i, d], 0.0, 1.0) * float(res)
            c = wp.min(int(wp.floor(pos)), res - 1)
            s = wp.clamp(c - wp.static(k - 1), 0, res - wp.static(support - 1))
            first[d] = s
            wa, dwa = basis(pos - float(s))
            for j in range(wp.static(support)):
                axes[d * wp.static(support) + j] = wa[j]
                axes[wp.static(slopes) + d * wp.static(support) + j] = dwa[j]
        return first, axes

    @wp.func
    def corner_weight(weights: Any, corner: int):
        """Weight of a stencil point (cell_corners made them all)."""
        return weights[corner]

    @wp.func
    def corner_weight_grad(weights: Any, grads: Any, corner: int):
        """Gradient of a stencil point's weight with respect to pos = N*x, per axis (from
        corner_grads)."""
        return wp.vec3(grads[corner], grads[wp.static(points) + corner], grads[wp.static(2 * points) + corner])

    @wp.func
    def cell_corners(x: wp.array2d(dtype=float), i: int, levels: Levels, lvl: int):
        """As grid_helpers' cell_corners: the rows of the (2k)^D stencil vertices (level offset
        included), their weights, and the per-axis weights and derivatives (see locate)."""
        res = levels.resolution[lvl]
        first, axes = locate(x, i, res)
        rows = wp.vector(0, length=wp.static(points), dtype=int)
        weights = wp.vector(0.0, length=wp.static(points), dtype=float)
        table_mask = wp.uint32(levels.table_size - 1)
        hashed = levels.hashed[lvl]
        offset = levels.offset[lvl]
        for c2 in range(wp.static(support if dims == 3 else 1)):
            w2 = float(1.0)
            if wp.static(dims == 3):
                w2 = axes[wp.static(2 * support) + c2]
            for c1 in range(wp.static(support)):
                w12 = w2 * axes[wp.static(support) + c1]
                for c0 in range(wp.static(support)):
                    c = c0 + wp.static(support) * (c1 + wp.static(support) * c2)
                    weights[c] = w12 * axes[c0]
                    vertex = wp.vec3i(first[0] + c0, first[1] + c1, first[2] + c2)
                    rows[c] = offset + base.corner_row(vertex, 0, res, hashed, table_mask)
        return rows, weights, axes

    @wp.func
    def corner_grads(weights: Any, axes: Any):
        """Every stencil point's weight derivatives along each axis (axis d's at d*(2k)^D ..),
        separably from the per-axis weights of cell_corners."""
        grads = wp.vector(0.0, length=wp.static(3 * points), dtype=float)
        for c2 in range(wp.static(support if dims == 3 else 1)):
            w2 = float(1.0)
            dw2 = float(0.0)
            if wp.static(dims == 3):
                w2 = axes[wp.static(2 * support) + c2]
                dw2 = axes[wp.static(slopes + 2 * support) + c2]
            for c1 in range(wp.static(support)):
                w1 = axes[wp.static(support) + c1]
                w12 = w2 * w1
                w1_dw2 = w1 * dw2  # the product without axis 0, derived along axis 2
                dw1_w2 = axes[wp.static(slopes + support) + c1] * w2  # ... along axis 1
                for c0 in range(wp.static(support)):
                    c = c0 + wp.static(support) * (c1 + wp.static(support) * c2)
                    w0 = axes[c0]
                    grads[c] = w12 * axes[wp.static(slopes) + c0]
                    grads[wp.static(points) + c] = dw1_w2 * w0
                    grads[wp.static(2 * points) + c] = w1_dw2 * w0
        return grads

    return SimpleNamespace(
        corners=points,
        no_weights=no_weights,
        cell_corners=cell_corners,
        inside=base.inside,
        corner_weight=corner_weight,
        corner_weight_grad=corner_weight_grad,
        corner_grads=corner_grads,
        corner_row=base.corner_row,
    )
