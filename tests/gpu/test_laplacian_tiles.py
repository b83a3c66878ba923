"""The CPU's tiled training pass of the Laplacian-block field: its vector sine against float64, and
its results against the per-sample kernel (the one CUDA runs), which the float64 reference checks in
test_laplacian_blocks_kernels.py through `fit_blocks` on CUDA (and the tiled one on the CPU)."""

import numpy as np
import pytest
import torch
import warp as wp

from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig, siren_init
from fieldscope.fields.kinds.laplacian_blocks.layout import block_grid
from fieldscope.gpu import laplacian_blocks, laplacian_tiles, runtime


@wp.kernel
def _sincos_tile_kernel(x: wp.array2d(dtype=float), s: wp.array2d(dtype=float), c: wp.array2d(dtype=float)):
    i = wp.tid()
    v = wp.vector(0.0, length=laplacian_tiles.TILE, dtype=float)
    for t in range(laplacian_tiles.TILE):
        v[t] = x[i, t]
    sn, cs = laplacian_tiles.sincos_tile(v)
    for t in range(laplacian_tiles.TILE):
        s[i, t] = sn[t]
        c[i, t] = cs[t]


def test_vector_sine_and_cosine_are_within_2e_7_of_float64():
    runtime.init()
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-400, 400, 160_000), rng.normal(0, 60, 80_000), rng.uniform(-1e4, 1e4, 80_000)])
    x = x.astype(np.float32).reshape(-1, laplacian_tiles.TILE)
    xs = wp.array(x, dtype=float, device="cpu")
    s = wp.zeros(x.shape, dtype=float, device="cpu")
    c = wp.zeros(x.shape, dtype=float, device="cpu")
    wp.launch(_sincos_tile_kernel, dim=x.shape[0], inputs=[xs, s, c], device="cpu")
    exact = x.astype(np.float64)
    assert np.abs(s.numpy() - np.sin(exact)).max() < 2e-7
    assert np.abs(c.numpy() - np.cos(exact)).max() < 2e-7


def _fit(kernel_fit, weights, grid, targets, loss_weight, config):
    runtime.init()  # wp.from_torch needs Warp started, whichever test runs first
    sse = torch.zeros(weights.shape[0])
    grad = torch.zeros_like(weights)
    pred = torch.full(targets.shape, float("nan"))
    arrays = [wp.from_torch(a.contiguous()) for a in (weights, grid, targets, loss_weight)]
    kernel_fit(*arrays, config.mlp, config.omega, wp.from_torch(grad), wp.from_torch(sse), wp.from_torch(pred))
    return sse, grad, pred


def _per_sample_fit(w, grid, target, weight, mlp, omega, grad_w, sse, pred):
    kernel = laplacian_blocks.kernels(*mlp).fit
    runtime.ensure_loaded(kernel, "cpu")
    inputs = [w, grid, target, weight, omega, 1, grad_w, sse, pred, 0, 1]
    wp.launch(kernel, dim=(w.shape[0], 1), inputs=inputs, device="cpu")


@pytest.mark.parametrize(
    ("dims", "block", "hidden", "layers", "out_dims", "samples"),
    [(2, 8, 20, 4, 3, None), (2, 8, 20, 4, 3, 37), (2, 4, 6, 2, 2, None), (3, 4, 16, 5, 4, 21)],
)
def test_the_tiled_pass_equals_the_per_sample_kernel(dims, block, hidden, layers, out_dims, samples):
    """Same losses, gradients and outputs, whole blocks or a sample count that leaves a short last tile."""
    config = LaplacianBlocksConfig(
        dims=dims, out_dims=out_dims, size=(32,) * dims, scales=2, block_size=block, hidden_width=hidden, layers=layers
    )
    gen = torch.Generator().manual_seed(1)
    grid = block_grid(config)
    if samples is not None:
        grid = grid[torch.randperm(grid.shape[0], generator=gen)[:samples]]
    blocks = 11
    weights = siren_init(blocks, config, gen) * (0.5 + torch.rand(blocks, config.row_length, generator=gen))
    targets = torch.randn(blocks, grid.shape[0], out_dims, generator=gen)
    loss_weight = torch.rand(blocks, grid.shape[0], generator=gen)
    loss_weight[3] = 0.0
    tiled = _fit(laplacian_tiles.fit_tiled, weights, grid, targets, loss_weight, config)
    reference = _fit(_per_sample_fit, weights, grid, targets, loss_weight, config)
    for got, want in zip(tiled, reference, strict=True):
        assert torch.isfinite(got).all()
        assert (got - want).abs().max() <= 2e-5 * want.abs().max()
    assert torch.all(tiled[1][3] == 0) and tiled[0][3] == 0
