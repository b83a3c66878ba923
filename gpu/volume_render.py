"""Warp kernels of NeRF volume rendering (Instant-NGP style): marching rays through an occupancy grid,
compositing density and colour along each ray, its backward, and the mip-NeRF 360 distortion loss.

Layout (shared with fields/render/volume_rendering.py):
- rays: origins (R, 3) and unit directions (R, 3) in the unit cube's coordinates, jitter (R,) in
  [0, 1). Ray r's samples sit on the lattice t_k = (k + jitter_r) * dt of distances from its
  origin, inside [0,1]^3 and in occupied cells only. Skipping an empty cell jumps to the first
  lattice point past the cell, so the samples that remain are exactly those a march without
  skipping would take in occupied cells.
- occupied: (G^3,) uint8, cell (i, j, k) at (i * G + j) * G + k (x slowest).
- samples of ray r: indices offsets[r] .. offsets[r + 1] - 1 of the flat sample arrays, in order
  along the ray: t (S,) distances, dt (S,) interval lengths, sigma (S,) densities, rgb (S, 3).
- compositing stops at a ray's first sample whose transmittance before it is under `threshold`
  (0 keeps every sample); later samples get weight 0 and no gradient.

Every kernel is one thread per ray and ends with the slice parameters of gpu.runtime.launch_sliced;
a ray writes only its own outputs, so slices by rays never race.
"""

from __future__ import annotations

import warp as wp

from fieldscope.gpu import runtime

FAR = wp.constant(1.0e30)


@wp.func
def ray_box(o: wp.vec3, d: wp.vec3):
    """Entry and exit distances of a ray through [0,1]^3 (exit < entry when it misses)."""
    t0 = float(0.0)
    t1 = float(FAR)
    for a in range(3):
        if wp.abs(d[a]) > 1.0e-12:
            lo = (0.0 - o[a]) / d[a]
            hi = (1.0 - o[a]) / d[a]
            t0 = wp.max(t0, wp.min(lo, hi))
            t1 = wp.min(t1, wp.max(lo, hi))
        elif o[a] < 0.0 or o[a] > 1.0:
            t1 = -1.0
    return t0, t1


@wp.func
def cell_exit(o: wp.vec3, d: wp.vec3, cell: wp.vec3i, res: int) -> float:
    """Distance along the ray at which it leaves a grid cell."""
    t = float(FAR)
    size = 1.0 / float(res)
    for a in range(3):
        if d[a] > 1.0e-12:
            t = wp.min(t, ((float(cell[a]) + 1.0) * size - o[a]) / d[a])
        elif d[a] < -1.0e-12:
            t = wp.min(t, (float(cell[a]) * size - o[a]) / d[a])
    return t


@wp.kernel(enable_backward=False)
def march_rays(
    origins: wp.array2d(dtype=float),
    directions: wp.array2d(dtype=float),
    jitter: wp.array(dtype=float),
    occupied: wp.array(dtype=wp.uint8),
    res: int,
    dt: float,
    near: float,
    max_samples: int,
    write: int,
    offsets: wp.array(dtype=int),
    counts: wp.array(dtype=int),
    t_out: wp.array(dtype=float),
    slice_start: int,
    slice_stride: int,
):
    r = wp.tid() * slice_stride + slice_start
    o = wp.vec3(origins[r, 0], origins[r, 1], origins[r, 2])
    d = wp.vec3(directions[r, 0], directions[r, 1], directions[r, 2])
    t0, t1 = ray_box(o, d)
    t0 = wp.max(t0, near)
    j = jitter[r]
    n = int(0)
    k = int(wp.ceil(t0 / dt - j))
    base = int(0)
    if write != 0:
        base = offsets[r]
    while n < max_samples and t1 > t0:
        t = (float(k) + j) * dt
        if t >= t1:
            break
        p = o + t * d
        cell = wp.vec3i(0)
        for a in range(3):
            cell[a] = wp.clamp(int(wp.floor(p[a] * float(res))), 0, res - 1)
        if occupied[(cell[0] * res + cell[1]) * res + cell[2]] != wp.uint8(0):
            if write != 0:
                t_out[base + n] = t
            n += 1
            k += 1
        else:
            k = wp.max(k + 1, int(wp.ceil(cell_exit(o, d, cell, res) / dt - j)))
    counts[r] = n


@wp.kernel(enable_backward=False)
def composite_rays_forward(
    sigma: wp.array(dtype=float),
    rgb: wp.array2d(dtype=float),
    t: wp.array(dtype=float),
    dt: wp.array(dtype=float),
    offsets: wp.array(dtype=int),
    threshold: float,
    color: wp.array2d(dtype=float),
    opacity: wp.array(dtype=float),
    depth: wp.array(dtype=float),
    weights: wp.array(dtype=float),
    used: wp.array(dtype=int),
    slice_start: int,
    slice_stride: int,
):
    r = wp.tid() * slice_stride + slice_start
    transmittance = float(1.0)
    c = wp.vec3(0.0)
    acc = float(0.0)
    dep = float(0.0)
    n = int(0)
    for i in range(offsets[r], offsets[r + 1]):
        w = float(0.0)
        if transmittance >= threshold:
            keep = wp.exp(-sigma[i] * dt[i])
            w = transmittance * (1.0 - keep)
            c += w * wp.vec3(rgb[i, 0], rgb[i, 1], rgb[i, 2])
            acc += w
            dep += w * t[i]
            transmittance *= keep
            n += 1
        weights[i] = w
    for a in range(3):
        color[r, a] = c[a]
    opacity[r] = acc
    depth[r] = dep
    used[r] = n


@wp.kernel(enable_backward=False)
def composite_rays_backward(
    sigma: wp.array(dtype=float),
    rgb: wp.array2d(dtype=float),
    t: wp.array(dtype=float),
    dt: wp.array(dtype=float),
    offsets: wp.array(dtype=int),
    weights: wp.array(dtype=float),
    used: wp.array(dtype=int),
    grad_color: wp.array2d(dtype=float),
    grad_opacity: wp.array(dtype=float),
    grad_depth: wp.array(dtype=float),
    grad_weights: wp.array(dtype=float),
    grad_sigma: wp.array(dtype=float),
    grad_rgb: wp.array2d(dtype=float),
    slice_start: int,
    slice_stride: int,
):
    # Every output is sum_j w_j v_j (v_j = rgb, 1, t) plus terms in w_j directly, so with
    # q_j = dL/dw_j + dL/dcolor . rgb_j + dL/dopacity + dL/ddepth * t_j:
    #   dL/dsigma_i = dt_i * (q_i * T_{i+1} - sum_{j > i} q_j w_j),   dL/drgb_i = w_i * dL/dcolor.
    r = wp.tid() * slice_stride + slice_start
    start = offsets[r]
    stop = start + used[r]
    gc = wp.vec3(grad_color[r, 0], grad_color[r, 1], grad_color[r, 2])
    go = grad_opacity[r]
    gd = grad_depth[r]
    total = float(0.0)
    for i in range(start, stop):
        q = grad_weights[i] + wp.dot(gc, wp.vec3(rgb[i, 0], rgb[i, 1], rgb[i, 2])) + go + gd * t[i]
        total += q * weights[i]
    transmittance = float(1.0)
    prefix = float(0.0)
    for i in range(start, stop):
        q = grad_weights[i] + wp.dot(gc, wp.vec3(rgb[i, 0], rgb[i, 1], rgb[i, 2])) + go + gd * t[i]
        transmittance *= wp.exp(-sigma[i] * dt[i])
        prefix += q * weights[i]
        grad_sigma[i] = dt[i] * (q * transmittance - (total - prefix))
        for a in range(3):
            grad_rgb[i, a] = weights[i] * gc[a]
    for i in range(stop, offsets[r + 1]):
        grad_sigma[i] = 0.0
        for a in range(3):
            grad_rgb[i, a] = 0.0


@wp.kernel(enable_backward=False)
def measure_distortion(
    weights: wp.array(dtype=float),
    t: wp.array(dtype=float),
    dt: wp.array(dtype=float),
    offsets: wp.array(dtype=int),
    backward: int,
    grad_loss: wp.array(dtype=float),
    loss: wp.array(dtype=float),
    grad_weights: wp.array(dtype=float),
    slice_start: int,
    slice_stride: int,
):
    # mip-NeRF 360: L = sum_ij w_i w_j |t_i - t_j| + 1/3 sum_i w_i^2 dt_i, samples sorted along the ray:
    #   sum_ij = 2 sum_i w_i (t_i W_<i - (wt)_<i);  dL/dw_i = 2 (t_i W_<i - (wt)_<i + (wt)_>i - t_i W_>i) + 2/3 w_i dt_i
    r = wp.tid() * slice_stride + slice_start
    start = offsets[r]
    stop = offsets[r + 1]
    w_all = float(0.0)
    wt_all = float(0.0)
    for i in range(start, stop):
        w_all += weights[i]
        wt_all += weights[i] * t[i]
    w_before = float(0.0)
    wt_before = float(0.0)
    value = float(0.0)
    for i in range(start, stop):
        w = weights[i]
        pair = t[i] * w_before - wt_before
        value += 2.0 * w * pair + w * w * dt[i] / 3.0
        if backward != 0:
            after = (wt_all - wt_before - w * t[i]) - t[i] * (w_all - w_before - w)
            grad_weights[i] = grad_loss[r] * (2.0 * (pair + after) + 2.0 * w * dt[i] / 3.0)
        w_before += w
        wt_before += w * t[i]
    if backward == 0:
        loss[r] = value


def _launch(kernel: wp.Kernel, rays: int, device: str, inputs: list[object]) -> None:
    runtime.ensure_loaded(kernel, device)
    runtime.launch_sliced(kernel, (rays,), 0, inputs, device, interleave=True)


def march(
    origins: wp.array,
    directions: wp.array,
    jitter: wp.array,
    occupied: wp.array,
    res: int,
    dt: float,
    near: float,
    max_samples: int,
    offsets: wp.array,
    counts: wp.array,
    t_out: wp.array,
    write: bool,
) -> None:
    """counts (R,) <- samples per ray; with write=True also t_out (S,) <- their distances at the
    rays' offsets (R + 1,) (the exclusive prefix sum of a counting pass's counts)."""
    inputs = [origins, directions, jitter, occupied, res, dt, near, max_samples, int(write), offsets, counts, t_out]
    _launch(march_rays, origins.shape[0], str(origins.device), inputs)


def composite_forward(
    sigma: wp.array,
    rgb: wp.array,
    t: wp.array,
    dt: wp.array,
    offsets: wp.array,
    threshold: float,
    color: wp.array,
    opacity: wp.array,
    depth: wp.array,
    weights: wp.array,
    used: wp.array,
) -> None:
    """color (R, 3), opacity (R,), depth (R,), weights (S,), used (R,) (samples before termination)."""
    inputs = [sigma, rgb, t, dt, offsets, threshold, color, opacity, depth, weights, used]
    _launch(composite_rays_forward, offsets.shape[0] - 1, str(sigma.device), inputs)


def composite_backward(
    sigma: wp.array,
    rgb: wp.array,
    t: wp.array,
    dt: wp.array,
    offsets: wp.array,
    weights: wp.array,
    used: wp.array,
    grad_color: wp.array,
    grad_opacity: wp.array,
    grad_depth: wp.array,
    grad_weights: wp.array,
    grad_sigma: wp.array,
    grad_rgb: wp.array,
) -> None:
    """grad_sigma (S,), grad_rgb (S, 3) <- from the gradients of the four forward outputs."""
    inputs = [sigma, rgb, t, dt, offsets, weights, used, grad_color, grad_opacity, grad_depth, grad_weights]
    _launch(composite_rays_backward, offsets.shape[0] - 1, str(sigma.device), [*inputs, grad_sigma, grad_rgb])


def distortion(weights: wp.array, t: wp.array, dt: wp.array, offsets: wp.array, loss: wp.array) -> None:
    """loss (R,) <- the distortion loss of each ray's weights."""
    inputs = [weights, t, dt, offsets, 0, loss, loss, weights]
    _launch(measure_distortion, offsets.shape[0] - 1, str(weights.device), inputs)


def distortion_backward(
    weights: wp.array, t: wp.array, dt: wp.array, offsets: wp.array, grad_loss: wp.array, grad_weights: wp.array
) -> None:
    """grad_weights (S,) <- d(sum_r grad_loss[r] * loss_r) / d weights."""
    inputs = [weights, t, dt, offsets, 1, grad_loss, grad_loss, grad_weights]
    _launch(measure_distortion, offsets.shape[0] - 1, str(weights.device), inputs)
