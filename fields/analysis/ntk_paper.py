"""The networks of the NTK paper's scaling experiment (ntk-multigrid-encodings.txt, sections 3-5 and
appendix A) and their empirical NTK split into its two terms (the paper's Equation 13 and Figure 2).

One coordinate MLP for every encoding, in the NTK parameterisation (Jacot et al.: weights and biases
N(0, 1), a layer computes W a / sqrt(fan_in) + beta b with beta = 0.1), ReLU between layers, in
front of it one of: no encoding (the baseline), axis-aligned log-spaced Fourier features
(sin/cos(2 pi 2^k x_d) for every axis d and k < L) or a dense multigrid encoding (per level a
(R+1)^D grid of F learnable scalars, bilinear/trilinear interpolation, the levels concatenated with
the input).

The kernel is not formed from the dense Jacobian (2 x 512 units is ~265k parameters: J over 1024
pixels and 3 colours would be 6 GB in float64) but layer by layer (Novak et al. 2022's structured
form, exact): for a layer z = W a / sqrt(m) + beta b the parameters' share of K_ij is
(a_i . a_j / m + beta^2) * sum_c d_i^c . d_j^c, with d^c = d out_c / dz; a grid level's share is
S_ij * sum_c g_i^c . g_j^c with S = W W^T of the interpolation weights and g^c = d out_c / d(level's
features). The network's layers give the kernel without the grid term, the levels the grid term;
their sum is the whole kernel (tests/fields/test_ntk_paper.py checks both against J J^T)."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from fieldscope.fields.analysis.ntk import split_spectra

#: The bias scale of the NTK parameterisation (the paper's beta, "typically set to 0.1").
BETA = 0.1
#: Grid parameters start uniform in [-GRID_INIT, GRID_INIT] (small, as Instant-NGP's tables).
GRID_INIT = 1e-4


@dataclass(frozen=True)
class EncodingSpec:
    """One encoding of the experiment: `kind` none | fourier | grid; fourier: `frequencies` L
    (2^0 .. 2^(L-1) cycles per unit along each axis); grid: per-level `resolutions` (cells per
    axis) and `features` F per grid point."""

    name: str
    kind: str
    frequencies: int = 0
    resolutions: tuple[int, ...] = ()
    features: int = 2


class FourierEncoding(nn.Module):
    """x (n, D) in [0, 1] -> [sin(2 pi B x), cos(2 pi B x)] (n, 2 L D), B = `matrix` (L D, D): every
    row one axis times one frequency 2^k, k < L (axis-aligned, log-spaced; nothing learnable)."""

    matrix: torch.Tensor

    def __init__(self, dims: int, frequencies: int) -> None:
        super().__init__()
        scales = 2.0 ** torch.arange(frequencies, dtype=torch.float32)
        self.register_buffer("matrix", torch.kron(scales[:, None], torch.eye(dims)))
        self.out_dims = 2 * frequencies * dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phase = 2.0 * math.pi * x @ self.matrix.T
        return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)


def corners(x: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2^D grid points around each of x (n, D) in [0, 1] on a grid of `resolution` cells per
    axis: flat node indices (n, 2^D) into the (resolution+1)^D nodes and their interpolation
    weights (n, 2^D), which sum to 1."""
    dims = x.shape[1]
    position = x.clamp(0.0, 1.0) * resolution
    low = position.floor().clamp(max=resolution - 1)
    fraction = position - low
    low = low.long()
    index, weight = [], []
    for corner in range(2**dims):
        bits = [(corner >> d) & 1 for d in range(dims)]
        flat = torch.zeros_like(low[:, 0])
        w = torch.ones_like(x[:, 0])
        for d, bit in enumerate(bits):
            flat = flat * (resolution + 1) + low[:, d] + bit
            w = w * (fraction[:, d] if bit else 1.0 - fraction[:, d])
        index.append(flat)
        weight.append(w)
    return torch.stack(index, dim=1), torch.stack(weight, dim=1)


class MultigridEncoding(nn.Module):
    """A dense multigrid: per level (R+1)^D points of F learnable scalars, interpolated
    (bi/trilinear) at x (n, D) -> [x, level 0 features, ..., level L-1 features] (n, D + L F)."""

    def __init__(self, dims: int, resolutions: tuple[int, ...], features: int) -> None:
        super().__init__()
        self.dims, self.resolutions, self.features = dims, tuple(resolutions), features
        self.grids = nn.ParameterList(
            nn.Parameter(torch.empty((r + 1) ** dims, features).uniform_(-GRID_INIT, GRID_INIT)) for r in resolutions
        )
        self.out_dims = dims + len(self.resolutions) * features
        self.levels: list[torch.Tensor] = []  # the latest forward's level features (kernel_terms reads them)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.levels = []
        for grid, resolution in zip(self.grids, self.resolutions, strict=True):
            index, weight = corners(x, resolution)
            self.levels.append((grid[index] * weight[..., None].to(grid.dtype)).sum(dim=1))
        return torch.cat([x.to(self.levels[0].dtype) if self.levels else x, *self.levels], dim=-1)


class NtkLinear(nn.Module):
    """z = a W^T / sqrt(fan_in) + beta b with W, b ~ N(0, 1) (the NTK parameterisation)."""

    def __init__(self, fan_in: int, fan_out: int, beta: float = BETA) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in))
        self.bias = nn.Parameter(torch.randn(fan_out))
        self.fan_in, self.beta = fan_in, beta
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None  # (input, output) when recording

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        z = a @ self.weight.T / math.sqrt(self.fan_in) + self.beta * self.bias
        if self.last is not None:
            self.last = (a, z)
        return z


class PaperNet(nn.Module):
    """encoding -> `depth` hidden layers of `width` ReLU units -> `out_dims` linear outputs; x (n, D)
    in [0, 1] -> (n, out_dims)."""

    def __init__(self, spec: EncodingSpec, dims: int, out_dims: int, width: int, depth: int) -> None:
        super().__init__()
        self.spec = spec
        self.encoding: nn.Module
        if spec.kind == "fourier":
            self.encoding = FourierEncoding(dims, spec.frequencies)
            enc_dims = self.encoding.out_dims
        elif spec.kind == "grid":
            self.encoding = MultigridEncoding(dims, spec.resolutions, spec.features)
            enc_dims = self.encoding.out_dims
        elif spec.kind == "none":
            self.encoding = nn.Identity()
            enc_dims = dims
        else:
            raise ValueError(f"unknown encoding kind {spec.kind!r}")
        sizes = [enc_dims] + [width] * depth + [out_dims]
        self.layers = nn.ModuleList(NtkLinear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoding(x)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    def grid_parameters(self) -> list[nn.Parameter]:
        return list(self.encoding.parameters()) if isinstance(self.encoding, MultigridEncoding) else []


def interpolation_gram(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """S = W W^T (n, n) float64, W (n, nodes) the interpolation weights of x (n, D) on one level
    (sparse: 2^D entries a row)."""
    index, weight = corners(x, resolution)
    n, nodes = x.shape[0], (resolution + 1) ** x.shape[1]
    rows = torch.arange(n, device=x.device)[:, None].expand_as(index)
    entries = torch.stack([rows.reshape(-1), index.reshape(-1)])
    with warnings.catch_warnings():  # torch says its sparse products are beta; they are exact here (tested)
        warnings.simplefilter("ignore", UserWarning)
        w = torch.sparse_coo_tensor(entries, weight.reshape(-1).double(), (n, nodes), check_invariants=False)
        return torch.sparse.mm(w.coalesce(), w.t().coalesce()).to_dense()


def gram(d: torch.Tensor) -> torch.Tensor:
    """sum over the middle axis of d (n, C, m): G_ij = sum_c d_i^c . d_j^c -> (n, n) float64."""
    flat = d.reshape(d.shape[0], -1).double()
    return flat @ flat.T


def kernel_terms(net: PaperNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The empirical NTK of net at x (n, D), traced over the outputs, as (without the grid term,
    the grid term): two float64 (n, n) matrices whose sum is the whole kernel; the grid term is
    zero without a multigrid encoding."""
    layers = [layer for layer in net.layers if isinstance(layer, NtkLinear)]
    for layer in layers:
        layer.last = (x, x)  # record this forward's inputs and outputs
    try:
        out = net(x)
        records = [layer.last for layer in layers]
    finally:
        for layer in layers:
            layer.last = None
    assert all(r is not None for r in records)
    levels = list(net.encoding.levels) if isinstance(net.encoding, MultigridEncoding) else []
    targets = [z for _, z in records] + levels  # type: ignore[misc]
    per_output = [
        torch.autograd.grad(out[:, c].sum(), targets, retain_graph=c < out.shape[1] - 1) for c in range(out.shape[1])
    ]
    grads = [torch.stack([g[t] for g in per_output], dim=1) for t in range(len(targets))]  # (n, C, m) each
    n = x.shape[0]
    without = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    for layer, (a, _), d in zip(layers, records, grads, strict=False):  # type: ignore[misc]
        a = a.detach().double()
        without += gram(d) * (a @ a.T / layer.fan_in + layer.beta**2)
    grid = torch.zeros_like(without)
    if isinstance(net.encoding, MultigridEncoding):
        encoding = net.encoding
        for resolution, g in zip(encoding.resolutions, grads[len(layers) :], strict=True):
            grid += gram(g) * interpolation_gram(x, resolution)
    return 0.5 * (without + without.T), 0.5 * (grid + grid.T)


def spectra(net: PaperNet, x: torch.Tensor, count: int) -> tuple[list[float], list[float]]:
    """The eigenvalues of the whole kernel and of the kernel without the grid term, each sorted
    high to low and resampled to `count` values."""
    return split_spectra(*kernel_terms(net, x), count)
