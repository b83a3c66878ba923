"""Warp kernels of the Lagrangian levels of the Gaussian-bucket field (Lagrangian Hashing, D=2, 3).

Each bucket of a Lagrangian level holds K points, a mean mu (D) and a feature f (F). The level
feature at x is f_l(x) = sum over cell corners v of alpha_v(x) * sum_k N(x; mu_vk, sigma_l) f_vk
with the isotropic Gaussian N(x; mu, s) = c_l exp(-|x - mu|^2 / (2 s^2)); the normaliser c_l is
given per level (the paper's eq. 3 has 1 / (sqrt(2 pi) s); fields/kinds/gaussian_buckets.py
computes it). The guidance loss of eq. 8 is min over v, k of the cost -log(alpha_v + eps) +
|x - mu|^2 / (2 sigma_l^2), per level ("hard"); the soft assignment replaces the min by the softmin
-log sum_vk exp(-cost_vk), whose gradient reaches every candidate with its softmax share.

Layout:
- x: (N, D) float32 in [0,1]^D (clamped as in the hash grid).
- means (R*K, D), feats (R*K, F): bucket r of level l is row offset[l] + r; its points are rows
  (offset[l] + r) * K + k.
- resolution, offset, hashed, mask: (L~,) int32; sigma, norm: (L~,) float32 (sigma in coordinate units).
- out: (N, L~*F); guidance: value (N, L~) float32 and the argmin point row (N, L~) int32; the
  candidates of the cell of an anchor row (the sample itself, or a jittered place: the reach).

A training forward may measure the guidance in the same pass (forward_kernel's guided: the same
candidates, each mean read once for both).

Launches are level-major blocks of points as in gpu/hashgrid.py: per-point outputs are sliced by
points, gradients of means and features by levels (disjoint rows), so no update is lost.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import warp as wp

from fieldscope.gpu import runtime
from fieldscope.gpu.hashing import LINEAR, SMOOTHSTEP, Levels, grid_helpers, make_levels, point_block

POINTS_PER_THREAD = 64
#: Added to alpha inside the guidance loss's -log, as in the authors' code (alpha can be 0).
ALPHA_EPS = wp.constant(1e-5)


@cache
def point_helpers(dims: int) -> SimpleNamespace:
    """wp.func helpers for D = dims: the clamped query point, and its offset from a mean."""

    @wp.func
    def clamped(x: wp.array2d(dtype=float), i: int):
        p = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            p[d] = wp.clamp(x[i, d], 0.0, 1.0)
        return p

    @wp.func
    def offset_to(means: wp.array2d(dtype=float), j: int, p: wp.vec3):
        """p - mu_j (vec3; the unused component is zero in 2D)."""
        diff = wp.vec3(0.0)
        for d in range(wp.static(dims)):
            diff[d] = p[d] - means[j, d]
        return diff

    @wp.func
    def gaussian(diff: wp.vec3, sigma: float, norm: float):
        """N(x; mu, sigma) = norm * exp(-|x - mu|^2 / (2 sigma^2)), diff = x - mu."""
        return norm * wp.exp(-0.5 * wp.dot(diff, diff) / (sigma * sigma))

    return SimpleNamespace(clamped=clamped, offset_to=offset_to, gaussian=gaussian)


@cache
def keep_best(soft: bool) -> Any:
    """wp.func (best, best_j, total, cost, j) -> the running minimum of the guidance costs over the
    candidates so far and its row (best_j -1: none yet); soft: total = sum of exp(best - cost) so far."""

    @wp.func
    def keep(best: float, best_j: int, total: float, cost: float, j: int):
        new_best = best
        new_j = best_j
        new_total = total
        if best_j < 0:
            new_best = cost
            new_j = j
        elif cost < best:
            if wp.static(soft):
                new_total = total * wp.exp(cost - best) + 1.0
            new_best = cost
            new_j = j
        elif wp.static(soft):
            new_total = total + wp.exp(best - cost)
        return new_best, new_j, new_total

    return keep


def can_guide_forward(smooth: int) -> bool:
    """Whether the forward can measure the guidance on the way (forward_kernel's guided): its corner
    weights are the guidance's for linear and smoothstep (Lagrange's guidance uses linear ones)."""
    return smooth in (LINEAR, SMOOTHSTEP)


#: The guidance a forward kernel measures on the way: none, eq. 8's minimum, or the softmin.
FORWARD_GUIDANCES = ("", "hard", "soft")


@cache
def forward_kernel(dims: int, feats: int, smooth: int, points: int, guided: str = "") -> wp.Kernel:
    """encode_forward for D = dims, F = feats, the interpolation, K = points. With guided "hard" or
    "soft" it also measures the guidance at the samples' own cells (as measure_guidance with the
    anchor x: the same candidates, and for linear and smoothstep the same corner weights), reading
    each candidate's mean once for both."""
    assert guided in FORWARD_GUIDANCES and (guided == "" or can_guide_forward(smooth))
    g = grid_helpers(dims, smooth)
    h = point_helpers(dims)
    corners = g.corners
    keep = keep_best(guided == "soft")

    @wp.kernel(enable_backward=False, module="unique")
    def encode_forward(
        x: wp.array2d(dtype=float),
        means: wp.array2d(dtype=float),
        values: wp.array2d(dtype=float),
        levels: Levels,
        sigma: wp.array(dtype=float),
        norm: wp.array(dtype=float),
        guidance_sigma: wp.array(dtype=float),
        out: wp.array2d(dtype=float),
        value: wp.array2d(dtype=float),
        nearest: wp.array2d(dtype=int),
        weights: wp.array3d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        first, last = point_block(levels, q * slice_stride + slice_start, x.shape[0])
        on = levels.mask[lvl] != 0
        inv_2s2 = 0.5 / (guidance_sigma[lvl] * guidance_sigma[lvl])
        keep_weights = weights.shape[0] > 0
        for i in range(first, last):
            acc = wp.vector(0.0, length=wp.static(feats), dtype=float)
            best = float(0.0)
            best_j = int(-1)
            total = float(1.0)
            if on:
                p = h.clamped(x, i)
                buckets, upper, _slope = g.cell_corners(x, i, levels, lvl)
                for c in range(wp.static(corners)):
                    alpha = g.corner_weight(upper, c)
                    prior = float(0.0)
                    if wp.static(guided != ""):
                        prior = -wp.log(alpha + ALPHA_EPS)
                    for k in range(wp.static(points)):
                        j = buckets[c] * wp.static(points) + k
                        diff = h.offset_to(means, j, p)
                        w = alpha * h.gaussian(diff, sigma[lvl], norm[lvl])
                        if keep_weights:
                            weights[lvl, i, c * wp.static(points) + k] = w
                        for f in range(wp.static(feats)):
                            acc[f] = acc[f] + w * values[j, f]
                        if wp.static(guided != ""):
                            best, best_j, total = keep(best, best_j, total, prior + wp.dot(diff, diff) * inv_2s2, j)
            for f in range(wp.static(feats)):
                out[i, lvl * wp.static(feats) + f] = acc[f]
            if wp.static(guided != ""):
                value[i, lvl] = best - wp.log(total)
                nearest[i, lvl] = best_j

    return encode_forward


@cache
def field_kernels(dims: int, feats: int, smooth: int, points: int) -> SimpleNamespace:
    """Forward (no guidance) and backward kernels for D = dims, F = feats, the interpolation, K = points."""
    g = grid_helpers(dims, smooth)
    h = point_helpers(dims)
    corners = g.corners

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_params(
        x: wp.array2d(dtype=float),
        means: wp.array2d(dtype=float),
        values: wp.array2d(dtype=float),
        levels: Levels,
        sigma: wp.array(dtype=float),
        norm: wp.array(dtype=float),
        grad_out: wp.array2d(dtype=float),
        grad_means: wp.array2d(dtype=float),
        grad_values: wp.array2d(dtype=float),
        weights: wp.array3d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        j_lvl, q = wp.tid()
        lvl = j_lvl * slice_stride + slice_start
        if levels.mask[lvl] == 0:
            return
        first, last = point_block(levels, q, x.shape[0])
        inv_s2 = 1.0 / (sigma[lvl] * sigma[lvl])
        kept = weights.shape[0] > 0
        for i in range(first, last):
            p = h.clamped(x, i)
            buckets, upper, _slope = g.cell_corners(x, i, levels, lvl)
            for c in range(wp.static(corners)):
                alpha = g.corner_weight(upper, c)
                for k in range(wp.static(points)):
                    j = buckets[c] * wp.static(points) + k
                    diff = h.offset_to(means, j, p)
                    w = float(0.0)
                    if kept:  # the forward's alpha N, not recomputed (no exp)
                        w = weights[lvl, i, c * wp.static(points) + k]
                    else:
                        w = alpha * h.gaussian(diff, sigma[lvl], norm[lvl])
                    dot = float(0.0)
                    for f in range(wp.static(feats)):
                        go = grad_out[i, lvl * wp.static(feats) + f]
                        dot += go * values[j, f]
                        wp.atomic_add(grad_values, j, f, w * go)
                    # d N / d mu = N (x - mu) / sigma^2
                    for d in range(wp.static(dims)):
                        wp.atomic_add(grad_means, j, d, dot * w * diff[d] * inv_s2)

    @wp.kernel(enable_backward=False, module="unique")
    def encode_backward_points(
        x: wp.array2d(dtype=float),
        means: wp.array2d(dtype=float),
        values: wp.array2d(dtype=float),
        levels: Levels,
        sigma: wp.array(dtype=float),
        norm: wp.array(dtype=float),
        grad_out: wp.array2d(dtype=float),
        grad_x: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        if levels.mask[lvl] == 0:
            return
        first, last = point_block(levels, q * slice_stride + slice_start, x.shape[0])
        inv_s2 = 1.0 / (sigma[lvl] * sigma[lvl])
        scale = float(levels.resolution[lvl])
        for i in range(first, last):
            p = h.clamped(x, i)
            passes = g.inside(x, i)
            buckets, upper, slope = g.cell_corners(x, i, levels, lvl)
            grads = g.corner_grads(upper, slope)
            grad = wp.vec3(0.0)
            for c in range(wp.static(corners)):
                alpha = g.corner_weight(upper, c)
                dalpha = g.corner_weight_grad(upper, grads, c) * scale
                for k in range(wp.static(points)):
                    j = buckets[c] * wp.static(points) + k
                    diff = h.offset_to(means, j, p)
                    gauss = h.gaussian(diff, sigma[lvl], norm[lvl])
                    dot = float(0.0)
                    for f in range(wp.static(feats)):
                        dot += grad_out[i, lvl * wp.static(feats) + f] * values[j, f]
                    # d/dx [alpha N] = N d alpha/dx - alpha N (x - mu) / sigma^2
                    grad += dot * gauss * (dalpha - alpha * inv_s2 * diff)
            for d in range(wp.static(dims)):
                wp.atomic_add(grad_x, i, d, grad[d] * passes[d])

    return SimpleNamespace(
        forward=forward_kernel(dims, feats, smooth, points),
        backward_params=encode_backward_params,
        backward_points=encode_backward_points,
    )


@cache
def guidance_kernels(dims: int, smooth: int, points: int, soft: bool) -> SimpleNamespace:
    """The guidance loss (eq. 8) per level and its gradient to the means: the hard minimum over the
    candidates, or (soft) the softmin. Its prior -log(alpha + eps) needs alpha >= 0: with Lagrange
    weights (negative in places) it uses the linear weights of the cell's 2^D corners. The candidates
    are the points of the corners of the cell of anchor row lvl * anchor_stride + i (the sample
    itself: anchor x, stride 0; a reach: a jittered place per level); the distances are to x[i]."""
    g = grid_helpers(dims, SMOOTHSTEP if smooth == SMOOTHSTEP else LINEAR)
    h = point_helpers(dims)
    corners = 1 << dims
    keep = keep_best(soft)

    @wp.func
    def candidate_cost(means: wp.array2d(dtype=float), j: int, p: wp.vec3, prior: float, inv_2s2: float):
        """cost_j = prior + |x - mu_j|^2 / (2 sigma^2), and x - mu_j."""
        diff = h.offset_to(means, j, p)
        return prior + wp.dot(diff, diff) * inv_2s2, diff

    @wp.func
    def pull(grad_means: wp.array2d(dtype=float), j: int, diff: wp.vec3, scale: float):
        """Add scale * d cost / d mu_j = -scale (x - mu_j) / sigma^2 (scale includes 1 / sigma^2)."""
        for d in range(wp.static(dims)):
            wp.atomic_add(grad_means, j, d, -scale * diff[d])

    @wp.kernel(enable_backward=False, module="unique")
    def measure_guidance(
        x: wp.array2d(dtype=float),
        anchor: wp.array2d(dtype=float),
        anchor_stride: int,
        means: wp.array2d(dtype=float),
        levels: Levels,
        sigma: wp.array(dtype=float),
        value: wp.array2d(dtype=float),
        nearest: wp.array2d(dtype=int),
        slice_start: int,
        slice_stride: int,
    ):
        lvl, q = wp.tid()
        first, last = point_block(levels, q * slice_stride + slice_start, x.shape[0])
        inv_2s2 = 0.5 / (sigma[lvl] * sigma[lvl])
        for i in range(first, last):
            best = float(0.0)
            best_j = int(-1)
            total = float(1.0)  # soft: sum of exp(best - cost) over the candidates so far
            if levels.mask[lvl] != 0:
                p = h.clamped(x, i)
                buckets, upper, _slope = g.cell_corners(anchor, lvl * anchor_stride + i, levels, lvl)
                for c in range(wp.static(corners)):
                    prior = -wp.log(g.corner_weight(upper, c) + ALPHA_EPS)
                    for k in range(wp.static(points)):
                        j = buckets[c] * wp.static(points) + k
                        cost, _diff = candidate_cost(means, j, p, prior, inv_2s2)
                        best, best_j, total = keep(best, best_j, total, cost, j)
            value[i, lvl] = best - wp.log(total)
            nearest[i, lvl] = best_j

    @wp.kernel(enable_backward=False, module="unique")
    def measure_guidance_backward(
        x: wp.array2d(dtype=float),
        anchor: wp.array2d(dtype=float),
        anchor_stride: int,
        means: wp.array2d(dtype=float),
        levels: Levels,
        sigma: wp.array(dtype=float),
        value: wp.array2d(dtype=float),
        nearest: wp.array2d(dtype=int),
        grad_value: wp.array2d(dtype=float),
        grad_means: wp.array2d(dtype=float),
        slice_start: int,
        slice_stride: int,
    ):
        j_lvl, q = wp.tid()
        lvl = j_lvl * slice_stride + slice_start
        if levels.mask[lvl] == 0:
            return
        first, last = point_block(levels, q, x.shape[0])
        inv_s2 = 1.0 / (sigma[lvl] * sigma[lvl])
        for i in range(first, last):
            p = h.clamped(x, i)
            scale = grad_value[i, lvl] * inv_s2
            if wp.static(soft):
                # every candidate, by its softmax share exp(softmin - cost)
                buckets, upper, _slope = g.cell_corners(anchor, lvl * anchor_stride + i, levels, lvl)
                for c in range(wp.static(corners)):
                    prior = -wp.log(g.corner_weight(upper, c) + ALPHA_EPS)
                    for k in range(wp.static(points)):
                        j = buckets[c] * wp.static(points) + k
                        cost, diff = candidate_cost(means, j, p, prior, 0.5 * inv_s2)
                        share = wp.exp(value[i, lvl] - cost)
                        if share > 0.0:
                            pull(grad_means, j, diff, scale * share)
            else:
                j = nearest[i, lvl]
                if j >= 0:
                    pull(grad_means, j, h.offset_to(means, j, p), scale)

    return SimpleNamespace(forward=measure_guidance, backward=measure_guidance_backward)


def _launch(kernel: Any, x: Any, levels: Levels, axis: int, inputs: list[Any]) -> None:
    device = str(x.device)
    runtime.ensure_loaded(kernel, device)
    dim = (levels.resolution.shape[0], -(-x.shape[0] // POINTS_PER_THREAD))
    runtime.launch_sliced(kernel, dim, axis, inputs, device, interleave=axis == 0)


def _levels(grid: dict[str, Any]) -> Levels:
    return make_levels(grid, grid["table_size"], POINTS_PER_THREAD)


@cache
def _no_guidance(device: str) -> tuple[wp.array, wp.array]:
    """Empty value and nearest arrays for a forward that measures no guidance."""
    return wp.empty((0, 0), dtype=float, device=device), wp.empty((0, 0), dtype=int, device=device)


@cache
def _no_weights(device: str) -> wp.array:
    """An empty weights array: the forward keeps none, the backward recomputes them."""
    return wp.empty((0, 0, 0), dtype=float, device=device)


def weights_shape(x: Any, grid: dict[str, Any]) -> tuple[int, int, int]:
    """The shape (L~, N, corners*K) of the Gaussian weights alpha_v N(x; mu_vk) a forward keeps for
    its backward_params (x (N, D))."""
    corners = grid_helpers(x.shape[1], grid["smooth"]).corners
    return (grid["resolution"].shape[0], x.shape[0], corners * grid["points"])


def forward(
    x: Any,
    means: Any,
    values: Any,
    grid: dict[str, Any],
    out: Any,
    value: Any = None,
    nearest: Any = None,
    weights: Any = None,
) -> None:
    """Lagrangian level features: x (N, D), means (R*K, D), values (R*K, F) -> out (N, L~*F); with
    value and nearest (N, L~) also the guidance at the samples' own cells, as `guidance` with the
    anchor x (only where can_guide_forward); with weights (weights_shape) the Gaussian weights, for
    backward_params.

    grid: warp arrays (L~,) resolution, offset, hashed, mask (int32), sigma, guidance_sigma, norm
    (float32), and table_size, smooth, points (K), soft.
    """
    guided = "" if value is None else ("soft" if grid["soft"] else "hard")
    kernel = forward_kernel(x.shape[1], values.shape[1], grid["smooth"], grid["points"], guided)
    if value is None:
        value, nearest = _no_guidance(str(x.device))
    weights = _no_weights(str(x.device)) if weights is None else weights
    levels = _levels(grid)
    inputs = [x, means, values, levels, grid["sigma"], grid["norm"], grid["guidance_sigma"], out, value, nearest]
    _launch(kernel, x, levels, 1, [*inputs, weights])


def backward_params(
    x: Any,
    means: Any,
    values: Any,
    grid: dict[str, Any],
    grad_out: Any,
    grad_means: Any,
    grad_values: Any,
    weights: Any = None,
) -> None:
    """Add the gradients of means (R*K, D) and values (R*K, F) from grad_out (N, L~*F), with the
    forward's Gaussian weights if it kept them (else recomputed); sliced by levels."""
    kernel = field_kernels(x.shape[1], values.shape[1], grid["smooth"], grid["points"]).backward_params
    weights = _no_weights(str(x.device)) if weights is None else weights
    levels = _levels(grid)
    inputs = [x, means, values, levels, grid["sigma"], grid["norm"], grad_out, grad_means, grad_values, weights]
    _launch(kernel, x, levels, 0, inputs)


def backward_points(x: Any, means: Any, values: Any, grid: dict[str, Any], grad_out: Any, grad_x: Any) -> None:
    """Add d loss / d x (N, D) to grad_x (zero it first) from grad_out (N, L~*F); sliced by points."""
    kernel = field_kernels(x.shape[1], values.shape[1], grid["smooth"], grid["points"]).backward_points
    levels = _levels(grid)
    _launch(kernel, x, levels, 1, [x, means, values, levels, grid["sigma"], grid["norm"], grad_out, grad_x])


def guidance(
    x: Any, anchor: Any, anchor_stride: int, means: Any, grid: dict[str, Any], value: Any, nearest: Any
) -> None:
    """Per point and Lagrangian level: value (N, L~) = the min (grid["soft"]: the softmin
    -log sum exp(-cost)) over the candidates of cost = -log(alpha + eps) + |x - mu|^2 / (2 sigma^2),
    0 if the level is off; nearest (N, L~) = the argmin's row (-1 if off). The candidates are those of
    the cell of anchor row lvl * anchor_stride + i (anchor (L~*N, D), or x itself with stride 0)."""
    kernel = guidance_kernels(x.shape[1], grid["smooth"], grid["points"], grid["soft"]).forward
    levels = _levels(grid)
    _launch(kernel, x, levels, 1, [x, anchor, anchor_stride, means, levels, grid["guidance_sigma"], value, nearest])


def guidance_backward(
    x: Any,
    anchor: Any,
    anchor_stride: int,
    means: Any,
    grid: dict[str, Any],
    value: Any,
    nearest: Any,
    grad_value: Any,
    grad_means: Any,
) -> None:
    """Add d loss / d means from grad_value (N, L~): hard, to each argmin point; soft, to every
    candidate by its softmax share exp(value - cost); sliced by levels."""
    kernel = guidance_kernels(x.shape[1], grid["smooth"], grid["points"], grid["soft"]).backward
    levels = _levels(grid)
    sigma = grid["guidance_sigma"]
    inputs = [x, anchor, anchor_stride, means, levels, sigma, value, nearest, grad_value, grad_means]
    _launch(kernel, x, levels, 0, inputs)
