"""The headless 3D renderer against analytic answers: silhouettes and depths of a sphere by sphere
tracing (SDF) and by first crossing (occupancy), shading, and maximum intensity projection."""

import math

import numpy as np
import pytest
import torch

from fieldscope.fields.render.cameras import camera_rays, orbit_camera
from fieldscope.fields.render.render3d import RenderOptions, first_crossing, max_intensity, render_field, sphere_trace

CENTRE, RADIUS = torch.tensor([0.5, 0.45, 0.55]), 0.3


class Sphere(torch.nn.Module):
    """sdf: distance to the sphere; logit: 20 * (R - r), inside high; blob: exp(-r^2 / 0.02)."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        r = (x - CENTRE).norm(dim=-1, keepdim=True)
        if self.kind == "sdf":
            return r - RADIUS
        if self.kind == "logit":
            return 20.0 * (RADIUS - r)
        return torch.exp(-(r**2) / 0.02)


def analytic_hits(origins, directions):
    oc = origins - CENTRE
    b = (oc * directions).sum(-1)
    disc = b * b - ((oc * oc).sum(-1) - RADIUS**2)
    return disc > 0, -b - torch.sqrt(disc.clamp_min(0))


@pytest.fixture(scope="module")
def rays():
    camera = orbit_camera(35.0, 25.0, 1.8, 96, 80)
    return camera, *camera_rays(camera)


@pytest.mark.parametrize("method", ["sphere_trace", "first_crossing"])
def test_surfaces_have_the_analytic_silhouette_and_depth(rays, method):
    _camera, origins, directions = rays
    expected_hit, expected_t = analytic_hits(origins, directions)
    options = RenderOptions()
    if method == "sphere_trace":
        hit, t = sphere_trace(Sphere("sdf"), origins, directions, options)
    else:
        hit, t = first_crossing(Sphere("logit"), origins, directions, options, 0.0, inside_is_low=False)
    grazing = (expected_hit != hit).sum()
    assert int(grazing) <= 0.01 * hit.numel()  # only pixels whose ray grazes the rim may differ
    both = hit & expected_hit
    assert int(both.sum()) > 0.1 * hit.numel()
    points = origins[both] + t[both, None] * directions[both]
    assert float(((points - CENTRE).norm(dim=-1) - RADIUS).abs().max()) < 1e-3  # on the sphere
    assert float((t[both] - expected_t[both]).abs().max()) < 0.05  # its front side (the back is 0.1+ further)


def test_a_rendered_sphere_is_lit_by_a_headlight(rays):
    camera, *_ = rays
    facts = {"task": "sdf", "level": 0.0, "inside_is_low": True}
    image = render_field(Sphere("sdf"), facts, camera)
    assert image.shape == (80, 96, 4)
    alpha = image[..., 3]
    assert 0.1 < alpha.mean() < 0.5 and set(np.unique(alpha)) <= {0.0, 1.0}
    # the brightest pixel faces the camera: albedo * (0.25 + 0.75 * 1)
    assert image[..., 0].max() == pytest.approx(0.82, abs=0.01)
    assert image[alpha == 0].max() == 0.0


def test_maximum_intensity_projection_of_a_blob(rays):
    camera, origins, directions = rays
    mip = max_intensity(Sphere("blob"), origins, directions, RenderOptions(steps=1024))
    oc = origins - CENTRE
    closest = (oc - (oc * directions).sum(-1, keepdim=True) * directions).norm(dim=-1)  # ray's distance to the centre
    expected = torch.exp(-(closest**2) / 0.02)
    assert float((mip - expected).abs().max()) < 1e-3
    facts = {"task": "volume", "level": 0.5, "inside_is_low": False}
    grey = render_field(Sphere("blob"), facts, camera, options=RenderOptions(steps=1024))
    assert np.allclose(grey[..., 0].reshape(-1), mip.numpy(), atol=1e-6)


def test_orbit_cameras_look_at_the_cube_centre():
    for azimuth, elevation in ((0.0, 0.0), (120.0, -30.0), (10.0, 90.0)):
        camera = orbit_camera(azimuth, elevation, 2.5, 64, 64)
        origins, directions = camera_rays(camera)
        eye = origins[0].double()
        centre_ray = directions.reshape(64, 64, 3)[31:33, 31:33].mean(dim=(0, 1)).double()
        to_centre = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64) - eye
        assert float(to_centre.norm()) == pytest.approx(2.5)
        cosine = float(torch.nn.functional.cosine_similarity(centre_ray, to_centre, dim=0))
        assert cosine > math.cos(math.radians(0.5))
