"""The Gaussian-bucket field's Lagrangian levels on the Warp kernels (gpu/gaussian_buckets.py): the
autograd functions of the features and the guidance, which hand the kernels the batch sorted by cell
(spatial_order) and put the results back in the batch's order."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import gaussian_buckets as kernels

if TYPE_CHECKING:
    from fieldscope.fields.kinds.gaussian_buckets import LagrangianLevels

#: The most Gaussian weights (floats: 64 MiB) a training forward keeps for its backward, which
#: then needs no exp of its own; a larger batch's backward recomputes them.
MOST_KEPT_WEIGHTS = 1 << 24


def spatial_order(x: torch.Tensor, resolution: int) -> np.ndarray:
    """(N,) int64 permutation that sorts points x (N, D) by their cell in a grid of `resolution`
    cells per axis, row-major with axis 0 fastest (stable). The Lagrangian kernels run on the points
    in this order: neighbouring points read the same buckets (a dense level's rows follow axis 0, and
    the hash's axis-0 prime is 1), so the means and features they read stay in the cache. The
    per-point results are the same in any order; the gradients' sums differ by float32 rounding.
    In numpy on one thread: torch's threaded sort and small ops stall on a busy CPU."""
    cells = np.minimum((x.detach().cpu().numpy().clip(0.0, 1.0) * resolution).astype(np.int64), resolution - 1)
    key = cells[:, -1]
    for d in range(x.shape[1] - 2, -1, -1):
        key = key * resolution + cells[:, d]
    return np.argsort(key, kind="stable")


def sort_rows(rows: torch.Tensor, order: np.ndarray) -> torch.Tensor:
    """rows[order] (N, ...), contiguous (on the CPU through numpy, as spatial_order)."""
    if rows.device.type == "cpu":
        return torch.from_numpy(np.ascontiguousarray(rows.detach().numpy()[order]))
    return rows[torch.from_numpy(order).to(rows.device)].contiguous()


def unsort_rows(sorted_rows: torch.Tensor, order: np.ndarray) -> torch.Tensor:
    """Rows (N, ...) computed for x[order] put back in x's order."""
    if sorted_rows.device.type == "cpu":
        back = np.empty_like(sorted_rows.numpy())
        back[order] = sorted_rows.numpy()
        return torch.from_numpy(back)
    out = torch.empty_like(sorted_rows)
    out[torch.from_numpy(order).to(sorted_rows.device)] = sorted_rows
    return out


def add_guidance_grad(
    enc: LagrangianLevels,
    xs: torch.Tensor,
    anchor: torch.Tensor,
    stride: int,
    means: torch.Tensor,
    saved: tuple[torch.Tensor, torch.Tensor],
    grad_value: torch.Tensor,
    order: np.ndarray,
    grad_means: torch.Tensor | None,
) -> torch.Tensor:
    """Add the guidance's gradient to the means (R*K, D), from grad_value (N, L~) in the samples'
    order, to grad_means (None: a fresh zero one) and return it; saved: the guidance value and
    nearest (N, L~) of the sorted samples xs. With pulls tracked, the guidance's own gradient goes
    through a buffer of its own (note_pulls reads it alone)."""
    target = torch.zeros_like(means) if grad_means is None or enc.pulls is not None else grad_means
    grid, grad_value = enc.grid(), sort_rows(grad_value.float(), order)
    warp_call(kernels.guidance_backward, xs, anchor, stride, means.detach(), grid, *saved, grad_value, target)
    enc.note_pulls(target, None if enc.soft else saved[1])
    if grad_means is None or target is grad_means:
        return target
    return grad_means.add_(target)


class WarpLagrangian(torch.autograd.Function):
    """x (N, D), means (R*K, D), values (R*K, F) -> (N, L~*F), and with `guided` also the guidance
    costs (N, L~) at the samples' own cells (as WarpGuidance without anchors), measured by the same
    kernel; backward to all three (the guidance's to the means, into the same gradient). With
    `train` the forward keeps its Gaussian weights for the backward. The kernels see the points in
    spatial_order."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        means: torch.Tensor,
        values: torch.Tensor,
        enc: LagrangianLevels,
        guided: bool,
        train: bool,
    ) -> Any:
        ctx.set_materialize_grads(False)
        x = x.detach().float()
        order = spatial_order(x, enc.finest)
        xs = sort_rows(x, order)
        grid = enc.grid()
        out = torch.empty(x.shape[0], enc.out_dims, device=x.device)
        value = nearest = weights = None
        if guided:
            value = torch.empty(x.shape[0], enc.num_levels, device=x.device)
            nearest = torch.empty(x.shape[0], enc.num_levels, dtype=torch.int32, device=x.device)
        shape = kernels.weights_shape(x, grid)
        if train and math.prod(shape) <= MOST_KEPT_WEIGHTS:
            weights = torch.empty(shape, device=x.device)
        warp_call(kernels.forward, xs, means.detach(), values.detach(), grid, out, value, nearest, weights)
        ctx.save_for_backward(xs, means, values, value, nearest, weights)
        ctx.enc, ctx.order = enc, order
        if value is None:
            return unsort_rows(out, order)
        return unsort_rows(out, order), unsort_rows(value, order)

    @staticmethod
    def backward(
        ctx: Any, grad_out: torch.Tensor | None, grad_value: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, ...]:
        xs, means, values, value, nearest, weights = ctx.saved_tensors
        grid = ctx.enc.grid()
        grad_x = grad_means = grad_values = None
        grad_out = None if grad_out is None else sort_rows(grad_out.float(), ctx.order)
        if grad_out is not None and (ctx.needs_input_grad[1] or ctx.needs_input_grad[2]):
            grad_means, grad_values = torch.zeros_like(means), torch.zeros_like(values)
            warp_call(
                kernels.backward_params, xs, means.detach(), values.detach(), grid, grad_out, grad_means, grad_values,
                weights,
            )  # fmt: skip
        if grad_value is not None and ctx.needs_input_grad[1]:
            grad_means = add_guidance_grad(
                ctx.enc, xs, xs, 0, means, (value, nearest), grad_value, ctx.order, grad_means
            )
        if grad_out is not None and ctx.needs_input_grad[0]:
            grad_x = torch.zeros_like(xs)
            warp_call(kernels.backward_points, xs, means.detach(), values.detach(), grid, grad_out, grad_x)
            grad_x = unsort_rows(grad_x, ctx.order)
        return grad_x, grad_means, grad_values, None, None, None


class WarpGuidance(torch.autograd.Function):
    """x (N, D), means, anchors (L~*N, D) or None (the samples' own cells) -> guidance costs (N, L~)
    (hard or soft as the levels say); backward to the means of the argmin (hard) or every candidate
    (soft). The kernels see the points in spatial_order."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, means: torch.Tensor, anchors: torch.Tensor | None, enc: LagrangianLevels
    ) -> torch.Tensor:
        x = x.detach().float()
        order = spatial_order(x, enc.finest)
        xs = sort_rows(x, order)
        if anchors is None:
            anchor, stride = xs, 0
        else:  # level-major (L~*N, D): each level's rows in the points' order
            levels = anchors.detach().float().reshape(enc.num_levels, x.shape[0], -1).transpose(0, 1)
            anchor, stride = sort_rows(levels, order).transpose(0, 1).reshape(-1, x.shape[1]), x.shape[0]
        value = torch.empty(x.shape[0], enc.num_levels, device=x.device)
        nearest = torch.empty(x.shape[0], enc.num_levels, dtype=torch.int32, device=x.device)
        warp_call(kernels.guidance, xs, anchor, stride, means.detach(), enc.grid(), value, nearest)
        ctx.save_for_backward(xs, anchor, means, value, nearest)
        ctx.stride, ctx.enc, ctx.order = stride, enc, order
        return unsort_rows(value, order)

    @staticmethod
    def backward(ctx: Any, grad_value: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        xs, anchor, means, value, nearest = ctx.saved_tensors
        grad_means = add_guidance_grad(
            ctx.enc, xs, anchor, ctx.stride, means, (value, nearest), grad_value, ctx.order, None
        )
        return None, grad_means, None, None
