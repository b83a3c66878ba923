"""The Warp kernels of the Gaussian-bucket field against float64 PyTorch references and brute force."""

import math
from dataclasses import replace

import pytest
import torch

from fieldscope.fields import reference
from fieldscope.fields.kinds.gaussian_buckets import NORMALISERS, GaussianBucketsConfig, GaussianBucketsField
from fieldscope.fields.kinds.gaussian_buckets_warp import spatial_order
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import gaussian_buckets as gk

# (dims, levels, L~, features, K, log2 T, base, growth, interpolation)
CASES = [
    (2, 4, 2, 2, 3, 10, 4, 2.0, "linear"),
    (2, 5, 3, 1, 1, 10, 6, 2.0, "smoothstep"),
    (2, 3, 1, 4, 4, 12, 8, 3.0, "linear"),
    (3, 4, 2, 2, 2, 10, 3, 2.0, "smoothstep"),
    (3, 3, 3, 8, 4, 11, 2, 2.5, "linear"),
    (2, 4, 2, 2, 3, 10, 4, 2.0, "lagrange"),  # 16 corners, signed weights: the forward keeps them too
]


def make_pair(dims, levels, lag, feats, k, log2t, base, growth, interp, seed=0, **extra):
    """The Warp field and a float64 torch copy with the same parameters, sigma 3 cells."""
    torch.manual_seed(seed)
    config = GaussianBucketsConfig(dims=dims, levels=levels, lagrangian_levels=lag, features=feats,
                                   points_per_bucket=k, log2_table_size=log2t, base_resolution=base, growth=growth,
                                   interpolation=interp, sigma_start=3.0, sigma_end=1.0, **extra)  # fmt: skip
    warp_field = GaussianBucketsField(config)
    with torch.no_grad():
        warp_field.encoding.lagrangian.values.normal_()
    ref = GaussianBucketsField(config, impl="torch")
    ref.load_state(warp_field.state())
    ref.double()
    return warp_field.encoding.lagrangian, ref.encoding.lagrangian


def points(n, dims, seed=1):
    x = torch.rand(n, dims, generator=torch.Generator().manual_seed(seed))
    x[0] = 1.0
    x[1, 0] = 1.3  # outside: clamped, no gradient along that axis
    return x


def rel_err(a, b):
    return float((a.detach().double() - b.detach()).abs().max() / b.detach().abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"D{c[0]}-L{c[1]}-Lag{c[2]}-F{c[3]}-K{c[4]}-{c[8]}")
def test_forward_and_every_gradient_match_the_float64_reference(case, device):
    lag, ref = make_pair(*case)
    lag, ref = lag.to(device), ref.to(device)
    if case[2] > 1:
        lag.mask[0] = 0
        ref.mask[0] = 0
    x = points(700, case[0]).to(device)
    xw, xr = x.clone().requires_grad_(True), x.double().requires_grad_(True)
    yw, yr = lag(xw), ref(xr)
    assert rel_err(yw, yr) <= 1e-5
    cot = torch.randn(yw.shape, generator=torch.Generator().manual_seed(2)).to(device)
    (yw * cot).sum().backward()
    (yr * cot.double()).sum().backward()
    assert rel_err(lag.values.grad, ref.values.grad) <= 1e-5
    assert rel_err(lag.means.grad, ref.means.grad) <= 2e-5
    assert rel_err(xw.grad, xr.grad) <= 2e-5
    assert torch.all(xw.grad[1, 0] == 0)


@pytest.mark.parametrize("normaliser", NORMALISERS)
@pytest.mark.parametrize("dims", [2, 3])
def test_every_normaliser_matches_the_float64_reference(normaliser, dims, device):
    lag, ref = make_pair(dims, 4, 2, 2, 2, 10, 3, 2.0, "linear", normaliser=normaliser)
    lag, ref = lag.to(device), ref.to(device)
    x = points(400, dims).to(device)
    yw, yr = lag(x), ref(x.double())
    assert rel_err(yw, yr) <= 1e-5
    sigma = float(ref.sigma()[1])
    expected = {"paper": 1 / (math.sqrt(2 * math.pi) * sigma), "released": 1 / math.sqrt(2 * math.pi * sigma),
                "density": (2 * math.pi) ** (-dims / 2) * sigma**-dims, "peak": 1.0}[normaliser]  # fmt: skip
    assert float(ref.norm()[1]) == pytest.approx(expected, rel=1e-12)
    cot = torch.randn(yw.shape, generator=torch.Generator().manual_seed(2)).to(device)
    (yw * cot).sum().backward()
    (yr * cot.double()).sum().backward()
    assert rel_err(lag.means.grad, ref.means.grad) <= 2e-5
    assert rel_err(lag.values.grad, ref.values.grad) <= 1e-5


def test_features_equal_a_brute_force_sum_over_every_bucket_and_point(device):
    lag, _ = make_pair(2, 3, 2, 2, 3, 10, 4, 2.0, "linear", normaliser="paper")
    layout, k = lag.layout, lag.points
    x = points(5, 2, seed=4)
    out = lag.to(device)(x.to(device)).cpu()
    lag = lag.cpu()
    sigma = lag.sigma().double()
    for i, p in enumerate(x.double().clamp(0, 1)):
        for level in range(2):
            # every point of every bucket of the level, weighted by the corners that hash to its bucket
            cell, frac = reference.locate(p[None], layout.resolution[level], torch.float64)
            alpha = reference.corner_weights(frac, 0)[0]
            rows = reference.corner_rows(cell, layout, level)[0]
            expected = torch.zeros(2, dtype=torch.float64)
            first = layout.offset[level]
            for bucket in range(first, first + layout.rows[level]):
                weight = float(alpha[rows == bucket].sum())
                for j in range(bucket * k, bucket * k + k):
                    d2 = float(((p - lag.means[j].detach().double()) ** 2).sum())
                    s = float(sigma[level])
                    gauss = math.exp(-d2 / (2 * s * s)) / (math.sqrt(2 * math.pi) * s)
                    expected += weight * gauss * lag.values[j].detach().double()
            got = out[i, level * 2 : level * 2 + 2].double()
            assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dims", [2, 3])
def test_guidance_value_and_gradient_match_the_reference(dims, device):
    lag, ref = make_pair(dims, 4, 2, 2, 4, 10, 4, 2.0, "linear")
    lag, ref = lag.to(device), ref.to(device)
    x = points(600, dims).to(device)
    weights = torch.rand(600, generator=torch.Generator().manual_seed(9)).to(device)
    vw, vr = lag.guidance(x), ref.guidance(x.double())
    assert rel_err(vw, vr) <= 1e-5
    (weights[:, None] * vw).sum().backward()
    (weights.double()[:, None] * vr).sum().backward()
    assert rel_err(lag.means.grad, ref.means.grad) <= 1e-5
    moved = torch.nonzero(lag.means.grad.abs().sum(1)).numel()
    assert 0 < moved <= 600 * 2  # only argmin points get a gradient
    lag.means.grad = None
    lag.track_pulls()  # read at the argmin rows alone: the same points as a pass over every gradient
    weights[::3] = 0.0  # winners without a pull are not marked
    (weights[:, None] * lag.guidance(x)).sum().backward()
    assert torch.equal(lag.pulls.cpu(), (lag.means.grad != 0).any(dim=1).cpu()) and 0 < int(lag.pulls.sum()) < moved


@pytest.mark.parametrize("dims", [2, 3])
def test_soft_guidance_value_and_gradient_match_the_reference(dims, device):
    lag, ref = make_pair(dims, 4, 2, 2, 4, 10, 4, 2.0, "linear", guidance="soft")
    lag, ref = lag.to(device), ref.to(device)
    with torch.no_grad():  # points near the samples, so that many candidates share the pull
        lag.means.copy_(0.5 + 0.4 * (lag.means - 0.5))
        ref.means.copy_(lag.means.double())
    lag.track_pulls()
    x = points(600, dims).to(device)
    weights = torch.rand(600, generator=torch.Generator().manual_seed(9)).to(device)
    vw, vr = lag.guidance(x), ref.guidance(x.double())
    assert rel_err(vw, vr) <= 1e-5
    hard = torch.stack([reference.guidance_level(x.double(), ref.means, ref.layout, lvl, float(ref.sigma()[lvl]), 4, 0)
                        for lvl in range(2)], dim=1)  # fmt: skip
    assert torch.all(vr <= hard + 1e-12)  # the softmin is below the minimum
    (weights[:, None] * vw).sum().backward()
    (weights.double()[:, None] * vr).sum().backward()
    assert rel_err(lag.means.grad, ref.means.grad) <= 2e-5
    assert torch.equal(lag.pulls.cpu(), (lag.means.grad != 0).any(dim=1).cpu())


@pytest.mark.parametrize(("dims", "guidance"), [(2, "hard"), (2, "soft"), (3, "hard"), (3, "soft")])
def test_guidance_with_a_reach_matches_the_reference(dims, guidance, device):
    """The reach's candidates (the cells of jittered anchors, distances to the samples themselves)
    against the float64 reference: value, and gradient to the means."""
    lag, ref = make_pair(dims, 4, 2, 2, 4, 10, 4, 2.0, "linear", guidance=guidance, guidance_reach=3.0)
    lag, ref = lag.to(device), ref.to(device)
    with torch.no_grad():
        lag.means.copy_(0.5 + 0.4 * (lag.means - 0.5))
        ref.means.copy_(lag.means.double())
    x = points(600, dims).to(device)
    anchors = lag.reach_anchors(x)
    assert anchors.shape == (2 * 600, dims)
    offset = (anchors.reshape(2, 600, dims) - x.clamp(0, 1)[None]).abs().amax(dim=(1, 2)).cpu()
    assert torch.all(offset <= 3.0 * lag.cell.cpu() + 1e-6) and torch.all(offset > 1.5 * lag.cell.cpu())
    weights = torch.rand(600, generator=torch.Generator().manual_seed(9)).to(device)
    vw, vr = lag.guidance(x, anchors), ref.guidance(x.double(), anchors.double())
    assert rel_err(vw, vr) <= 1e-5
    assert not torch.allclose(vw, lag.guidance(x))  # the reach reads other cells than the samples' own
    (weights[:, None] * vw).sum().backward()
    (weights.double()[:, None] * vr).sum().backward()
    assert rel_err(lag.means.grad, ref.means.grad) <= 2e-5


def test_the_soft_assignment_pulls_every_candidate():
    lag, _ = make_pair(2, 2, 1, 2, 4, 10, 8, 2.0, "linear", guidance="soft")
    res = lag.layout.resolution[0]
    x = torch.tensor([[3.3 / res, 5.6 / res]])
    cell, _ = reference.locate(x, res, torch.float64)
    buckets = reference.corner_rows(cell, lag.layout, 0)[0].tolist()
    candidates = [j for b in buckets for j in range(b * 4, b * 4 + 4)]
    with torch.no_grad():  # the candidates within a few sigmas of x
        offsets = torch.randn(len(candidates), 2, generator=torch.Generator().manual_seed(3)) * 2.0 / res
        lag.means[candidates] = x[0] + offsets
    lag.guidance(x).sum().backward()
    pulled = torch.nonzero(lag.means.grad.abs().sum(1)).flatten().tolist()
    assert sorted(pulled) == sorted(set(candidates))
    hard, _ = make_pair(2, 2, 1, 2, 4, 10, 8, 2.0, "linear")
    with torch.no_grad():
        hard.means.copy_(lag.means)
    hard.guidance(x).sum().backward()
    assert torch.nonzero(hard.means.grad.abs().sum(1)).numel() == 1  # eq. 8: the winner only


def test_guidance_picks_the_nearest_point_when_alpha_and_sigma_are_equal():
    lag, _ = make_pair(2, 2, 1, 2, 4, 10, 8, 2.0, "linear")
    res = lag.layout.resolution[0]
    x = torch.tensor([[(3.5) / res, (5.5) / res]])  # a cell centre: all four alphas are 1/4
    cell, _ = reference.locate(x, res, torch.float64)
    buckets = reference.corner_rows(cell, lag.layout, 0)[0].tolist()
    with torch.no_grad():
        for n, bucket in enumerate(buckets):  # put every point of these buckets far away ...
            for j in range(bucket * 4, bucket * 4 + 4):
                lag.means[j] = x[0] + torch.tensor([0.3 + 0.01 * n, 0.2])
        nearest = buckets[2] * 4 + 1  # ... but one, close to x
        lag.means[nearest] = x[0] + torch.tensor([0.01, -0.02])
    value = lag.guidance(x)
    sigma = float(lag.sigma()[0])
    expected = -math.log(0.25 + 1e-5) + (0.01**2 + 0.02**2) / (2 * sigma**2)
    assert float(value[0, 0].detach()) == pytest.approx(expected, rel=1e-5)
    value.sum().backward()
    rows = torch.nonzero(lag.means.grad.abs().sum(1)).flatten().tolist()
    assert rows == [nearest]
    assert torch.allclose(lag.means.grad[nearest], -(x[0] - lag.means[nearest].detach()) / sigma**2, rtol=1e-4)


@pytest.mark.parametrize(("dims", "guidance", "interp"), [(2, "hard", "linear"), (2, "soft", "smoothstep"),
                                                     (3, "hard", "smoothstep"), (3, "soft", "linear")])  # fmt: skip
def test_the_guidance_measured_by_the_training_forward_matches_the_reference(dims, guidance, interp, device):
    """A training forward measures the guidance at its samples in the same kernel; guidance(x) at
    those samples returns it: value, and the gradients of both losses together, against float64."""
    lag, ref = make_pair(dims, 4, 2, 2, 4, 10, 4, 2.0, interp, guidance=guidance, guidance_sigma=2.0)
    lag, ref = lag.to(device), ref.to(device)
    with torch.no_grad():  # points near the samples, so that the soft pull reaches many candidates
        lag.means.copy_(0.5 + 0.4 * (lag.means - 0.5))
        ref.means.copy_(lag.means.double())
    lag.mask[1] = 0
    ref.mask[1] = 0
    assert lag.fuse_guidance
    x = points(600, dims).to(device)
    weights = torch.rand(600, 1, generator=torch.Generator().manual_seed(9)).to(device)
    cot = torch.randn(600, 4, generator=torch.Generator().manual_seed(2)).to(device)
    yw = lag(x)
    guided = lag._guided[1]
    vw = lag.guidance(x)
    assert vw is guided and lag._guided is None  # no second pass
    yr, vr = ref(x.double()), ref.guidance(x.double())
    assert rel_err(yw, yr) <= 1e-5 and rel_err(vw, vr) <= 1e-5 and torch.all(vw[:, 1] == 0)
    ((yw * cot).sum() + (weights * vw).sum()).backward()
    ((yr * cot.double()).sum() + (weights.double() * vr).sum()).backward()
    assert rel_err(lag.means.grad, ref.means.grad) <= 2e-5 and rel_err(lag.values.grad, ref.values.grad) <= 1e-5
    lag(x)
    stale = lag._guided[1]
    with torch.no_grad():
        lag.means.add_(1e-3)  # the means changed since the forward: guidance(x) measures again
    fresh = lag.guidance(x)
    assert fresh is not stale and not torch.equal(fresh, stale)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"D{c[0]}-K{c[4]}-{c[8]}")
def test_the_backward_with_the_forwards_kept_weights_equals_the_recomputed_one(case, device):
    """A training forward keeps its Gaussian weights; backward_params reading them gives the
    gradients it gives recomputing them (and, through the field, the float64 reference's above)."""
    lag, _ = make_pair(*case)
    lag = lag.to(device)
    x = points(500, case[0]).to(device)
    grid = lag.grid()
    out = torch.empty(500, lag.out_dims, device=device)
    kept = torch.full(gk.weights_shape(x, grid), math.nan, device=device)
    warp_call(gk.forward, x, lag.means.detach(), lag.values.detach(), grid, out, None, None, kept)
    assert not bool(kept.isnan().any())  # every weight written
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(2)).to(device)
    grads = []
    for weights in (kept, None):
        gm, gv = torch.zeros_like(lag.means), torch.zeros_like(lag.values)
        warp_call(gk.backward_params, x, lag.means.detach(), lag.values.detach(), grid, grad_out, gm, gv, weights)
        grads.append((gm, gv))
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7) and bool(b.abs().sum() > 0)


@pytest.mark.parametrize("dims", [2, 3])
def test_the_kernels_order_of_the_points_changes_no_result(dims, device):
    """The kernels see the points sorted by cell (spatial_order): a permuted batch gives the same
    rows, permuted, bit for bit, and the same parameter gradients within float32 rounding."""
    lag, _ = make_pair(dims, 4, 2, 2, 4, 10, 4, 2.0, "linear", guidance_reach=1.5)
    lag = lag.to(device)
    x = points(900, dims).to(device)
    order = spatial_order(x, lag.finest)
    cells = torch.from_numpy(order).to(device)
    key = (x[cells].clamp(0, 1) * lag.finest).long().clamp(max=lag.finest - 1)
    assert sorted(order.tolist()) == list(range(900)) and bool((key[1:, -1] >= key[:-1, -1]).all())
    perm = torch.randperm(900, generator=torch.Generator().manual_seed(4)).to(device)
    anchors, weights = lag.reach_anchors(x), torch.linspace(0, 1, 900, device=device)[:, None]
    results = []
    for p in (torch.arange(900, device=device), perm):
        lag.zero_grad()
        xp = x[p].clone().requires_grad_(True)
        at = anchors.reshape(2, 900, dims)[:, p].reshape(-1, dims)
        y, g = lag(xp), lag.guidance(xp, at)
        (y.pow(2).sum() + (g * weights[p]).sum()).backward()
        results.append((y, g, xp.grad, lag.means.grad.clone(), lag.values.grad.clone(), p))
    (y0, g0, gx0, gm0, gv0, _), (y1, g1, gx1, gm1, gv1, p1) = results
    assert torch.equal(y1, y0[p1]) and torch.equal(g1, g0[p1])
    assert torch.allclose(gx1, gx0[p1], rtol=1e-5, atol=1e-6)
    for a, b in ((gm1, gm0), (gv1, gv0)):
        assert rel_err(a, b.double()) <= 1e-5


def test_launches_split_over_cores_equal_one_launch(monkeypatch):
    from fieldscope.gpu import runtime

    lag, _ = make_pair(2, 4, 2, 2, 4, 10, 4, 2.0, "linear")
    x = points(30000, 2).requires_grad_(True)

    def run():
        lag.zero_grad()
        x.grad = None
        y = lag(x)
        g = lag.guidance(x.detach())
        (y.sum() + g.sum()).backward()
        return [y.detach().clone(), g.detach().clone(), lag.means.grad.clone(), lag.values.grad.clone(),
                x.grad.clone()]  # fmt: skip

    # the split as on a 2- or 3-core machine, whatever this one has (the launches share the pool)
    results = {}
    for workers in (1, 2, 3):
        monkeypatch.setattr(runtime, "cpu_workers", lambda w=workers: w)
        results[workers] = run()
    for split in (results[2], results[3]):
        for a, b in zip(split, results[1], strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize(
    "variant",
    [
        {"guidance_power": 4.0},
        {"guidance_error": True},
        {
            "guidance": "soft",
            "guidance_reach": 2.0,
            "guidance_power": 2.0,
            "guidance_error": True,
            "guidance_sigma": 1.5,
        },
    ],
    ids=["power", "error", "soft-reach-power-error-sigma"],
)
def test_weighted_guidance_loss_matches_the_float64_reference(variant):
    """The field's guidance loss with W^p and the per-sample error weighting: value and gradient to
    the means against the float64 torch field (the error from its own forward)."""
    from fieldscope.fields.scenes.image import ImageScene

    torch.manual_seed(0)
    config = GaussianBucketsConfig(levels=4, lagrangian_levels=2, log2_table_size=10, base_resolution=4,
                                   growth=2.0, guidance_warmup=0, **variant)  # fmt: skip
    warp_field = GaussianBucketsField(config)
    ref = GaussianBucketsField(config, impl="torch")
    ref.load_state(warp_field.state())
    ref.double()
    image = torch.rand(24, 20, 3, generator=torch.Generator().manual_seed(4)).numpy()
    batch = ImageScene(image, name="noise").sample(500, torch.Generator().manual_seed(5))
    double = type(batch)(batch.coords.double(), batch.targets.double(), batch.weights.double())
    losses = []
    for field, b in ((warp_field, batch), (ref, double)):
        field(b.coords)  # the training forward whose error the weighting reads
        loss, _ = field.extra_loss(b, 100)
        loss.backward()
        losses.append(loss)
    assert rel_err(losses[0], losses[1]) <= 1e-5
    grad_w, grad_r = warp_field.encoding.lagrangian.means.grad, ref.encoding.lagrangian.means.grad
    assert rel_err(grad_w, grad_r) <= 2e-5
    plain = GaussianBucketsField(replace(config, guidance_power=1.0, guidance_error=False))
    plain.load_state(warp_field.state())
    plain(batch.coords)
    assert not torch.allclose(plain.extra_loss(batch, 100)[0], losses[0])  # the weighting changes the loss
