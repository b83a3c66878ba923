"""NeRF volume rendering kernels against float64 PyTorch references: compositing and its gradients,
the distortion loss, ray marching against brute force, and empty-space skipping."""

import math

import pytest
import torch

from fieldscope.fields.reference import composite_reference, distortion_reference
from fieldscope.fields.render.volume_rendering import (
    OccupancyGrid,
    Samples,
    composite,
    density,
    distortion_loss,
    march_rays,
    offsets_of,
    render_rays,
)


def random_rays(rays=40, seed=0, max_samples=30):
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, max_samples, (rays,), generator=g)
    counts[3] = 0  # an empty ray
    offsets = offsets_of(counts)
    s = int(offsets[-1])
    sigma = torch.rand(s, generator=g) * 40.0 * (torch.rand(s, generator=g) < 0.7)
    rgb = torch.rand(s, 3, generator=g)
    dt = 0.005 + 0.02 * torch.rand(s, generator=g)
    t = torch.zeros(s)
    for r in range(rays):  # increasing distances along each ray
        a, b = int(offsets[r]), int(offsets[r + 1])
        t[a:b] = 0.3 + torch.cumsum(dt[a:b], 0) - dt[a:b] / 2
    return sigma, rgb, t, dt, offsets


@pytest.mark.parametrize("threshold", [0.0, 1e-4, 0.05])
def test_composite_forward_matches_the_float64_reference(threshold, device):
    sigma, rgb, t, dt, offsets = random_rays()
    on = [a.to(device) for a in (sigma, rgb, t, dt, offsets)]
    color, opacity, depth, weights, used = (a.cpu() for a in composite(*on, threshold))
    ref = composite_reference(sigma.double(), rgb.double(), t.double(), dt.double(), offsets, threshold)
    for got, want in zip((color, opacity, depth, weights), ref, strict=True):
        assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-6)
    assert bool((opacity <= 1.0 + 1e-6).all())
    if threshold > 0.01:
        assert int(used.sum()) < int(offsets[-1])  # early termination happened somewhere


@pytest.mark.parametrize("threshold", [0.0, 0.05])
def test_composite_gradients_match_the_reference_with_random_cotangents(threshold, device):
    sigma, rgb, t, dt, offsets = random_rays(seed=1)
    g = torch.Generator().manual_seed(5)
    cot = [torch.randn(40, 3, generator=g), torch.randn(40, generator=g), torch.randn(40, generator=g)]
    cot.append(torch.randn(sigma.shape[0], generator=g))
    s32, c32 = sigma.to(device).clone().requires_grad_(), rgb.to(device).clone().requires_grad_()
    outs = composite(s32, c32, t.to(device), dt.to(device), offsets.to(device), threshold)[:4]
    sum((o * c.to(device)).sum() for o, c in zip(outs, cot, strict=True)).backward()
    s64, c64 = sigma.double().requires_grad_(), rgb.double().requires_grad_()
    ref = composite_reference(s64, c64, t.double(), dt.double(), offsets, threshold)
    sum((o * c.double()).sum() for o, c in zip(ref, cot, strict=True)).backward()
    assert torch.allclose(s32.grad.cpu().double(), s64.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(c32.grad.cpu().double(), c64.grad, rtol=1e-5, atol=1e-6)


def test_composite_gradient_by_finite_differences_on_a_tiny_ray(device):
    sigma = torch.tensor([3.0, 10.0, 0.5, 25.0], dtype=torch.float64, device=device)
    rgb = torch.rand(4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(device)
    t = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64, device=device)
    dt = torch.full((4,), 0.1, dtype=torch.float64, device=device)
    offsets = torch.tensor([0, 4], dtype=torch.int32, device=device)
    weight = torch.tensor([[0.3, -0.7, 1.1]], device=device)

    def objective(s):
        color, opacity, depth, _, _ = composite(s.float(), rgb.float(), t.float(), dt.float(), offsets, 0.0)
        return float((color.double() * weight).sum() + 0.5 * opacity.double().sum() - depth.double().sum())

    s = sigma.clone().float().requires_grad_()
    color, opacity, depth, _, _ = composite(s, rgb.float(), t.float(), dt.float(), offsets, 0.0)
    ((color * weight.float()).sum() + 0.5 * opacity.sum() - depth.sum()).backward()
    for i in range(4):
        h = 1e-2
        up, down = sigma.clone(), sigma.clone()
        up[i] += h
        down[i] -= h
        numeric = (objective(up) - objective(down)) / (2 * h)
        assert float(s.grad[i]) == pytest.approx(numeric, rel=2e-3, abs=2e-5)


def test_distortion_loss_and_gradient_match_the_pairwise_definition(device):
    _, _, t, dt, offsets = random_rays(rays=12, seed=3)
    weights = torch.rand(t.shape[0], generator=torch.Generator().manual_seed(4)) * 0.2
    w32 = weights.to(device).clone().requires_grad_()
    loss = distortion_loss(w32, t.to(device), dt.to(device), offsets.to(device))
    w64 = weights.double().requires_grad_()
    ref = distortion_reference(w64, t.double(), dt.double(), offsets)
    assert torch.allclose(loss.cpu().double(), ref, rtol=1e-5, atol=1e-7)
    cot = torch.randn(12, generator=torch.Generator().manual_seed(6))
    (loss * cot.to(device)).sum().backward()
    (ref * cot.double()).sum().backward()
    assert torch.allclose(w32.grad.cpu().double(), w64.grad, rtol=1e-4, atol=1e-6)


def camera_rays(count, seed=0):
    """Rays from points around the cube towards random points inside it."""
    g = torch.Generator().manual_seed(seed)
    origins = 0.5 + 1.2 * torch.nn.functional.normalize(torch.randn(count, 3, generator=g), dim=-1)
    targets = 0.2 + 0.6 * torch.rand(count, 3, generator=g)
    return origins, torch.nn.functional.normalize(targets - origins, dim=-1)


def brute_force_march(origins, directions, occupied, dt, jitter):
    """Every lattice point t_k = (k + jitter) dt up to 4 units, kept when inside the cube and occupied."""
    res = occupied.shape[0]
    k = torch.arange(int(4.0 / dt) + 2, dtype=torch.float64)
    t = (k[None, :] + jitter.double()[:, None]) * dt
    p = origins.double()[:, None, :] + t[..., None] * directions.double()[:, None, :]
    inside = ((p >= 0) & (p <= 1)).all(-1)
    cell = (p * res).floor().long().clamp(0, res - 1)
    keep = inside & occupied[cell[..., 0], cell[..., 1], cell[..., 2]]
    return [t[r][keep[r]] for r in range(origins.shape[0])]


@pytest.mark.parametrize("fill", [1.0, 0.3])
def test_marching_takes_the_occupied_lattice_points_brute_force_finds(fill, device):
    origins, directions = camera_rays(200)
    occupied = torch.rand(16, 16, 16, generator=torch.Generator().manual_seed(1)) < fill
    jitter = torch.rand(200, generator=torch.Generator().manual_seed(2))
    dt = math.sqrt(3) / 128
    marched = march_rays(origins.to(device), directions.to(device), occupied.to(device), dt, jitter.to(device))
    samples = Samples(marched.ray.cpu(), marched.t.cpu(), marched.offsets.cpu())
    expected = brute_force_march(origins, directions, occupied, dt, jitter)
    mismatched = 0
    for r in range(200):
        got = samples.t[int(samples.offsets[r]) : int(samples.offsets[r + 1])].double()
        want = expected[r]
        if got.shape != want.shape or not torch.allclose(got, want, atol=1e-5):
            mismatched += 1  # a lattice point within float rounding of a cell face may go either way
    assert mismatched <= 2
    assert int(samples.offsets[-1]) == sum(len(e) for e in expected) or mismatched
    assert torch.equal(samples.ray, torch.repeat_interleave(torch.arange(200), samples.counts))


CENTRE = torch.tensor([0.45, 0.55, 0.5])


class Blob(torch.nn.Module):
    """A density field (N, 3) -> (N, 4): log-density 3 (sigma = 20) inside a ball of radius 0.2, -40
    (nothing) outside; the three other outputs are colour features."""

    def forward(self, x):
        r = (x - CENTRE.to(x.device)).norm(dim=-1, keepdim=True)
        raw = torch.where(r < 0.2, torch.full_like(r, 3.0), torch.full_like(r, -40.0))
        return torch.cat([raw, torch.sin(9 * x)], dim=-1)


class ColourHead:
    """What render_rays asks of a head: the density of output 0, and a colour per sample."""

    def sigma(self, raw, samples=None, dt=0.0):
        return density(raw)

    def colour_at(self, field, points, features, directions):
        return torch.sigmoid(features[:, 1:] + directions)


colour_head = ColourHead()


def cell_centre_distance(res):
    i = (torch.arange(res) + 0.5) / res
    centres = torch.stack(torch.meshgrid(i, i, i, indexing="ij"), dim=-1)
    return (centres - CENTRE).norm(dim=-1)


def test_occupancy_grid_update_marks_the_cells_with_density(device):
    grid = OccupancyGrid(resolution=32, share=1.0).to(device)
    assert bool(grid.occupied.all())  # nothing is skipped before the field was asked
    grid.update(Blob(), dt=math.sqrt(3) / 256, generator=torch.Generator().manual_seed(0))
    distance = cell_centre_distance(32)
    half_diagonal = math.sqrt(3) / 64
    occupied = grid.occupied.cpu()
    assert bool(occupied[distance < 0.2 - half_diagonal].all())
    assert not bool(occupied[distance > 0.2 + half_diagonal].any())


def test_occupancy_grid_looks_at_every_cell_within_one_over_share_updates(device):
    # random picks of a quarter per update would leave 0.75^4 = 32% of the cells unlooked at (and
    # so occupied: every ray marches through them) after 4 updates
    grid = OccupancyGrid(resolution=16, share=0.25).to(device)
    generator = torch.Generator().manual_seed(0)
    looks = torch.cat([grid._next_cells(16**3 // 4, generator) for _ in range(4)])
    assert torch.equal(torch.sort(looks).values, torch.arange(16**3))
    grid = OccupancyGrid(resolution=16, share=0.25).to(device)
    for _ in range(4):
        grid.update(Blob(), dt=math.sqrt(3) / 256, generator=generator)
    assert bool(grid.seen.all())
    assert not bool(grid.occupied.cpu()[cell_centre_distance(16) > 0.2 + math.sqrt(3) / 32].any())


def test_empty_space_skipping_gives_the_same_image_as_no_skipping(device):
    field = Blob()
    covering = (cell_centre_distance(32) < 0.2 + math.sqrt(3) / 64).to(device)  # every cell touching the ball
    assert 0.02 < float(covering.float().mean()) < 0.2
    origins, directions = (a.to(device) for a in camera_rays(3000, seed=3))
    background = torch.tensor([1.0, 1.0, 1.0], device=device)
    dt = math.sqrt(3) / 256
    everywhere = torch.ones(32, 32, 32, dtype=torch.bool, device=device)
    with torch.no_grad():
        skipped = render_rays(field, colour_head, origins, directions, background, covering, dt)
        full = render_rays(field, colour_head, origins, directions, background, everywhere, dt)
    assert skipped.marched < 0.5 * full.marched
    assert float(full.opacity.max()) > 0.99 and float(full.opacity.min()) < 0.01  # rays hit and miss
    assert torch.allclose(skipped.color, full.color, atol=1e-6)
    assert torch.allclose(skipped.depth, full.depth, atol=1e-6)
