"""Warp kernels of the Laplacian-block field (MINER): every block of every scale that has an MLP owns a
tiny SIREN (sine activations) evaluated on block-local coordinates; the field is the sum over scales.

Layout (shared with fields/kinds/laplacian_blocks/field.py):
- x: (N, D) float32 points in [0,1]^D (clamped).
- weights: (R, P) float32, one row per block that has an MLP. A row packs the L linear layers in
  order, each as W (fan_in x fan_out, row-major, as MINER's bmm layout: y = a W + b) then b
  (fan_out): layer 0 is D -> H, layers 1..L-2 are H -> H, each followed by sin(omega * .);
  layer L-1 is H -> C and linear.
- geometry: slots (sum_j Q_j,) int32, the weight row of every block of every scale (scale j's
  blocks start at slot_offset[j]; block index kx + nx * (ky + ny * kz)), -1 where a block has no
  MLP (pruned or its scale not started); blocks (J, 3) int32 blocks per axis; inv_extent (J, 3)
  float32, blocks per unit of coordinate; mask (J,) int32 (0 turns a scale off); samples (J, 3)
  int32, the scale's samples per axis inside the signal (ceil(S_d / 2^j)); sample_scale (J, 3)
  float32, samples per unit of coordinate (S_d / 2^j); side: samples per block side.
- Block of x at scale j: p = x_d * inv_extent[j, d], k_d = min(floor(p), blocks[j, d] - 1); local
  coordinate u_d = 2 * (p - k_d) - 1, in [-1, 1) inside the block.
- MINER's Laplacian pyramid with U2 (Eq. 2-4): the reconstruction at scale j is the residual MLPs
  of scale j plus the bilinear 2x upsampling U2 of the reconstruction at scale j+1 (sample m of
  scale j sits at (m + 1/2) / 2 - 1/2 samples of scale j+1, as torch's interpolate with
  align_corners=False; the edges repeat). The field at x is the reconstruction at the top scale
  t (the finest that is on, or given): the MLP of x's block at scale t, plus, per coarser scale,
  the MLPs at that scale's samples weighted by the composed U2 weights. Those weights factor
  per axis and cover at most 2 samples at scale t+1 and 3 at the coarser ones (a window), so x
  needs 1 + 2^D + 3^D (J - t - 2) MLP evaluations. A scale that is off adds no residual but its
  U2 still passes the coarser ones on.

The forward is sliced by points. The weight gradient is reduced per block: the caller sorts the
(point, block) pairs by weight row into segments, and a thread walks one segment and adds into its
own row, so concurrent CPU launches (sliced by segments) never write the same memory. On CUDA
the caller may cut long segments into pieces; their adds then go through hardware atomics.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import warp as wp

from fieldscope.gpu import laplacian_tiles, runtime

#: Points each forward thread evaluates in a row.
POINTS_PER_THREAD = 32


def row_length(dims: int, hidden: int, layers: int, out_dims: int) -> int:
    """Floats in one block's weight row: sum over layers of fan_out * (fan_in + 1)."""
    return hidden * (dims + 1) + (layers - 2) * hidden * (hidden + 1) + out_dims * (hidden + 1)


@wp.func
def sincos(x: float):
    """sin(x) and cos(x) in float32 without branches (so that loops over them vectorise): Cody-Waite
    reduction by pi/2 in three parts, then Cephes' minimax polynomials on [-pi/4, pi/4]. Absolute
    error under 1e-7 for |x| < 1e4 (measured against float64; libm's sinf is as close)."""
    k = wp.round(x * 0.63661977236758134)
    r = ((x - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8
    z = r * r
    s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r
    c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0
    q = int(k) & 3
    sin_x = wp.where(q == 0, s, wp.where(q == 1, c, wp.where(q == 2, -s, -c)))
    cos_x = wp.where(q == 0, c, wp.where(q == 1, -s, wp.where(q == 2, -c, s)))
    return sin_x, cos_x


@wp.func
def first_window(x: wp.array2d(dtype=float), i: int, samples: Any, sample_scale: Any, j: int):
    """U2 weights of point x[i] over the samples of scale j (the scale under the top one): per axis d
    the first sample base[d] and the weights win[d, 0..2] of samples base[d] + 0..2."""
    base = wp.vec3i(0)
    win = wp.mat33(0.0)
    for d in range(3):
        win[d, 0] = 1.0
    for d in range(x.shape[1]):
        s = wp.clamp(wp.clamp(x[i, d], 0.0, 1.0) * sample_scale[j, d] - 0.5, 0.0, float(samples[j, d] - 1))
        lo = int(wp.floor(s))
        f = s - float(lo)
        base[d] = lo
        win[d, 0] = 1.0 - f
        win[d, 1] = f
    return base, win


@wp.func
def next_window(base: wp.vec3i, win: wp.mat33, samples: Any, j: int):
    """The window one scale coarser (scale j): U2 applied to the weights of samples base + 0..2."""
    out_base = wp.vec3i(0)
    out = wp.mat33(0.0)
    for d in range(3):
        n = samples[j, d]
        first = int(0)
        for e in range(3):
            s = wp.clamp(float(base[d] + e) * 0.5 - 0.25, 0.0, float(n - 1))
            lo = int(wp.floor(s))
            f = s - float(lo)
            if e == 0:
                first = lo
            hi = wp.min(lo + 1, n - 1)
            out[d, lo - first] = out[d, lo - first] + win[d, e] * (1.0 - f)
            out[d, hi - first] = out[d, hi - first] + win[d, e] * f
        out_base[d] = first
    return out_base, out


@wp.func
def window_entry(base: wp.vec3i, win: wp.mat33, e: int):
    """Entry e of the window's 3^D product (axis x fastest): the sample index and its weight."""
    m = wp.vec3i(0)
    weight = float(1.0)
    rest = e
    for d in range(3):
        k = rest % 3
        rest = rest // 3
        m[d] = base[d] + k
        weight *= win[d, k]
    return m, weight


@cache
def kernels(dims: int, hidden: int, layers: int, out_dims: int) -> SimpleNamespace:
    """Forward and weight-gradient kernels for D = dims, H = hidden, L = layers (>= 2), C = out_dims.

    Loops run over whole layers (all H units at once, weights contiguous along the units) and the
    sine is branch-free, so that the compiler vectorises them on the CPU.
    """
    sines = layers - 1  # layers followed by a sine
    mids = layers - 2  # H -> H layers
    first_size = hidden * (dims + 1)
    mid_size = hidden * (hidden + 1)
    out_w = first_size + mids * mid_size
    out_b = out_w + out_dims * hidden

    @wp.func
    def locate(
        x: wp.array2d(dtype=float), i: int, j: int, blocks: wp.array2d(dtype=int), inv_extent: wp.array2d(dtype=float)
    ):
        """Block index of x[i] at scale j, and its local coordinates in [-1, 1)."""
        block = int(0)
        stride = int(1)
        u = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            p = wp.clamp(x[i, d], 0.0, 1.0) * inv_extent[j, d]
            k = wp.min(int(wp.floor(p)), blocks[j, d] - 1)
            u[d] = 2.0 * (p - float(k)) - 1.0
            block += k * stride
            stride *= blocks[j, d]
        return block, u

    @wp.func
    def sine_layer(z: Any, a: Any, w: wp.array2d(dtype=float), row: int, base: int, omega: float):
        """z = a W + b for one H -> H layer at `base` (W fan_in x fan_out, then b); returns sin(omega z)."""
        for r in range(wp.static(hidden)):
            z[r] = w[row, base + hidden * hidden + r]
        for k in range(wp.static(hidden)):
            ak = a[k]
            for r in range(wp.static(hidden)):
                z[r] += w[row, base + k * hidden + r] * ak
        out = wp.vector(0.0, length=wp.static(hidden), dtype=float)
        for r in range(wp.static(hidden)):
            sn, _cs = sincos(omega * z[r])
            out[r] = sn
        return out

    @wp.func
    def first_pre(w: wp.array2d(dtype=float), row: int, u: wp.vec3):
        """Pre-activations (H,) of layer 0 at local coordinates u."""
        z = wp.vector(0.0, length=wp.static(hidden), dtype=float)
        for r in range(wp.static(hidden)):
            z[r] = w[row, dims * hidden + r]
        for d in range(wp.static(dims)):
            for r in range(wp.static(hidden)):
                z[r] += w[row, d * hidden + r] * u[d]
        return z

    @wp.func
    def evaluate(w: wp.array2d(dtype=float), row: int, u: wp.vec3, omega: float):
        """The block MLP of weight row `row` at local coordinates u -> (C,) outputs."""
        z = first_pre(w, row, u)
        a = wp.vector(0.0, length=wp.static(hidden), dtype=float)
        for r in range(wp.static(hidden)):
            sn, _cs = sincos(omega * z[r])
            a[r] = sn
        for m in range(wp.static(mids)):
            a = sine_layer(z, a, w, row, first_size + m * mid_size, omega)
        y = wp.vector(0.0, length=wp.static(out_dims), dtype=float)
        for c in range(wp.static(out_dims)):
            y[c] = w[row, out_b + c]
        for k in range(wp.static(hidden)):
            ak = a[k]
            for c in range(wp.static(out_dims)):
                y[c] += w[row, out_w + k * out_dims + c] * ak
        return y

    @wp.func
    def sample_block(
        m: wp.vec3i, j: int, side: int, slots: wp.array(dtype=int), slot_offset: wp.array(dtype=int), blocks: Any
    ):
        """Weight row of the block holding sample m of scale j, and the sample's local coordinates."""
        block = int(0)
        stride = int(1)
        u = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            k = m[d] // side
            u[d] = (2.0 * float(m[d] - k * side) + 1.0) / float(side) - 1.0
            block += k * stride
            stride *= blocks[j, d]
        return slots[slot_offset[j] + block], u

    @wp.kernel(enable_backward=False, module="unique")
    def evaluate_blocks_forward(
        x: wp.array2d(dtype=float),
        w: wp.array2d(dtype=float),
        slots: wp.array(dtype=int),
        slot_offset: wp.array(dtype=int),
        blocks: wp.array2d(dtype=int),
        inv_extent: wp.array2d(dtype=float),
        mask: wp.array(dtype=int),
        samples: wp.array2d(dtype=int),
        sample_scale: wp.array2d(dtype=float),
        side: int,
        top: int,
        omega: float,
        out: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        q = wp.tid()
        first = (q * slice_stride + slice_start) * POINTS_PER_THREAD
        last = wp.min(first + POINTS_PER_THREAD, x.shape[0])
        scales = mask.shape[0]
        for i in range(first, last):
            acc = wp.vector(0.0, length=wp.static(out_dims), dtype=float)
            if mask[top] != 0:
                block, u = locate(x, i, top, blocks, inv_extent)
                row = slots[slot_offset[top] + block]
                if row >= 0:
                    acc += evaluate(w, row, u, omega)
            if top + 1 < scales:
                base, win = first_window(x, i, samples, sample_scale, top + 1)
                for j in range(top + 1, scales):
                    if mask[j] != 0:
                        for e in range(wp.static(3**dims)):
                            m, weight = window_entry(base, win, e)
                            if weight != 0.0:
                                row, u = sample_block(m, j, side, slots, slot_offset, blocks)
                                if row >= 0:
                                    acc += weight * evaluate(w, row, u, omega)
                    if j + 1 < scales:
                        base, win = next_window(base, win, samples, j + 1)
            for c in range(wp.static(out_dims)):
                out[i, c] = acc[c]

    @wp.func
    def forward_kept(w: wp.array2d(dtype=float), row: int, u: wp.vec3, omega: float):
        """The block MLP at u keeping, per sine layer (rows), its output and omega * cos(omega z);
        returns (outputs, slopes, y (C,))."""
        act = wp.matrix(0.0, shape=(wp.static(sines), wp.static(hidden)), dtype=float)
        slope = wp.matrix(0.0, shape=(wp.static(sines), wp.static(hidden)), dtype=float)
        z = first_pre(w, row, u)
        for r in range(wp.static(hidden)):
            sn, cs = sincos(omega * z[r])
            act[0, r] = sn
            slope[0, r] = omega * cs
        for m in range(wp.static(mids)):
            base = first_size + m * mid_size
            for r in range(wp.static(hidden)):
                z[r] = w[row, base + hidden * hidden + r]
            for k in range(wp.static(hidden)):
                ak = act[m, k]
                for r in range(wp.static(hidden)):
                    z[r] += w[row, base + k * hidden + r] * ak
            for r in range(wp.static(hidden)):
                sn, cs = sincos(omega * z[r])
                act[m + 1, r] = sn
                slope[m + 1, r] = omega * cs
        y = wp.vector(0.0, length=wp.static(out_dims), dtype=float)
        for c in range(wp.static(out_dims)):
            y[c] = w[row, out_b + c]
        for k in range(wp.static(hidden)):
            ak = act[sines - 1, k]
            for c in range(wp.static(out_dims)):
                y[c] += w[row, out_w + k * out_dims + c] * ak
        return act, slope, y

    @wp.func
    def backprop(
        w: wp.array2d(dtype=float),
        row: int,
        u: wp.vec3,
        act: Any,
        slope: Any,
        g: Any,
        grad_w: wp.array2d(dtype=float),
        grad_row: int,
    ):
        """Add the weight gradient of <g, MLP(u)> (g: (C,) cotangent) to grad_w[grad_row]."""
        for c in range(wp.static(out_dims)):
            grad_w[grad_row, out_b + c] += g[c]
        delta = wp.vector(0.0, length=wp.static(hidden), dtype=float)
        for k in range(wp.static(hidden)):
            ak = act[sines - 1, k]
            s = float(0.0)
            for c in range(wp.static(out_dims)):
                grad_w[grad_row, out_w + k * out_dims + c] += ak * g[c]
                s += w[row, out_w + k * out_dims + c] * g[c]
            delta[k] = s
        dz = wp.vector(0.0, length=wp.static(hidden), dtype=float)
        for mm in range(wp.static(mids)):
            m = wp.static(mids) - 1 - mm
            base = first_size + m * mid_size
            for r in range(wp.static(hidden)):
                dz[r] = delta[r] * slope[m + 1, r]
                grad_w[grad_row, base + hidden * hidden + r] += dz[r]
            for k in range(wp.static(hidden)):
                ak = act[m, k]
                s = float(0.0)
                for r in range(wp.static(hidden)):
                    grad_w[grad_row, base + k * hidden + r] += ak * dz[r]
                    s += w[row, base + k * hidden + r] * dz[r]
                delta[k] = s
        for r in range(wp.static(hidden)):
            dz[r] = delta[r] * slope[0, r]
            grad_w[grad_row, dims * hidden + r] += dz[r]
        for d in range(wp.static(dims)):
            for r in range(wp.static(hidden)):
                grad_w[grad_row, d * hidden + r] += u[d] * dz[r]

    @wp.kernel(enable_backward=False, module="unique")
    def evaluate_blocks_backward(
        w: wp.array2d(dtype=float),
        omega: float,
        order: wp.array(dtype=int),
        local: wp.array2d(dtype=float),
        weight: wp.array(dtype=float),
        seg_row: wp.array(dtype=int),
        seg_start: wp.array(dtype=int),
        grad_out: wp.array2d(dtype=float),
        grad_w: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        seg = wp.tid() * slice_stride + slice_start
        row = seg_row[seg]
        g = wp.vector(0.0, length=wp.static(out_dims), dtype=float)
        for e in range(seg_start[seg], seg_start[seg + 1]):
            i = order[e]
            u = wp.vec3(0.0)
            for d in range(wp.static(dims)):
                u[d] = local[e, d]
            act, slope, _y = forward_kept(w, row, u, omega)
            for c in range(wp.static(out_dims)):
                g[c] = weight[e] * grad_out[i, c]
            backprop(w, row, u, act, slope, g, grad_w, row)

    @wp.kernel(enable_backward=False, module="unique")
    def fit_blocks(
        w: wp.array2d(dtype=float),
        grid: wp.array2d(dtype=float),
        target: wp.array3d(dtype=float),
        weight: wp.array2d(dtype=float),
        omega: float,
        pieces: int,
        grad_w: wp.array2d(dtype=float),
        sse: wp.array(dtype=float),
        pred: wp.array3d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        b, piece = wp.tid()
        b = b * slice_stride + slice_start
        samples = grid.shape[0]
        first = piece * samples // pieces
        last = (piece + 1) * samples // pieces
        g = wp.vector(0.0, length=wp.static(out_dims), dtype=float)
        total = float(0.0)
        for i in range(first, last):
            u = wp.vec3(0.0)
            for d in range(wp.static(dims)):
                u[d] = grid[i, d]
            act, slope, y = forward_kept(w, b, u, omega)
            k = weight[b, i]
            for c in range(wp.static(out_dims)):
                pred[b, i, c] = y[c]
                r = y[c] - target[b, i, c]
                total += k * r * r
                g[c] = 2.0 * k * r
            backprop(w, b, u, act, slope, g, grad_w, b)
        wp.atomic_add(sse, b, total)

    return SimpleNamespace(forward=evaluate_blocks_forward, backward=evaluate_blocks_backward, fit=fit_blocks)


def _geometry(g: dict[str, wp.array]) -> list[wp.array]:
    names = ("slots", "slot_offset", "blocks", "inv_extent", "mask", "samples", "sample_scale")
    return [g[name] for name in names]


def forward(
    x: wp.array,
    w: wp.array,
    geometry: dict[str, wp.array],
    mlp: tuple[int, int, int, int],
    omega: float,
    out: wp.array,
    side: int,
    top: int,
) -> None:
    """Evaluate the field: x (N, D), weights (R, P) -> out (N, C), overwritten: the reconstruction at
    scale `top` (see the module doc).

    geometry: warp arrays named slots, slot_offset, blocks, inv_extent, mask, samples, sample_scale;
    mlp: (D, H, L, C); side: samples per block side.
    """
    kernel = kernels(*mlp).forward
    device = str(x.device)
    runtime.ensure_loaded(kernel, device)
    threads = -(-x.shape[0] // POINTS_PER_THREAD)
    inputs = [x, w, *_geometry(geometry), side, top, omega, out]
    runtime.launch_sliced(kernel, (threads,), 0, inputs, device, min_threads=64)


def backward(
    w: wp.array,
    mlp: tuple[int, int, int, int],
    omega: float,
    segments: dict[str, wp.array],
    grad_out: wp.array,
    grad_w: wp.array,
) -> None:
    """Add d loss / d weights (R, P) to grad_w from grad_out (N, C).

    segments: the forward's (point, block) entries grouped by weight row, as warp arrays: order (E,)
    point indices, local (E, D) the block-local coordinates the MLP was evaluated at, weight (E,)
    its U2 weight, row (S,) and start (S+1,) (segment s covers entries start[s]:start[s+1]). On the
    CPU no two segments may share a row; on CUDA they may (atomic adds).
    """
    kernel = kernels(*mlp).backward
    device = str(w.device)
    runtime.ensure_loaded(kernel, device)
    names = ("order", "local", "weight", "row", "start")
    inputs = [w, omega, *(segments[name] for name in names), grad_out, grad_w]
    runtime.launch_sliced(kernel, (segments["row"].shape[0],), 0, inputs, device, interleave=True, min_threads=2)


def fit(
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
    """Training on whole blocks, forward and backward in one pass: block b (weight row b of w (B, P))
    at its samples' local coordinates grid (S, D), against target (B, S, C) with per-sample loss
    weights weight (B, S). Writes the MLPs' outputs to pred (B, S, C), adds d loss / d w to grad_w
    (B, P) and each block's loss to sse (B,), for
    loss_b = sum_s weight[b, s] * |MLP_b(grid[s]) - target[b, s]|^2. Sliced by blocks on the CPU;
    on CUDA each block's samples are also cut into pieces (atomic adds); the CPU runs the tiled
    kernel of gpu/laplacian_tiles.py (same result, ~3.5x faster there)."""
    device = str(w.device)
    if device == "cpu":
        laplacian_tiles.fit_tiled(w, grid, target, weight, mlp, omega, grad_w, sse, pred)
        return
    kernel = kernels(*mlp).fit
    runtime.ensure_loaded(kernel, device)
    pieces = 1 if device == "cpu" else 16
    inputs = [w, grid, target, weight, omega, pieces, grad_w, sse, pred]
    runtime.launch_sliced(kernel, (w.shape[0], pieces), 0, inputs, device, interleave=True, min_threads=2)


@wp.kernel(enable_backward=False)
def step_adam_rows(
    w: wp.array2d(dtype=float),
    rows: wp.array(dtype=int),
    state: wp.array(dtype=int),
    grad: wp.array2d(dtype=float),
    m: wp.array2d(dtype=float),
    v: wp.array2d(dtype=float),
    steps: wp.array(dtype=int),
    lr: wp.array(dtype=float),
    beta1: float,
    beta2: float,
    eps: float,
    slice_start: int,
    slice_stride: int,
):
    b = wp.tid() * slice_stride + slice_start
    row = rows[b]
    k = state[b]
    t = steps[k] + 1
    steps[k] = t
    correct1 = 1.0 - wp.pow(beta1, float(t))
    correct2 = 1.0 - wp.pow(beta2, float(t))
    for p in range(w.shape[1]):
        g = grad[b, p]
        mp = beta1 * m[k, p] + (1.0 - beta1) * g
        vp = beta2 * v[k, p] + (1.0 - beta2) * g * g
        m[k, p] = mp
        v[k, p] = vp
        w[row, p] = w[row, p] - lr[b] * (mp / correct1) / (wp.sqrt(vp / correct2) + eps)


def adam_rows(
    w: wp.array,
    rows: wp.array,
    state: wp.array,
    grad: wp.array,
    m: wp.array,
    v: wp.array,
    steps: wp.array,
    lr: wp.array,
    betas: tuple[float, float],
    eps: float,
) -> None:
    """Adam on some rows of w (R, P), each with its own moments, step count and learning rate: row
    rows[b] gets grad[b] (B, P) at learning rate lr[b] (B,) and uses moments m, v (M, P) and steps
    (M,) at state[b]. Bias-corrected as in
    PyTorch's Adam. Sliced by rows (the caller passes distinct rows and states)."""
    device = str(w.device)
    runtime.ensure_loaded(step_adam_rows, device)
    inputs = [w, rows, state, grad, m, v, steps, lr, betas[0], betas[1], eps]
    runtime.launch_sliced(step_adam_rows, (rows.shape[0],), 0, inputs, device, min_threads=16)
