"""Lagrange multi-sampling in the Warp kernels (hash grid, Gaussian buckets) against the float64
PyTorch reference, finite differences and a brute-force stencil; k = 1 equals linear; the
coordinate gradient is continuous across cell boundaries where linear's jumps."""

import itertools
import math

import numpy as np
import pytest
import torch

from fieldscope.fields import reference
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig, GaussianBucketsField
from fieldscope.fields.kinds.hashgrid import HashGridEncoding, level_layout
from fieldscope.gpu import runtime

# (dims, levels, features, log2 T, base, growth): every case mixes dense and hashed levels
GRID_CASES = [(2, 7, 2, 11, 4, 1.8), (3, 4, 2, 11, 3, 2.2)]


def make_encoding(dims, levels, feats, log2t, base, growth, interpolation="lagrange", k=2, seed=0):
    layout = level_layout(dims, levels, base, growth, log2t)
    enc = HashGridEncoding(layout, feats, interpolation, lagrange_k=k)
    with torch.no_grad():
        enc.table.copy_(torch.randn(enc.table.shape, generator=torch.Generator().manual_seed(seed)))
    return enc


def sample_points(n, dims, seed=1):
    x = torch.rand(n, dims, generator=torch.Generator().manual_seed(seed))
    x[0], x[1] = 1.0, 0.0  # the borders: the stencil shifts inwards
    x[2, 0] = 1.25  # outside: clamped, no gradient along that axis
    x[3, -1] = -0.5
    return x


def rel_err(a, b):
    return float((a.detach().double() - b.detach()).abs().max() / b.detach().abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("case", GRID_CASES, ids=lambda c: f"D{c[0]}")
def test_hashgrid_forward_and_both_gradients_match_float64_reference(case):
    enc = make_encoding(*case)
    assert any(enc.layout.hashed) and not all(enc.layout.hashed)
    enc.set_mask((True,) * (case[1] - 1) + (False,))
    x = sample_points(2000, case[0])
    xw = x.clone().requires_grad_(True)
    yw = enc(xw)
    x64 = x.double().requires_grad_(True)
    t64 = enc.table.detach().double().requires_grad_(True)
    y64 = reference.hashgrid_encode(x64, t64, enc.layout, enc.mask, enc.smooth)
    assert rel_err(yw, y64) <= 1e-5
    assert torch.all(yw[:, -case[2] :] == 0)  # the masked level
    cot = torch.randn(yw.shape, generator=torch.Generator().manual_seed(7))
    (yw * cot).sum().backward()
    (y64 * cot.double()).sum().backward()
    assert rel_err(enc.table.grad, t64.grad) <= 1e-5
    assert rel_err(xw.grad, x64.grad) <= 1e-5
    assert torch.all(enc.table.grad[enc.layout.offset[-1] :] == 0)
    assert torch.all(xw.grad[2, 0] == 0) and torch.all(xw.grad[3, -1] == 0)


@pytest.mark.parametrize("dims", [2, 3])
def test_hashgrid_gradients_match_finite_differences(dims):
    enc = make_encoding(dims, 3, 2, 10, 5, 3.0)
    # points at least 0.05 cells from every boundary of every level: the difference quotient must not
    # straddle one (the stencil moves there, and the reference picks it in float32)
    candidates = torch.rand(400, dims, generator=torch.Generator().manual_seed(4))
    frac = torch.stack([(candidates * n).frac() for n in enc.layout.resolution])
    x = candidates[((frac > 0.05) & (frac < 0.95)).all(dim=2).all(dim=0)][:3]
    assert len(x) == 3
    cot = torch.randn(3, 6, generator=torch.Generator().manual_seed(3))
    xw = x.clone().requires_grad_(True)
    (enc(xw) * cot).sum().backward()
    table64 = enc.table.detach().double()

    def loss(xx):  # the float64 reference: no float32 rounding in the difference quotient
        return float((reference.hashgrid_encode(xx, table64, enc.layout, enc.mask, enc.smooth) * cot).sum())

    eps = 1e-4
    for p, d in itertools.product(range(3), range(dims)):
        plus, minus = x.double(), x.double()
        plus[p, d] += eps
        minus[p, d] -= eps
        fd = (loss(plus) - loss(minus)) / (2 * eps)
        assert fd == pytest.approx(float(xw.grad[p, d]), rel=3e-3, abs=3e-3)
    rows = torch.nonzero(enc.table.grad.abs().sum(1)).flatten()
    assert len(rows) > 16  # every level reads a (2k)^D stencil
    for r in rows[:: max(1, len(rows) // 6)].tolist():
        bumped = table64.clone()
        bumped[r, 0] += 1.0
        up = float((reference.hashgrid_encode(x.double(), bumped, enc.layout, enc.mask, enc.smooth) * cot).sum())
        assert up - loss(x.double()) == pytest.approx(float(enc.table.grad[r, 0]), rel=1e-4, abs=1e-5)


def brute_force_stencil(point, res, k):
    """Dense-level vertex index -> weight of a point's Lagrange stencil, in plain Python."""
    support = 2 * k
    axes = []
    for v in point:
        pos = np.float32(min(max(v, 0.0), 1.0)) * np.float32(res)
        cell = min(int(np.floor(pos)), res - 1)
        start = min(max(cell - k + 1, 0), res - support + 1)
        u = float(pos - np.float32(start))
        basis = [math.prod((u - m) / (j - m) for m in range(support) if m != j) for j in range(support)]
        axes.append([(start + j, basis[j]) for j in range(support)])
    out = {}
    for combo in itertools.product(*axes):
        row = sum(c * (res + 1) ** d for d, (c, _w) in enumerate(combo))
        out[row] = math.prod(w for _c, w in combo)
    return out


@pytest.mark.parametrize("dims", [2, 3])
def test_dense_rows_and_weights_equal_a_brute_force_stencil(dims):
    enc = make_encoding(dims, 1, 1, 16, 6, 1.0)
    res = enc.layout.resolution[0]
    for point in ([0.5] * dims, [0.0] * dims, [0.999] * dims, [0.07, 0.9, 0.41][:dims], [1.0, 0.55, 0.16][:dims]):
        enc.table.grad = None
        enc(torch.tensor([point]))[0, 0].backward()
        touched = torch.nonzero(enc.table.grad[:, 0]).flatten().tolist()
        expected = brute_force_stencil(point, res, 2)
        assert sorted(touched) == sorted(r for r, w in expected.items() if w != 0.0)
        assert len(expected) == 4**dims  # the stencil never leaves the grid, also at the borders
        for r, w in expected.items():
            assert float(enc.table.grad[r, 0]) == pytest.approx(w, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dims", [2, 3])
def test_k1_equals_linear(dims):
    lagrange = make_encoding(dims, 5, 2, 11, 3, 2.0, "lagrange", k=1)
    linear = make_encoding(dims, 5, 2, 11, 3, 2.0, "linear")
    x = sample_points(3000, dims)
    cot = torch.randn(3000, 10, generator=torch.Generator().manual_seed(2))
    grads = []
    for enc in (lagrange, linear):
        xw = x.clone().requires_grad_(True)
        y = enc(xw)
        (y * cot).sum().backward()
        grads.append((y.detach(), enc.table.grad, xw.grad))
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def boundary_jump(interpolation, dims):
    """Largest change of d(feature)/dx across the cell boundaries of a dense level whose table samples
    a smooth function, relative to the gradient's size."""
    res = 8
    enc = HashGridEncoding(level_layout(dims, 1, res, 1.0, 16), 1, interpolation)
    axes = torch.meshgrid(*[torch.arange(res + 1.0) / res] * dims, indexing="ij")
    smooth = torch.sin(3.0 * axes[0]) * torch.cos(2.0 * axes[1])  # index order: axis 0 fastest
    with torch.no_grad():
        enc.table[:, 0] = smooth.permute(*reversed(range(dims))).reshape(-1)
    boundary = torch.arange(2, res - 1) / res  # interior boundaries along axis 0
    other = torch.full_like(boundary, 0.43)
    rest = [other] * (dims - 1)
    grads = []
    for side in (-1e-4, 1e-4):
        x = torch.stack([boundary + side, *rest], dim=1).requires_grad_(True)
        enc(x).sum().backward()
        grads.append(x.grad)
    return float((grads[0] - grads[1]).abs().max() / grads[0].abs().max())


@pytest.mark.parametrize("dims", [2, 3])
def test_coordinate_gradient_is_continuous_across_cell_boundaries(dims):
    # Lagrange's derivative jump is the table's 4th difference / 6 (h^3 f'''' for a smooth signal),
    # linear's the 2nd difference (h f''): with 8 cells, ~1% against ~30% of the gradient.
    assert boundary_jump("lagrange", dims) < 0.03
    assert boundary_jump("linear", dims) > 0.1


@pytest.mark.parametrize("dims", [2, 3])
def test_two_core_launches_equal_one_core(dims, monkeypatch):
    enc = make_encoding(dims, 4, 2, 11, 3, 2.2)
    x = sample_points(20000, dims).requires_grad_(True)
    cot = torch.randn(20000, 8, generator=torch.Generator().manual_seed(5))

    def run():
        enc.table.grad, x.grad = None, None
        y = enc(x)
        (y * cot).sum().backward()
        return y.detach().clone(), enc.table.grad.clone(), x.grad.clone()

    split = run()
    monkeypatch.setattr(runtime, "cpu_workers", lambda: 1)
    single = run()
    for a, b in zip(split, single, strict=True):
        assert torch.equal(a, b)


def test_reference_gradients_pass_gradcheck():
    layout = level_layout(2, 2, 3, 2.0, 10)
    table = torch.randn(layout.total_rows, 2, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[0.31, 0.77], [0.52, 0.13]], dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, dtype=torch.int32)
    assert torch.autograd.gradcheck(
        lambda xx, tt: reference.hashgrid_encode(xx, tt, layout, mask, 3), (x, table), eps=1e-4, atol=1e-2, rtol=1e-2
    )


@pytest.mark.parametrize("dims", [2, 3])
def test_gaussian_buckets_forward_gradients_and_guidance_match_float64_reference(dims):
    torch.manual_seed(0)
    config = GaussianBucketsConfig(dims=dims, levels=4, lagrangian_levels=2, features=2, points_per_bucket=2,
                                   log2_table_size=10, base_resolution=3, growth=2.0, interpolation="lagrange",
                                   sigma_start=3.0, sigma_end=1.0)  # fmt: skip
    field = GaussianBucketsField(config)
    with torch.no_grad():
        field.encoding.lagrangian.values.normal_()
        field.encoding.coarse.table.normal_()
    ref = GaussianBucketsField(config, impl="torch")
    ref.load_state(field.state())
    ref.double()
    x = sample_points(500, dims)
    xw, xr = x.clone().requires_grad_(True), x.double().requires_grad_(True)
    yw, yr = field.encoding(xw), ref.encoding(xr)
    assert rel_err(yw, yr) <= 1e-5
    cot = torch.randn(yw.shape, generator=torch.Generator().manual_seed(2))
    (yw * cot).sum().backward()
    (yr * cot.double()).sum().backward()
    lag, lag_ref = field.encoding.lagrangian, ref.encoding.lagrangian
    assert rel_err(lag.values.grad, lag_ref.values.grad) <= 1e-5
    assert rel_err(lag.means.grad, lag_ref.means.grad) <= 2e-5
    assert rel_err(field.encoding.coarse.table.grad, ref.encoding.coarse.table.grad) <= 1e-5
    assert rel_err(xw.grad, xr.grad) <= 2e-5
    # the guidance prior uses the linear weights of the cell's corners (Lagrange weights go negative)
    gw, gr = lag.guidance(x), lag_ref.guidance(x.double())
    assert torch.isfinite(gw).all() and rel_err(gw, gr) <= 1e-5


def test_settings_are_checked():
    from fieldscope.fields.errors import ConfigError
    from fieldscope.fields.kinds.hashgrid import HashGridConfig

    with pytest.raises(ConfigError, match="lagrange_k must be one of"):
        HashGridConfig(interpolation="lagrange", lagrange_k=3)
    with pytest.raises(ConfigError, match="needs a base resolution of at least 3"):
        HashGridConfig(interpolation="lagrange", base_resolution=2)
    assert HashGridConfig(interpolation="lagrange", lagrange_k=1, base_resolution=1).lagrange_k == 1
