"""Mesh ground truth from the Warp queries against analytic shapes, including the sign."""

import numpy as np
import pytest
import torch
import trimesh

from fieldscope.fields.scenes.mesh import MeshOracle


def sphere(radius=0.3, centre=(0.5, 0.5, 0.5), subdivisions=5):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return mesh.vertices + np.asarray(centre), mesh.faces


def box(half=(0.2, 0.25, 0.15), centre=(0.5, 0.5, 0.5)):
    mesh = trimesh.creation.box(extents=2 * np.asarray(half))
    return mesh.vertices + np.asarray(centre), mesh.faces


def box_sdf(p, half, centre):
    q = (p - torch.tensor(centre)).abs() - torch.tensor(half)
    return q.clamp_min(0).norm(dim=-1) + q.max(dim=-1).values.clamp_max(0)


def random_points(n, seed=0):
    return torch.rand(n, 3, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sign", ["winding", "parity"])
def test_sphere_distance_and_sign(sign, device):
    v, f = sphere()
    oracle = MeshOracle(v, f, sign=sign, device=str(device))
    p = random_points(20000)
    d, n = (a.cpu() for a in oracle.signed_distance(p.to(device)))
    exact = (p - 0.5).norm(dim=-1) - 0.3
    # the icosphere's flat faces sit up to ~1e-4 inside the true sphere
    assert torch.allclose(d, exact, atol=2e-4)
    clear = exact.abs() > 1e-3
    assert torch.equal(d[clear] < 0, exact[clear] < 0)
    assert torch.equal(oracle.inside(p.to(device)).cpu()[clear], exact[clear] < 0)
    radial = (p - 0.5) / (p - 0.5).norm(dim=-1, keepdim=True)
    assert float((n * radial).sum(-1).min()) > 0.99  # outward face normals


@pytest.mark.parametrize("sign", ["winding", "parity"])
def test_box_distance_and_sign_including_edges_and_corners(sign, device):
    half, centre = (0.2, 0.25, 0.15), (0.5, 0.5, 0.5)
    v, f = box(half, centre)
    oracle = MeshOracle(v, f, sign=sign, device=str(device))
    p = random_points(20000, seed=1)
    d = oracle.signed_distance(p.to(device))[0].cpu()
    exact = box_sdf(p, half, centre)
    assert torch.allclose(d, exact, atol=1e-5)
    # points on the axis-aligned planes through the box's edges: where naive ray parity breaks
    grid = torch.tensor([[0.2, 0.25, 0.5], [0.5, 0.25, 0.2], [0.5, 0.5, 0.5], [0.5, 0.3, 0.36], [0.8, 0.75, 0.65]])
    assert oracle.inside(grid.to(device)).tolist() == [False, False, True, True, False]


def test_auto_sign_picks_parity_for_closed_and_winding_for_open_meshes():
    v, f = sphere(subdivisions=3)
    assert MeshOracle(v, f).sign == "parity"
    assert MeshOracle(v, f[5:]).sign == "winding"


def test_a_mesh_with_a_hole_keeps_a_sane_sign(device):
    v, f = sphere(subdivisions=4)
    centres = v[f].mean(axis=1) - 0.5
    holed = f[centres[:, 2] < 0.22]  # cut a cap off the top: a hole of about 40 degrees
    assert len(holed) < len(f)
    oracle = MeshOracle(v, holed, device=str(device))
    assert oracle.sign == "winding"
    g = torch.Generator().manual_seed(2)
    direction = torch.randn(4000, 3, generator=g)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    radius = torch.rand(4000, 1, generator=g)
    inner = (0.5 + direction * radius * 0.15).to(device)  # well inside (radius 0.3, the hole's rim 0.22 up)
    outer = (0.5 + direction * (0.36 + radius * 0.1)).to(device)
    d_in, _ = oracle.signed_distance(inner)
    d_out, _ = oracle.signed_distance(outer)
    assert bool((d_in < 0).all()) and bool(oracle.inside(inner).all())
    assert bool((d_out > 0).all()) and not bool(oracle.inside(outer).any())
    # straight above the hole, ray parity along z would call these inside; the winding number does not
    above = torch.tensor([[0.5, 0.5, 0.9], [0.5, 0.51, 0.95]], device=device)
    assert not bool(oracle.inside(above).any())


def test_surface_samples_lie_on_the_surface_and_cover_it_evenly(device):
    v, f = sphere()
    oracle = MeshOracle(v, f, sign="none", device=str(device))
    p, _n = oracle.sample_surface(20000, torch.Generator().manual_seed(3))
    p = p.cpu()
    assert torch.allclose((p - 0.5).norm(dim=-1), torch.full((20000,), 0.3), atol=2e-4)
    assert abs(oracle.area - 4 * np.pi * 0.09) < 2e-3
    octant = ((p - 0.5) > 0).long() @ torch.tensor([1, 2, 4])
    counts = torch.bincount(octant, minlength=8).float()
    assert float(counts.min()) > 0.9 * 2500 and float(counts.max()) < 1.1 * 2500
    d, _ = oracle.signed_distance(p.to(device))
    assert float(d.abs().max()) < 1e-5
