"""The surface task on a sphere that make-views rendered (24 views, 64x64): the SDF starts as a
sphere, the numerical gradient's step follows coarse to fine, the options turn Neuralangelo's parts
off, and a short fit recovers the sphere's radius."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fieldscope.fields.render.mesh_export import extract_mesh
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.levels import finest_active_step
from fieldscope.fields.scenes.surface import SurfaceScene
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run
from tests.fields.surface_views import UNIT_RADIUS, write_sphere_views

SMALL_FIELD = FieldOptions(settings={"levels": 6, "log2_table_size": 14, "base_resolution": 8}, max_resolution=96)
#: A small, quick setting: fewer samples per ray than the image size suggests, a short initialisation.
QUICK = {"render_steps": 256, "init_steps": 60}
STEPS = 80


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sphere_views(tmp_path_factory.mktemp("sphere"))


def mesh_radii(field: Any, resolution: int = 64) -> np.ndarray:
    """Distances (V,) of the zero level's marching-cubes vertices from the cube's centre."""
    vertices, _ = extract_mesh(field, resolution)
    return np.linalg.norm(vertices - 0.5, axis=1)


def test_the_folder_opens_as_a_surface_scene_that_starts_from_a_sphere(views: Path) -> None:
    scene = open_scene(views, task="surface", sphere_radius=0.3, coarse_to_fine=0, **QUICK)
    assert isinstance(scene, SurfaceScene)
    facts = scene.describe()
    assert facts["task"] == "surface" and facts["level"] == 0.0 and facts["inside_is_low"] is True
    assert facts["head"]["kind"] == "surface" and scene.out_dims == 16
    trainer = build_run(scene, SMALL_FIELD, TrainOptions(batch_size=4096))
    scene.before_step(trainer.field, 0)
    radii = mesh_radii(trainer.field)
    assert abs(np.median(radii) - 0.3) < 0.015 and np.percentile(radii, 95) - np.percentile(radii, 5) < 0.03
    # the occupancy grid was filled at once: cells far outside the sphere are empty, its inside is not
    occupied = scene.head.grid.occupied
    assert not bool(occupied[0, 0, 0]) and bool(occupied[32, 32, 32])


def test_the_gradient_step_follows_the_levels_coarse_to_fine_opens(views: Path) -> None:
    scene = open_scene(views, task="surface", coarse_to_fine=5, start_levels=2, init_steps=0, render_steps=256)
    field = build_run(scene, SMALL_FIELD, TrainOptions(batch_size=4096)).field
    steps = []
    for step in (0, 4, 5, 10, 100):
        scene.before_step(field, step)
        assert scene.head.step == finest_active_step(field)
        steps.append(scene.head.step)
    assert sum(field.level_mask) == 6
    assert steps[0] == steps[1] > steps[2] > steps[3] > steps[4]
    # the curvature weight shrinks with the step (after its warm-up)
    assert scene.curvature_weight_now() == pytest.approx(5e-4 * steps[4] / steps[0])


def test_the_options_turn_neuralangelos_parts_off(views: Path) -> None:
    options = {"numerical_gradient": False, "coarse_to_fine": 0, "curvature_weight": 0.0, "init_steps": 0}
    scene = open_scene(views, task="surface", render_steps=256, **options)
    field = build_run(scene, SMALL_FIELD, TrainOptions(batch_size=4096)).field
    scene.before_step(field, 0)
    assert all(field.level_mask) and scene.schedule is None
    assert scene.head.analytic and not scene.head.laplacian
    # analytic gradients reach the hash table through the eikonal term: a double backward, which
    # the Warp encoding lacks, so the field runs its torch implementation
    assert field.encoding.impl == "torch"
    loss, metrics = scene.loss(field, scene.sample(2048, torch.Generator().manual_seed(1)))
    assert "curvature" not in metrics and metrics["eikonal"] > 0.0
    (grad,) = torch.autograd.grad(loss, field.encoding.table)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0.0


def test_a_short_fit_recovers_the_sphere(views: Path) -> None:
    """Fixed seed and steps; the SDF starts as a sphere 10% too large (0.44 for 0.4). The issue's
    goal is 2%: over five short fits (80-120 steps, 64 rays a step, from 10% too large or too small)
    the median radius came out 0.969-0.996 of the truth and wanders by about 1.5% from step to step;
    this fit (seed 0, 80 steps) gives 0.980, the same to the bit in two runs in one process on the
    CPU. Hence 4%; a biased conversion fails it (VolSDF's density: 0.88-0.94)."""
    scene = open_scene(views, task="surface", sphere_radius=0.44, **QUICK)
    trainer = build_run(scene, SMALL_FIELD, TrainOptions(batch_size=16384, seed=0))
    for _ in range(STEPS):
        trainer.step()
    radii = mesh_radii(trainer.field) / UNIT_RADIUS
    assert abs(np.median(radii) - 1.0) < 0.04, np.percentile(radii, [5, 50, 95])
    assert np.percentile(radii, 95) - np.percentile(radii, 5) < 0.1
    assert trainer.metrics["batch_psnr"] > 20.0
