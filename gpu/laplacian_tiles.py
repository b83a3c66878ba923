"""The Laplacian-block field's training pass on the CPU, TILE samples at a time.

Same contract and weight-row layout as `laplacian_blocks.fit` (see that module's doc): one thread per
block, forward and backward fused. The difference is the order of the work: a thread carries the
activations of TILE samples as (units, TILE) matrices, so each weight is loaded once per tile and
multiplies a vector along the samples, the sine is vector arithmetic too (`sincos_tile`), and the
weight gradient is added to memory once per tile instead of once per sample. The compiler turns
those vector operations into SIMD instructions, which it did not for the per-sample kernel's loops:
a full pass over a 1-megapixel image's 1365 blocks (4 scales, 4 layers of 20) takes ~0.25 s on the
2 CPU cores here against ~0.9 s. On CUDA the per-sample kernel stays (a tile per thread would spill
its registers).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import warp as wp

from fieldscope.gpu import runtime

#: Samples a thread carries through the MLP together (16: one AVX-512 register of float32; measured
#: 12% faster than 8 on a full pass, 4 twice as slow).
TILE = 16
_ROUND = 12582912.0  # 1.5 * 2^23: (y + _ROUND) - _ROUND rounds y to an integer for |y| < 2^22


@wp.func
def sincos_tile(x: Any):
    """sin and cos of a (TILE,) vector with vector arithmetic only (no integers or branches, so that
    every step is one SIMD operation): reduction by pi in three parts, x = k pi + r with |r| <= pi/2,
    then Taylor polynomials (degree 11 and 12: truncation under 6e-8 on [-pi/2, pi/2]) and the sign
    (-1)^k. Absolute error under 2e-7 for |x| < 1e4 (tested against float64)."""
    one = wp.vector(1.0, length=TILE, dtype=float)
    big = one * _ROUND
    k = (x * 0.31830988618379067 + big) - big
    r = ((x - k * 3.140625) - k * 9.677410125732422e-4) + k * 8.742277657347586e-8
    half = (k * 0.5 + big) - big
    odd = k - half * 2.0
    sign = one - wp.cw_mul(odd, odd) * 2.0
    z = wp.cw_mul(r, r)
    p = one * (1.0 / 362880.0) - z * (1.0 / 39916800.0)
    p = wp.cw_mul(p, z) - one * (1.0 / 5040.0)
    p = wp.cw_mul(p, z) + one * (1.0 / 120.0)
    p = wp.cw_mul(p, z) - one * (1.0 / 6.0)
    s = r + wp.cw_mul(wp.cw_mul(p, z), r)
    q = z * (1.0 / 479001600.0) - one * (1.0 / 3628800.0)
    q = wp.cw_mul(q, z) + one * (1.0 / 40320.0)
    q = wp.cw_mul(q, z) - one * (1.0 / 720.0)
    q = wp.cw_mul(q, z) + one * (1.0 / 24.0)
    q = wp.cw_mul(q, z) - one * 0.5
    c = wp.cw_mul(q, z) + one
    return wp.cw_mul(sign, s), wp.cw_mul(sign, c)


@cache
def tiled_fit_kernel(dims: int, hidden: int, layers: int, out_dims: int) -> wp.Kernel:
    """The fused fit kernel for D = dims, H = hidden, L = layers (>= 2), C = out_dims."""
    sines = layers - 1
    mids = layers - 2
    first_size = hidden * (dims + 1)
    mid_size = hidden * (hidden + 1)
    out_w = first_size + mids * mid_size
    out_b = out_w + out_dims * hidden

    @wp.func
    def sine_rows(z: Any, omega: float):
        """sin(omega z) and omega cos(omega z) of a (TILE,) vector."""
        sn, cs = sincos_tile(omega * z)
        return sn, omega * cs

    @wp.func
    def tile_forward(w: wp.array2d(dtype=float), row: int, u: Any, omega: float):
        """The block MLP at the tile's local coordinates u (D rows of TILE): per sine layer l its
        outputs and slopes as rows l * H + unit of (L-1) * H x TILE matrices, and y (C x TILE)."""
        act = wp.matrix(0.0, shape=(wp.static(sines * hidden), TILE), dtype=float)
        slope = wp.matrix(0.0, shape=(wp.static(sines * hidden), TILE), dtype=float)
        for r in range(wp.static(hidden)):
            z = wp.vector(w[row, dims * hidden + r], length=TILE, dtype=float)
            for d in range(wp.static(dims)):
                z += w[row, d * hidden + r] * u[d]
            sn, cs = sine_rows(z, omega)
            act[r] = sn
            slope[r] = cs
        for m in range(wp.static(mids)):
            base = first_size + m * mid_size
            for r in range(wp.static(hidden)):
                z = wp.vector(w[row, base + hidden * hidden + r], length=TILE, dtype=float)
                for k in range(wp.static(hidden)):
                    z += w[row, base + k * hidden + r] * act[m * hidden + k]
                sn, cs = sine_rows(z, omega)
                act[(m + 1) * hidden + r] = sn
                slope[(m + 1) * hidden + r] = cs
        y = wp.matrix(0.0, shape=(wp.static(out_dims), TILE), dtype=float)
        for c in range(wp.static(out_dims)):
            z = wp.vector(w[row, out_b + c], length=TILE, dtype=float)
            for k in range(wp.static(hidden)):
                z += w[row, out_w + k * out_dims + c] * act[(sines - 1) * hidden + k]
            y[c] = z
        return act, slope, y

    @wp.func
    def tile_backprop(w: wp.array2d(dtype=float), row: int, u: Any, act: Any, slope: Any, g: Any, grad_w: Any):
        """Add the weight gradient of sum_t <g[:, t], MLP(u[:, t])> (g: C x TILE) to grad_w[row]."""
        top = (sines - 1) * hidden
        delta = wp.matrix(0.0, shape=(wp.static(hidden), TILE), dtype=float)
        for c in range(wp.static(out_dims)):
            grad_w[row, out_b + c] += wp.dot(g[c], wp.vector(1.0, length=TILE, dtype=float))
        for k in range(wp.static(hidden)):
            a = act[top + k]
            s = wp.vector(0.0, length=TILE, dtype=float)
            for c in range(wp.static(out_dims)):
                grad_w[row, out_w + k * out_dims + c] += wp.dot(a, g[c])
                s += w[row, out_w + k * out_dims + c] * g[c]
            delta[k] = s
        dz = wp.matrix(0.0, shape=(wp.static(hidden), TILE), dtype=float)
        for mm in range(wp.static(mids)):
            m = wp.static(mids) - 1 - mm
            base = first_size + m * mid_size
            for r in range(wp.static(hidden)):
                dz[r] = wp.cw_mul(delta[r], slope[(m + 1) * hidden + r])
                grad_w[row, base + hidden * hidden + r] += wp.dot(dz[r], wp.vector(1.0, length=TILE, dtype=float))
            dz_t = wp.transpose(dz)
            for k in range(wp.static(hidden)):
                a = act[m * hidden + k]
                s = wp.vector(0.0, length=TILE, dtype=float)
                for r in range(wp.static(hidden)):
                    s += w[row, base + k * hidden + r] * dz[r]
                delta[k] = s
                gk = wp.vector(0.0, length=wp.static(hidden), dtype=float)
                for t in range(TILE):
                    gk += a[t] * dz_t[t]
                for r in range(wp.static(hidden)):
                    grad_w[row, base + k * hidden + r] += gk[r]
        for r in range(wp.static(hidden)):
            d0 = wp.cw_mul(delta[r], slope[r])
            grad_w[row, dims * hidden + r] += wp.dot(d0, wp.vector(1.0, length=TILE, dtype=float))
            for d in range(wp.static(dims)):
                grad_w[row, d * hidden + r] += wp.dot(u[d], d0)

    # max_unroll 1: unrolled loops over the units (Warp unrolls up to 16) make a large hidden width
    # compile for minutes, and the vector operations inside them need no unrolling.
    @wp.kernel(enable_backward=False, module="unique", module_options={"max_unroll": 1})
    def fit_blocks_tiled(
        w: wp.array2d(dtype=float),
        grid: wp.array2d(dtype=float),
        target: wp.array3d(dtype=float),
        weight: wp.array2d(dtype=float),
        omega: float,
        grad_w: wp.array2d(dtype=float),
        sse: wp.array(dtype=float),
        pred: wp.array3d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        b = wp.tid() * slice_stride + slice_start
        samples = grid.shape[0]
        total = float(0.0)
        for first in range(0, samples, TILE):
            # A short last tile repeats its last sample with loss weight 0 (adds nothing).
            u = wp.matrix(0.0, shape=(3, TILE), dtype=float)
            for t in range(TILE):
                i = wp.min(first + t, samples - 1)
                for d in range(wp.static(dims)):
                    u[d, t] = grid[i, d]
            act, slope, y = tile_forward(w, b, u, omega)
            g = wp.matrix(0.0, shape=(wp.static(out_dims), TILE), dtype=float)
            for t in range(TILE):
                i = first + t
                if i < samples:
                    k = weight[b, i]
                    for c in range(wp.static(out_dims)):
                        pred[b, i, c] = y[c, t]
                        r = y[c, t] - target[b, i, c]
                        total += k * r * r
                        g[c, t] = 2.0 * k * r
            tile_backprop(w, b, u, act, slope, g, grad_w)
        sse[b] = sse[b] + total

    return fit_blocks_tiled


def fit_tiled(
    w: wp.array,
    grid: wp.array,
    target: wp.array,
    weight: wp.array,
    mlp: tuple[int, int, int, int],
    omega: float,
    grad_w: wp.array,
    sse: wp.array,
    pred: wp.array,
) -> None:
    """`laplacian_blocks.fit` on the CPU: w (B, P), grid (S, D), target (B, S, C), weight (B, S) ->
    pred (B, S, C) written, d loss / d w added to grad_w (B, P), each block's loss added to sse (B,).
    Sliced by blocks over the cores (each thread owns its block's rows: no races)."""
    kernel = tiled_fit_kernel(*mlp)
    device = str(w.device)
    runtime.ensure_loaded(kernel, device)
    inputs = [w, grid, target, weight, omega, grad_w, sse, pred]
    runtime.launch_sliced(kernel, (w.shape[0],), 0, inputs, device, interleave=True, min_threads=2)
