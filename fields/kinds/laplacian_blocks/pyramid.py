"""Laplacian pyramids of 2D images and 3D volumes (MINER's signal model, Eq. 1-4).

A signal is a tensor in array order with channels last: (H, W, C) or (D, H, W, C). Scale j (0 is
the finest) has ceil(n / 2^j) samples along an axis of n; sample i of scale j covers the finest
samples [i * 2^j, (i + 1) * 2^j) and sits at their centre. Downsampling is the box average over
that footprint (MINER's Eq. 9-10), with the signal's last sample repeated where the footprint
passes its end; upsampling by 2 is (bi/tri)linear interpolation at the finer centres (edges
clamped), the operator MINER applies to the coarser estimate.

levels[J-1] = D_{J-1}(I) (the coarsest signal), levels[j] = D_j(I) - U(D_{j+1}(I)) (residuals),
and I = levels[0] + U(levels[1] + U(... + U(levels[J-1]))).
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from fieldscope.fields.config import check


def scale_shape(shape: tuple[int, ...], scale: int) -> tuple[int, ...]:
    """Samples per spatial axis at `scale` for a finest shape (spatial axes only)."""
    return tuple(-(-n // (1 << scale)) for n in shape)


def pad_edges(signal: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Pad the spatial axes (all but the last) up to `shape` by repeating the last sample."""
    for axis, target in enumerate(shape):
        extra = target - signal.shape[axis]
        if extra > 0:
            edge = signal.narrow(axis, signal.shape[axis] - 1, 1)
            repeat = [1] * signal.dim()
            repeat[axis] = extra
            signal = torch.cat([signal, edge.repeat(repeat)], dim=axis)
    return signal


def downsample(signal: torch.Tensor, factor: int) -> torch.Tensor:
    """Box average over factor^D footprints: (n..., C) -> (ceil(n / factor)..., C)."""
    if factor == 1:
        return signal
    spatial = signal.shape[:-1]
    coarse = tuple(-(-n // factor) for n in spatial)
    padded = pad_edges(signal, tuple(n * factor for n in coarse))
    split: list[int] = []
    for n in coarse:
        split += [n, factor]
    blocks = padded.reshape(*split, signal.shape[-1])
    return blocks.mean(dim=tuple(range(1, 2 * len(coarse), 2)))


def upsample(signal: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """(Bi/tri)linear upsampling by 2 to the finer scale's `shape` (spatial; at most 2x the input)."""
    dims = signal.dim() - 1
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]
    channels_first = signal.movedim(-1, 0)[None]
    up = nnf.interpolate(channels_first, scale_factor=2.0, mode=mode, align_corners=False)
    crop = up[0][tuple([slice(None), *(slice(0, n) for n in shape)])]
    return crop.movedim(0, -1)


def build(signal: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """The Laplacian pyramid of a signal (n..., C): a list indexed by scale, finest first."""
    spatial = tuple(signal.shape[:-1])
    check(scales >= 1, f"a pyramid needs at least one scale, not {scales}")
    check(
        (1 << (scales - 1)) <= min(spatial),
        f"{scales} scales is too many for a signal of {'x'.join(map(str, spatial))} samples "
        f"(2^(J-1) must not exceed its shortest side)",
    )
    gaussian = [downsample(signal, 1 << j) for j in range(scales)]
    levels = [gaussian[-1]]
    for j in range(scales - 2, -1, -1):
        levels.insert(0, gaussian[j] - upsample(gaussian[j + 1], scale_shape(spatial, j)))
    return levels
