"""The surface task's parts on their own: NeuS's SDF-to-opacity conversion and its gradient against
a float64 reference, the SDF's gradient and curvature (second differences) against an analytic
sphere, the numerical gradient's step following the finest active level."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.kinds.hashgrid import HashGridConfig, level_resolution
from fieldscope.fields.render.volume_rendering import Samples
from fieldscope.fields.scenes.levels import CoarseToFine, finest_active_step
from fieldscope.fields.scenes.surface import sphere_sdf
from fieldscope.fields.scenes.surface_head import alpha_density, neus_alpha, next_on_ray, sdf_geometry

RADIUS = 0.3


class SphereField(torch.nn.Module):
    """An analytic signed distance: a sphere of RADIUS around the cube's centre, (N, 3) -> (N, 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sphere_sdf(x, RADIUS)[:, None]


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_neus_alpha_is_the_logistic_cdf_ratio_in_float64() -> None:
    generator = torch.Generator().manual_seed(0)
    sdf = (torch.rand(200, generator=generator, dtype=torch.float64) - 0.5) * 0.2
    following = sdf + (torch.rand(200, generator=generator, dtype=torch.float64) - 0.5) * 0.02
    for s in (20.0, 200.0):
        before, after = logistic(s * sdf.numpy()), logistic(s * following.numpy())
        reference = np.clip((before - after + 1e-5) / (before + 1e-5), 0.0, 1.0 - 1e-6)
        np.testing.assert_allclose(neus_alpha(sdf, following, s).numpy(), reference, rtol=1e-12, atol=1e-15)
    # far from the surface in float32: no overflow, and no opacity where the SDF grows
    far = torch.tensor([50.0, -50.0, 0.01])
    assert torch.isfinite(neus_alpha(far, far - 0.001, 100.0)).all()
    assert float(neus_alpha(torch.tensor([0.0]), torch.tensor([0.05]), 100.0)[0]) < 1e-4


def test_neus_alpha_gradients_match_finite_differences_in_float64() -> None:
    generator = torch.Generator().manual_seed(0)
    sdf = ((torch.rand(16, generator=generator, dtype=torch.float64) - 0.5) * 0.1).requires_grad_(True)
    following = (sdf.detach() - 0.004).requires_grad_(True)  # falling along the ray: alpha > 0
    s = torch.tensor(60.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(neus_alpha, (sdf, following, s))
    alpha = (torch.rand(8, generator=generator, dtype=torch.float64) * 0.9).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: alpha_density(a, 0.01), (alpha,))


def test_a_ray_through_the_surface_keeps_neus_transmittance_as_a_density() -> None:
    """Along a ray whose SDF falls from 0.05 to -0.05 on a lattice, the transmittance the density
    gives (exp(-sum sigma dt)) is NeuS's telescoping product Phi(s f_last) / Phi(s f_first)."""
    dt, s = 0.002, 80.0
    t = torch.arange(51, dtype=torch.float64) * dt
    sdf = 0.05 - t
    samples = Samples(torch.zeros(51, dtype=torch.long), t, torch.tensor([0, 51], dtype=torch.int32))
    following = next_on_ray(sdf, samples, dt)
    assert float(following[-1]) == float(sdf[-1])  # the last sample has no next one: alpha 0
    sigma = alpha_density(neus_alpha(sdf, following, s), dt)
    transmittance = torch.exp(-(sigma * dt).sum())
    expected = logistic(s * -0.05) / logistic(s * 0.05)
    assert float(transmittance) == pytest.approx(expected, rel=1e-2)  # NeuS's 1e-5 in each ratio


def test_the_next_sample_is_on_the_same_ray_and_lattice() -> None:
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    t = torch.tensor([0.1, 0.2, 0.5, 0.1, 0.2])  # ray 0: a gap after 0.2; ray 1 starts at index 3
    samples = Samples(torch.tensor([0, 0, 0, 1, 1]), t, torch.tensor([0, 3, 5], dtype=torch.int32))
    assert next_on_ray(values, samples, 0.1).tolist() == [2.0, 2.0, 3.0, 5.0, 5.0]


def points_near_the_sphere(count: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    direction = torch.nn.functional.normalize(torch.randn(count, 3, generator=generator), dim=-1)
    radius = RADIUS + 0.1 * (torch.rand(count, 1, generator=generator) - 0.5)
    return 0.5 + direction * radius


@pytest.mark.parametrize("analytic", [False, True])
def test_the_gradient_and_curvature_of_a_sphere(analytic: bool) -> None:
    field = SphereField()
    x = points_near_the_sphere(200)
    geometry = sdf_geometry(field, x, field(x)[:, 0], 1e-3, analytic=analytic, laplacian=True)
    offset = x - 0.5
    distance = offset.norm(dim=-1)
    torch.testing.assert_close(geometry.gradient, offset / distance[:, None], atol=2e-3, rtol=0)
    # the Laplacian of |x - c| - r in 3D is 2 / |x - c|
    assert geometry.laplacian is not None
    torch.testing.assert_close(geometry.laplacian, 2.0 / distance, rtol=0.03, atol=0)


def test_the_curvature_term_is_the_finite_difference_laplacian() -> None:
    """At a larger step, on float64 points: the second differences by hand."""
    field = SphereField()
    x = points_near_the_sphere(50).double()
    h = 0.02
    geometry = sdf_geometry(field, x, field(x)[:, 0], h, analytic=False, laplacian=True)
    by_hand = torch.zeros(50, dtype=torch.float64)
    for axis in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[axis] = h
        by_hand += (field(x + e)[:, 0] + field(x - e)[:, 0] - 2.0 * field(x)[:, 0]) / h**2
    assert geometry.laplacian is not None
    torch.testing.assert_close(geometry.laplacian, by_hand)


def test_the_numerical_gradients_step_follows_the_finest_active_level() -> None:
    config = HashGridConfig(dims=3, out_dims=2, levels=6, base_resolution=8, growth=1.5, log2_table_size=12)
    field = configs.build_field(config)
    schedule = CoarseToFine(start_levels=2, steps_per_level=10)
    steps = []
    for step in (0, 9, 10, 25, 1000):
        schedule.apply(field, step)
        steps.append(finest_active_step(field))
    active = [2, 2, 3, 4, 6]
    expected = [1.0 / level_resolution(8, 1.5, count - 1) for count in active]
    assert steps == pytest.approx(expected)
    assert steps[1] == steps[0] and steps[2] < steps[1] < 1.0 and steps[-1] < steps[-2]
    assert math.isclose(steps[-1], 1.0 / level_resolution(8, 1.5, 5))
