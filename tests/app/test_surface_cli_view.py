"""The surface task end to end on a sphere that make-views rendered: fit -> snapshot -> render (a
test view) and export-mesh (on the mesh, in its own coordinates, with colours); the window's view
of the trained snapshot is the headless renderer's picture of the same camera."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.cli import main
from fieldscope.app.render.camera import test_view_camera as view_camera
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.app.ui.panels.levels import field_levels_text
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.render.mesh_export import read_mesh_bytes
from fieldscope.fields.render.render3d import RenderOptions, render_field, sphere_trace, unit_rays
from tests.app.test_nerf_view import torch_camera
from tests.fields.surface_views import CENTRE, RADIUS, write_sphere_views

SMALL = ["--levels", "6", "--log2-table-size", "14", "--base-resolution", "8", "--max-resolution", "96", "--quiet"]
QUICK = ["--scene-option=render_steps=256", "--scene-option=init_steps=60", "--scene-option=coarse_to_fine=10"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("surface")
    views = write_sphere_views(folder)
    out = folder / "sphere.fsnap"
    args = ["fit", str(views), "--task", "surface", "--out", str(out), "--steps", "30", "--batch-size", "16384"]
    assert main([*args, *SMALL, *QUICK]) == 0
    return out


def test_the_snapshot_reloads_with_its_head_and_renders_a_test_view(model: Path, tmp_path: Path) -> None:
    snapshot = snapshots.load(model)
    assert snapshot.scene["task"] == "surface" and snapshot.scene["head"]["kind"] == "surface"
    assert "head.variance" in snapshot.params and np.isfinite(snapshot.metrics["psnr"])
    assert "field: 6 of 6 levels on, gradient step 1/" in field_levels_text(snapshot)
    out = tmp_path / "view.png"
    assert main(["render", str(model), "--out", str(out), "--view", "0"]) == 0
    image = iio.imread(out)
    assert image.shape == (64, 64, 4)
    hit = image[..., 3] > 0
    assert 0.1 < hit.mean() < 0.9 and hit[32, 32]  # the sphere in the middle, background around it


def test_export_mesh_lies_on_the_sphere_in_its_own_coordinates(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "sphere.ply"
    assert main(["export-mesh", str(model), "--out", str(out), "--resolution", "64"]) == 0
    vertices, faces, colours = read_mesh_bytes(out.read_bytes(), ".ply")
    radii = np.linalg.norm(vertices - CENTRE, axis=1)
    assert len(faces) > 1000 and abs(np.median(radii) / RADIUS - 1.0) < 0.1
    assert colours is not None and colours.shape == vertices.shape and np.ptp(colours) > 0.1


def test_the_windows_view_is_the_headless_render(renderer: Any, model: Path) -> None:
    """At the first test view: the same pixels show the surface (the shaded picture against
    render_field's alpha), at the same points (the view's surface points against sphere tracing)."""
    snapshot = snapshots.load(model)
    facts = dict(snapshot.scene)
    view = facts["test_views"][0]
    camera = view_camera(view, np.asarray(facts["unit_from_world"]))
    width, height = view["size"]
    pinhole = torch_camera(camera, width, height)
    field = snapshots.field_from(snapshot)
    headless = render_field(field, facts, pinhole)
    hit = headless[..., 3] > 0
    assert 0.1 < hit.mean() < 0.9
    points = renderer.draw(snapshot, camera, ViewOptions(width=width, height=height, mode="surface_points"))
    shown = points[..., 3] > 0
    assert (shown == hit).mean() > 0.99, (shown == hit).mean()
    origins, directions = unit_rays(pinhole, None)
    traced, t = sphere_trace(field, origins, directions, RenderOptions())
    assert np.array_equal(traced.reshape(height, width).numpy(), hit)
    expected = (origins + t[:, None] * directions).reshape(height, width, 3).numpy()
    both = shown & hit
    distance = np.linalg.norm(points[both, :3] - expected[both], axis=-1)
    assert np.median(distance) < 2e-3 and (distance < 1e-2).mean() > 0.98, (np.median(distance), distance.max())


def test_bench_curve_scores_the_surface_against_its_mesh(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    views, mesh = model.parent / "views", model.parent / "sphere.ply"
    args = ["bench", "curve", str(views), "--task", "surface", "--checkpoints", "3", "--reference", str(mesh)]
    assert main([*args, "--resolution", "64", "--json", *SMALL[:-1], *QUICK]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "surface"
    assert "psnr" in json.dumps(report) and "chamfer" in json.dumps(report).lower()
