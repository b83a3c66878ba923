"""The Warp Laplacian-block kernels against the float64 PyTorch reference (torch.bmm over blocks),
finite differences, and the branch-free sine.

Tolerances: float32 kernels against float64; a SIREN multiplies pre-activation rounding by omega
(30), so outputs agree to a few 1e-6 relative and gradients to about 1e-5.
"""

import numpy as np
import pytest
import torch
import warp as wp

from fieldscope.fields import reference
from fieldscope.fields.kinds.laplacian_blocks.field import (
    BlockGeometry,
    LaplacianBlocksConfig,
    LaplacianBlocksField,
    siren_init,
    torch_blocks,
)
from fieldscope.fields.kinds.laplacian_blocks.layout import block_grid, upsample2
from fieldscope.gpu import laplacian_blocks as kernels
from fieldscope.gpu import runtime

# (dims, size, scales, block, hidden, layers, out_dims, omega)
CASES = [
    (2, (37, 29), 3, 8, 20, 4, 3, 30.0),
    (2, (64, 64), 2, 16, 12, 3, 1, 30.0),
    (2, (50, 20), 2, 4, 6, 2, 2, 10.0),
    (3, (21, 17, 12), 2, 4, 8, 3, 1, 30.0),
    (3, (16, 16, 16), 3, 4, 16, 5, 4, 20.0),
]


def case_id(case):
    return f"D{case[0]}-J{case[2]}-b{case[3]}-H{case[4]}-L{case[5]}-C{case[6]}"


def make_field(dims, size, scales, block, hidden, layers, out_dims, omega, seed=0, impl="warp"):
    """A field with MLPs on about 70% of the blocks of every scale (the rest pruned), weights from
    SIREN's initialisation scaled by random factors in [0.5, 2] (so that every layer matters)."""
    config = LaplacianBlocksConfig(
        dims=dims,
        out_dims=out_dims,
        size=size,
        scales=scales,
        block_size=block,
        hidden_width=hidden,
        layers=layers,
        omega=omega,
    )
    field = LaplacianBlocksField(config, impl=impl)
    gen = torch.Generator().manual_seed(seed)
    for scale in field.layout:
        ids = torch.nonzero(torch.rand(scale.count, generator=gen) < 0.7).squeeze(1)
        rows = siren_init(ids.numel(), config, gen) * (
            0.5 + 1.5 * torch.rand(ids.numel(), config.row_length, generator=gen)
        )
        field.add_rows(scale.scale, ids, rows)
    return field


def sample_points(n, dims, seed=1):
    x = torch.rand(n, dims, generator=torch.Generator().manual_seed(seed))
    x[0] = 1.0  # upper edge: last block
    x[1] = 0.0
    x[2, 0] = 1.25  # outside: clamped
    x[3, -1] = -0.5
    return x


def reference_output(field, x, weights, scales_on):
    return torch_blocks(x.double(), weights, BlockGeometry(field.config, field.slots, scales_on))


def rel_err(a, b):
    return float((a.detach().double() - b.detach()).abs().max() / b.detach().abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_matches_float64_reference(case, device):
    field = make_field(*case).to(device)
    x = sample_points(4000, case[0]).to(device)
    y = field(x)
    w64 = field.weights.detach().double()
    y64 = reference_output(field, x, w64, (True,) * case[2])
    assert y.shape == (4000, case[6])
    assert rel_err(y, y64) <= 1e-5
    # a scale switched off contributes nothing: the coarsest level alone
    field.set_level_mask((True,) + (False,) * (case[2] - 1))
    coarse = reference_output(field, x, w64, (False,) * (case[2] - 1) + (True,))
    assert rel_err(field(x), coarse) <= 1e-5
    assert not torch.allclose(coarse, y64)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_weight_gradients_match_reference_autograd(case, device):
    field = make_field(*case).to(device)
    x = sample_points(3000, case[0]).to(device)
    y = field(x)
    cotangent = torch.randn(y.shape, generator=torch.Generator().manual_seed(7)).to(device)
    (y * cotangent).sum().backward()
    w64 = field.weights.detach().double().requires_grad_(True)
    (reference_output(field, x, w64, (True,) * case[2]) * cotangent.double()).sum().backward()
    assert rel_err(field.weights.grad, w64.grad) <= 2e-5
    # rows of blocks no point falls in get exactly zero
    untouched = w64.grad.abs().sum(1) == 0
    assert torch.all(field.weights.grad[untouched] == 0)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fused_block_fit_matches_reference(case, device):
    dims, _size, _scales, block, hidden, layers, out_dims, _omega = case
    field = make_field(*case).to(device)
    config = field.config
    gen = torch.Generator().manual_seed(3)
    blocks = 9
    weights = siren_init(blocks, config, gen) * 1.5
    samples = block**dims
    targets = torch.randn(blocks, samples, out_dims, generator=gen)
    loss_weight = torch.rand(blocks, samples, generator=gen)
    loss_weight[0, samples // 2 :] = 0.0  # padding samples do not count
    sse, grad, fitted = field.fit_blocks(weights.to(device), targets.to(device), loss_weight.to(device))
    sse, grad, fitted = sse.cpu(), grad.cpu(), fitted.cpu()
    w64 = weights.double().requires_grad_(True)
    local = block_grid(config).double()[None].expand(blocks, -1, -1)
    pred = reference.siren_blocks(local, w64, hidden, layers, config.omega)
    losses = (((pred - targets.double()) ** 2).sum(-1) * loss_weight.double()).sum(1)
    losses.sum().backward()
    assert rel_err(sse, losses) <= 1e-5
    assert rel_err(grad, w64.grad) <= 2e-5
    assert rel_err(fitted, pred) <= 1e-5
    torch_field = LaplacianBlocksField(config, impl="torch")
    sse_t, grad_t, _ = torch_field.fit_blocks(weights, targets, loss_weight)
    assert rel_err(sse_t, losses) <= 1e-5 and rel_err(grad_t, w64.grad) <= 2e-5
    # a subset of every block's samples: the same as the reference on those samples
    subset = torch.arange(1, samples, 3)
    sse_s, grad_s, pred_s = field.fit_blocks(
        weights.to(device), targets[:, subset].to(device), loss_weight[:, subset].to(device), subset.numpy()
    )
    w64.grad = None
    pred = reference.siren_blocks(local[:, subset], w64, hidden, layers, config.omega)
    losses = (((pred - targets[:, subset].double()) ** 2).sum(-1) * loss_weight[:, subset].double()).sum(1)
    losses.sum().backward()
    assert rel_err(sse_s.cpu(), losses) <= 1e-5 and rel_err(grad_s.cpu(), w64.grad) <= 2e-5
    assert rel_err(pred_s.cpu(), pred) <= 1e-5


def test_block_grid_and_field_agree_on_local_coordinates():
    """fit_blocks' implicit sample grid is the one the field's forward sees at those samples."""
    field = make_field(2, (40, 24), 2, 8, 6, 3, 2, 30.0)
    config = field.config
    scale = field.layout[1]
    block = 1  # (kx, ky) = (1, 0) at scale 1 (3 x 2 blocks of 16 finest pixels), inside the image
    row = int(field.slots[scale.first + block])
    if row < 0:
        row = int(field.add_rows(1, torch.tensor([block]), siren_init(1, config))[0])
    grid = block_grid(config)
    b, f = config.block_size, 2
    k = torch.tensor([block % scale.blocks[0], block // scale.blocks[0]])
    x = ((k * b + (grid + 1) * b / 2) * f / torch.tensor(config.size, dtype=torch.float32)).float()
    only = (False, True)
    y = field.evaluate_scales(x, only)
    target = torch.zeros(1, grid.shape[0], 2)
    sse, _, _ = field.fit_blocks(field.weights.detach()[row : row + 1], target, torch.ones(1, grid.shape[0]))
    assert float(sse[0]) == pytest.approx(float((y.detach() ** 2).sum()), rel=1e-5)


def centres(config, scale):
    """Coordinates (N, D) of scale j's samples, array order (x fastest), and their grid shape."""
    counts = [-(-n // (1 << scale)) for n in config.size]
    axes = [
        (torch.arange(n, dtype=torch.float64) + 0.5) * (1 << scale) / size
        for n, size in zip(counts, config.size, strict=True)
    ]
    grids = torch.meshgrid(*reversed(axes), indexing="ij")
    return torch.stack([g.reshape(-1) for g in reversed(grids)], dim=-1), tuple(reversed(counts))


@pytest.mark.parametrize("impl", ["torch", "warp"])
@pytest.mark.parametrize("dims,size", [(2, (64, 48)), (3, (16, 8, 16))])
def test_each_scale_is_its_residual_plus_the_bilinear_upsampling_of_the_coarser_one(impl, dims, size):
    """MINER's Eq. 2: I_j = R_j + U2(I_{j+1}) at scale j's samples, U2 being torch's interpolate
    (bilinear / trilinear, align_corners=False), for every scale j."""
    field = make_field(dims, size, 3, 4, 8, 3, 2, 30.0, seed=4, impl=impl)
    field.weights.data = field.weights.data.double() if impl == "torch" else field.weights.data
    mode = "bilinear" if dims == 2 else "trilinear"
    upper = None
    for j in range(2, -1, -1):
        x, shape = centres(field.config, j)
        x = x if impl == "torch" else x.float()
        only_j = tuple(k == j for k in range(3))
        residual = field.evaluate_scales(x, only_j, top=j).detach().double().reshape(*shape, 2)
        expected = residual
        if upper is not None:
            grid = upper.permute(dims, *range(dims))[None]
            up = torch.nn.functional.interpolate(grid, scale_factor=2, mode=mode, align_corners=False)
            expected = residual + up[0].permute(*range(1, dims + 1), 0)
        got = field.evaluate_scales(x, (True,) * 3, top=j).detach().double().reshape(*shape, 2)
        assert rel_err(got, expected) <= (1e-12 if impl == "torch" else 1e-5), f"scale {j}"
        upper = expected
    assert not torch.allclose(upper, residual)  # the coarser scales do contribute


def test_upsample2_is_interpolate_and_repeats_the_last_valid_sample():
    coarse = torch.randn(6, 8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    up = upsample2(coarse.numpy(), (12, 16), (8, 6))
    ref = torch.nn.functional.interpolate(coarse.permute(2, 0, 1)[None], scale_factor=2, mode="bilinear")
    assert np.allclose(up, ref[0].permute(1, 2, 0).numpy(), atol=1e-12)
    # only the first 5 columns are signal (the 6th... 8th are padding): the edge repeats column 4
    edge = upsample2(coarse.numpy(), (12, 16), (5, 6))
    assert np.allclose(edge[:, 9:], np.broadcast_to(edge[:, 9:10], edge[:, 9:].shape))
    assert np.allclose(edge[:, :9], up[:, :9])


def test_finite_differences_of_the_warp_kernels():
    """Central differences of the float32 Warp forward against its backward, on a tiny smooth case."""
    field = make_field(2, (12, 10), 2, 4, 4, 3, 2, 3.0, seed=5)
    x = sample_points(200, 2, seed=9)
    cotangent = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    (field(x) * cotangent).sum().backward()
    grad = field.weights.grad.clone()
    base = field.weights.detach().clone()
    gen = torch.Generator().manual_seed(4)
    picks = torch.nonzero(grad.abs() > 1e-2 * grad.abs().max())
    picks = picks[torch.randperm(len(picks), generator=gen)[:12]]
    eps = 1e-2
    for r, p in picks.tolist():
        losses = []
        for sign in (1.0, -1.0):
            w = base.clone()
            w[r, p] += sign * eps
            field.weights.data.copy_(w)
            with torch.no_grad():
                losses.append(float((field(x).double() * cotangent.double()).sum()))
        numeric = (losses[0] - losses[1]) / (2 * eps)
        assert numeric == pytest.approx(float(grad[r, p]), rel=2e-2, abs=2e-3 * float(grad.abs().max()))
    field.weights.data.copy_(base)
    # and the fused training kernel
    target = torch.randn(2, 16, 2, generator=gen)
    weight = torch.ones(2, 16) / 32
    rows = base[:2].clone()
    _, grad_fit, _ = field.fit_blocks(rows, target, weight)
    for r, p in [(0, 0), (0, 7), (1, 13), (1, rows.shape[1] - 1)]:
        plus, minus = rows.clone(), rows.clone()
        plus[r, p] += eps
        minus[r, p] -= eps
        numeric = (
            float(field.fit_blocks(plus, target, weight)[0].sum())
            - float(field.fit_blocks(minus, target, weight)[0].sum())
        ) / (2 * eps)
        assert numeric == pytest.approx(float(grad_fit[r, p]), rel=2e-2, abs=1e-4)


@wp.kernel
def _sincos_kernel(x: wp.array(dtype=float), s: wp.array(dtype=float), c: wp.array(dtype=float)):
    i = wp.tid()
    a, b = kernels.sincos(x[i])
    s[i] = a
    c[i] = b


def test_branch_free_sine_is_as_accurate_as_libm():
    runtime.init()
    x = np.concatenate([np.linspace(-400, 400, 200_001), np.random.default_rng(0).normal(0, 60, 100_000)])
    x = x.astype(np.float32)
    xs = wp.array(x, dtype=float, device="cpu")
    s = wp.zeros(len(x), dtype=float, device="cpu")
    c = wp.zeros(len(x), dtype=float, device="cpu")
    wp.launch(_sincos_kernel, dim=len(x), inputs=[xs, s, c], device="cpu")
    exact = x.astype(np.float64)
    assert np.abs(s.numpy() - np.sin(exact)).max() < 2e-7
    assert np.abs(c.numpy() - np.cos(exact)).max() < 2e-7


def test_adam_rows_matches_torch_adam():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 10, generator=gen)
    rows = torch.tensor([4, 1, 2], dtype=torch.int32)
    state = torch.tensor([0, 2, 1], dtype=torch.int32)
    m, v = torch.zeros(3, 10), torch.zeros(3, 10)
    steps = torch.zeros(3, dtype=torch.int32)
    params = [torch.nn.Parameter(w[r].clone()) for r in rows.tolist()]
    opt = torch.optim.Adam(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    from fieldscope.fields.warp_bridge import warp_call

    for _ in range(3):
        grad = torch.randn(3, 10, generator=gen)
        warp_call(
            kernels.adam_rows, w, rows, state, grad, m, v, steps, torch.full((rows.shape[0],), 1e-2), (0.9, 0.999), 1e-8
        )
        for p, g in zip(params, grad, strict=True):
            p.grad = g.clone()
        opt.step()
    for r, p in zip(rows.tolist(), params, strict=True):
        assert torch.allclose(w[r], p.detach(), atol=1e-6)
    assert steps.tolist() == [3, 3, 3]


def test_torch_evaluation_in_small_padded_batches_equals_one_batch(monkeypatch):
    """torch_blocks evaluates blocks in batches of bounded padded size; the result does not depend on
    the batching (a budget of 64 entries here cuts the blocks into many batches, some alone)."""
    from fieldscope.fields.kinds.laplacian_blocks import geometry as module
    from fieldscope.fields.kinds.laplacian_blocks.layout import padded_batches

    field = make_field(2, (37, 29), 3, 8, 20, 4, 3, 30.0, impl="torch")
    x = sample_points(2000, 2)
    weights = field.weights.detach().double()
    whole = reference_output(field, x, weights, (True, True, True))
    monkeypatch.setattr(module, "PADDED_BATCH", 64)
    batches = padded_batches(torch.tensor([5, 100, 3, 40, 64, 1]), 64)
    assert [b.tolist() for b in batches] == [[5, 2, 0], [3], [4], [1]]
    assert torch.allclose(reference_output(field, x, weights, (True, True, True)), whole, rtol=1e-12, atol=1e-12)


def test_pixel_grid_is_the_forward_at_the_pixel_centres_and_scores_the_same():
    """Each scale's MLPs at its samples plus U2, coarse to fine, equals the field's forward at every
    pixel centre (size not a multiple of the block, blocks without MLPs, a middle scale off); it is
    declined where it does not apply; an image scene's PSNR from it is the points' PSNR."""
    from fieldscope.fields.scenes.image import ImageScene, pixel_centers, render_image

    field = make_field(2, (37, 29), 3, 8, 20, 4, 3, 30.0)
    centres = pixel_centers(29, 37)
    for mask in [(True, True, True), (True, False, True)]:
        field.set_level_mask(mask)
        grid = field.pixel_grid(29, 37)
        assert grid is not None and grid.shape == (29, 37, 3)
        with torch.no_grad():
            points = field(centres).reshape(29, 37, 3)
        assert rel_err(grid, points.double()) <= 2e-5
    field.set_level_mask((True, True, False))  # the finest scale off: the points' way
    assert field.pixel_grid(29, 37) is None
    field.set_level_mask((True, True, True))
    assert field.pixel_grid(37, 29) is None and field.pixel_grid(58, 74) is None
    target = np.random.default_rng(0).random((29, 37, 3)).astype(np.float32)
    scene = ImageScene(target)
    with torch.no_grad():
        mse = float(torch.mean((field(centres) - torch.from_numpy(target).reshape(-1, 3)).double() ** 2))
    assert scene.evaluate(field)["mse"] == pytest.approx(mse, rel=1e-5)
    assert np.allclose(render_image(field, 37, 29), field.pixel_grid(29, 37).numpy())
