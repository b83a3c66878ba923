"""The empirical neural tangent kernel of a field on n sample points (the NTK paper's analysis):
K = J J^T with J (n, P) the Jacobian of the outputs with respect to all trainable parameters; for
fields with several outputs the trace over them, K_ij = sum_c <df_c(x_i)/dtheta, df_c(x_j)/dtheta>.

For pure-torch fields (Fourier features, MLPs) a chunk's rows come from one vmapped backward. The
Warp encodings are torch.autograd.Functions (no forward-mode, no vmap), so there J is built by
backpropagating one output of one point at a time over a chunk of points, each row kept as its
non-zero columns only: a hash grid's ~1e6 table entries are touched by 2^D corners x L levels
per point, so J never needs its dense (n, P) form; K is formed block by block from the chunks'
shared columns, in float64, and its eigenvalues come from torch.linalg.eigvalsh."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fieldscope.fields.scenes.base import Scene


@dataclass(frozen=True)
class JacobianChunk:
    """Rows of J for a chunk of points: `values` (rows, len(cols)) at the parameter columns `cols`
    (sorted int64 indices into the flattened parameters), `outputs` rows per point."""

    cols: np.ndarray
    values: torch.Tensor
    outputs: int


def trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def param_total(model: nn.Module) -> int:
    return sum(p.numel() for p in trainable(model))


def jacobian_chunks(model: nn.Module, x: torch.Tensor, chunk: int = 64) -> Iterator[JacobianChunk]:
    """J of model at x (n, D) in chunks of `chunk` points (rows point-major: point i, output c)."""
    params = trainable(model)
    for start in range(0, x.shape[0], chunk):
        out = model(x[start : start + chunk])
        out = out.reshape(out.shape[0], -1)
        rows = batched_rows(out, params)
        yield dense_chunk(rows, out.shape[1]) if rows is not None else pack_rows(looped_rows(out, params), out.shape[1])


def batched_rows(out: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor | None:
    """Every row of the chunk's J in one vmapped backward (rows, P); None where a custom autograd
    Function (the Warp encodings) cannot be vmapped."""
    rows = out.numel()
    seeds = torch.eye(rows, dtype=out.dtype, device=out.device).reshape(rows, *out.shape)
    try:
        grads = torch.autograd.grad(out, params, seeds, retain_graph=True, allow_unused=True, is_grads_batched=True)
    except (RuntimeError, NotImplementedError):
        return None
    return torch.cat(
        [
            (g if g is not None else p.new_zeros(rows, *p.shape)).reshape(rows, -1)
            for g, p in zip(grads, params, strict=True)
        ],
        dim=1,
    )


def looped_rows(out: torch.Tensor, params: list[nn.Parameter]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """J's rows one backward at a time, each as (non-zero column indices, values)."""
    rows = []
    for i in range(out.shape[0]):
        for c in range(out.shape[1]):
            grads = torch.autograd.grad(out[i, c], params, retain_graph=True, allow_unused=True)
            flat = torch.cat(
                [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params, strict=True)]
            )
            index = torch.nonzero(flat, as_tuple=True)[0]
            rows.append((index, flat[index].detach().double()))
    return rows


def dense_chunk(rows: torch.Tensor, outputs: int) -> JacobianChunk:
    return JacobianChunk(np.arange(rows.shape[1]), rows.detach().double().cpu(), outputs)


def pack_rows(rows: list[tuple[torch.Tensor, torch.Tensor]], outputs: int) -> JacobianChunk:
    """Sparse rows (column indices, values) -> one JacobianChunk over their union of columns."""
    cols = np.unique(np.concatenate([index.cpu().numpy() for index, _ in rows])) if rows else np.zeros(0, np.int64)
    values = torch.zeros(len(rows), len(cols), dtype=torch.float64)
    for r, (index, row_values) in enumerate(rows):
        values[r, torch.from_numpy(np.searchsorted(cols, index.cpu().numpy()))] = row_values.cpu()
    return JacobianChunk(cols, values, outputs)


def block(a: JacobianChunk, b: JacobianChunk) -> torch.Tensor:
    """The kernel block between two chunks' points, traced over the outputs -> (points_a, points_b)."""
    _, ia, ib = np.intersect1d(a.cols, b.cols, assume_unique=True, return_indices=True)
    g = a.values[:, torch.from_numpy(ia)] @ b.values[:, torch.from_numpy(ib)].T
    o = a.outputs
    return torch.einsum("icjc->ij", g.reshape(g.shape[0] // o, o, g.shape[1] // o, o))


def ntk_matrix(model: nn.Module, x: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """The empirical NTK of model at x (n, D) -> float64 (n, n), symmetric positive semi-definite."""
    return kernel_of(list(jacobian_chunks(model, x, chunk)), x.shape[0])


def kernel_of(chunks: list[JacobianChunk], n: int) -> torch.Tensor:
    """The kernel (n, n) float64 of the points whose Jacobian rows the chunks hold, in order."""
    starts = np.cumsum([0] + [c.values.shape[0] // c.outputs for c in chunks])
    kernel = torch.zeros(n, n, dtype=torch.float64)
    for i, a in enumerate(chunks):
        for j in range(i + 1):
            k = block(a, chunks[j])
            if i == j:  # exactly symmetric (a matrix product's rounding need not be)
                k = 0.5 * (k + k.T)
            kernel[starts[i] : starts[i + 1], starts[j] : starts[j + 1]] = k
            kernel[starts[j] : starts[j + 1], starts[i] : starts[i + 1]] = k.T
    return kernel


def grid_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the grid term (the NTK paper's Figure 2): a field's encoding's trainable
    parameters (a hash grid's table, Gaussian buckets' features; none for Fourier features, whose
    frequencies are fixed, or a plain MLP)."""
    encoding = getattr(model, "encoding", None)
    return [p for p in encoding.parameters() if p.requires_grad] if isinstance(encoding, nn.Module) else []


def ntk_split(
    model: nn.Module, x: torch.Tensor, grid: list[nn.Parameter], chunk: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """The empirical NTK at x (n, D) split by parameters: (the kernel of every parameter but
    `grid`, the kernel of `grid`), two float64 (n, n) whose sum is ntk_matrix(model, x)."""
    params = trainable(model)
    chosen = {id(p) for p in grid}
    in_grid = np.concatenate([np.full(p.numel(), id(p) in chosen) for p in params]) if params else np.zeros(0, bool)
    rest, grid_chunks = [], []
    for part in jacobian_chunks(model, x, chunk):
        mask = in_grid[part.cols]
        keep = torch.from_numpy(mask)
        rest.append(JacobianChunk(part.cols[~mask], part.values[:, ~keep], part.outputs))
        grid_chunks.append(JacobianChunk(part.cols[mask], part.values[:, keep], part.outputs))
    return kernel_of(rest, x.shape[0]), kernel_of(grid_chunks, x.shape[0])


def resample_spectrum(eigenvalues: torch.Tensor, count: int) -> list[float]:
    """Eigenvalues sorted from high to low, linearly resampled to `count` values over their rank
    (the first and last kept: the largest and the smallest eigenvalue survive) -> list of count."""
    values = torch.sort(eigenvalues.double().cpu(), descending=True).values
    if values.numel() == count:
        return values.tolist()
    position = torch.linspace(0, values.numel() - 1, count, dtype=torch.float64)
    low = position.floor().long().clamp(max=values.numel() - 1)
    high = (low + 1).clamp(max=values.numel() - 1)
    t = position - low
    return ((1 - t) * values[low] + t * values[high]).tolist()


def split_spectra(without: torch.Tensor, grid: torch.Tensor, count: int) -> tuple[list[float], list[float]]:
    """The eigenvalues of the whole kernel (without + grid) and of the kernel without the grid term,
    each sorted high to low and resampled to `count` values (the same list twice when the grid
    term is zero)."""
    whole = eigenvalues_of(without + grid)
    bare = eigenvalues_of(without) if bool(grid.abs().max() > 0) else whole
    return resample_spectrum(whole, count), resample_spectrum(bare, count)


def eigenvalues_of(kernel: torch.Tensor) -> torch.Tensor:
    """The eigenvalues of a symmetric positive semi-definite kernel (n, n), in no set order. LAPACK's
    divide and conquer (eigvalsh) can fail to converge on a kernel of low rank (many eigenvalues at
    rounding level, e.g. a narrow MLP's on many points); then its singular values, which are its
    eigenvalues up to the sign of those rounding-level ones."""
    try:
        return torch.linalg.eigvalsh(kernel)
    except torch.linalg.LinAlgError:
        return torch.linalg.svdvals(kernel)


def lattice_points(dims: int, count: int) -> torch.Tensor:
    """About `count` points on a regular lattice over [0, 1]^dims (cell centres, side round(count^(1/dims)),
    x fastest: an image's pixel centres at that resolution) -> (side^dims, dims)."""
    side = max(2, round(count ** (1.0 / dims)))
    axis = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    grids = torch.meshgrid(*([axis] * dims), indexing="ij")
    return torch.stack([g.reshape(-1) for g in reversed(grids)], dim=-1)


def spectrum(kernel: torch.Tensor) -> dict[str, Any]:
    """Eigenvalues (descending), the smallest, the smallest relative to the mean (trace / n: K's
    scale follows the parameterisation, e.g. a table initialised at 1e-4 against unit-scale Fourier
    weights, so kinds compare by this), and the condition number max/min (inf when the smallest is
    not positive) of a symmetric kernel (n, n)."""
    eigenvalues = torch.linalg.eigvalsh(kernel.double()).flip(0)
    smallest, largest, mean = float(eigenvalues[-1]), float(eigenvalues[0]), float(eigenvalues.mean())
    return {
        "eigenvalues": eigenvalues.tolist(),
        "min_eigenvalue": smallest,
        "min_eigenvalue_relative": smallest / mean if mean > 0 else 0.0,
        "max_eigenvalue": largest,
        "condition_number": largest / smallest if smallest > 0 else float("inf"),
    }


def sample_points(dims: int, count: int, seed: int = 0) -> torch.Tensor:
    """`count` points uniform in [0,1]^dims, the same for a given seed -> (count, dims)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, dims, generator=generator)


class UnitScene(Scene):
    """What the budget fitter needs of a scene for a field on its own (no data): dims, outputs, a
    signal of `extent` samples per axis."""

    task = "ntk"

    def __init__(self, dims: int, out_dims: int = 1, extent: int | None = None) -> None:
        self.dims, self.out_dims = dims, out_dims
        self.extent = extent or {2: 512, 3: 128}[dims]
        self.name = f"unit {dims}D"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "size": [self.extent] * self.dims, "extent": self.extent}
