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
    chunks = list(jacobian_chunks(model, x, chunk))
    starts = np.cumsum([0] + [c.values.shape[0] // c.outputs for c in chunks])
    kernel = torch.zeros(x.shape[0], x.shape[0], dtype=torch.float64)
    for i, a in enumerate(chunks):
        for j in range(i + 1):
            k = block(a, chunks[j])
            if i == j:  # exactly symmetric (a matrix product's rounding need not be)
                k = 0.5 * (k + k.T)
            kernel[starts[i] : starts[i + 1], starts[j] : starts[j + 1]] = k
            kernel[starts[j] : starts[j + 1], starts[i] : starts[i + 1]] = k.T
    return kernel


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
