"""Mesh scenes: every file type loads, bad meshes are clear errors, SDF and occupancy fields learn
a shape (IoU, Chamfer), and Neuralangelo's options behave."""

import numpy as np
import pytest
import torch
import trimesh

from fieldscope.fields import config as configs
from fieldscope.fields.errors import InputError
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.scenes import detect_task, open_scene
from fieldscope.fields.scenes.base import Batch
from fieldscope.fields.scenes.levels import CoarseToFine, finest_active_step, numerical_gradient
from fieldscope.fields.scenes.mesh import load_mesh
from fieldscope.fields.scenes.occupancy import OccupancyScene
from fieldscope.fields.scenes.sdf import SdfScene
from fieldscope.fields.training.trainer import TrainConfig, Trainer

SMALL_SCENE = {
    "pool_size": 1 << 14,
    "eval_resolution": 32,
    "iou_resolution": 48,
    "mesh_resolution": 48,
    "chamfer_points": 20000,
}


def small_field(levels=6):
    torch.manual_seed(0)
    config = HashGridConfig(dims=3, out_dims=1, levels=levels, log2_table_size=14, base_resolution=4, growth=1.6)
    return configs.build_field(config)


def write_mesh_file(path, mesh):
    data = mesh.export(file_type=path.suffix[1:])
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off", ".stl", ".glb"])
def test_every_mesh_type_loads_and_is_normalised(tmp_path, suffix):
    mesh = trimesh.creation.box(extents=(2.0, 1.0, 0.5))
    mesh.apply_translation((10.0, -3.0, 2.0))
    path = write_mesh_file(tmp_path / f"box{suffix}", mesh)
    assert detect_task(path) == "sdf"
    vertices, faces = load_mesh(path)
    assert len(faces) == 12 and len(vertices) == 8  # an STL's duplicate corners are merged
    scene = SdfScene(vertices, faces, name=path.name, margin=0.1, **SMALL_SCENE)
    low, high = scene.vertices.min(axis=0), scene.vertices.max(axis=0)
    assert np.allclose(high - low, [0.8, 0.4, 0.2]) and np.allclose((low + high) / 2, 0.5)
    back = scene.vertices @ np.asarray(scene.world_from_unit)[:3, :3].T + np.asarray(scene.world_from_unit)[:3, 3]
    assert np.allclose(back, vertices)
    assert scene.oracle.sign == "parity"


def test_a_glb_scene_of_several_meshes_is_flattened(tmp_path):
    scene = trimesh.Scene([trimesh.creation.box(), trimesh.creation.icosphere(1).apply_translation((3, 0, 0))])
    path = tmp_path / "two.glb"
    path.write_bytes(scene.export(file_type="glb"))
    _vertices, faces = load_mesh(path)
    assert len(faces) == 12 + 80


def test_bad_meshes_are_clear_errors_naming_the_file(tmp_path):
    cloud = tmp_path / "cloud.ply"
    cloud.write_bytes(trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(file_type="ply"))
    (tmp_path / "empty.obj").write_bytes(b"")
    (tmp_path / "junk.glb").write_text("not a glb")
    (tmp_path / "flat.obj").write_text("v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n")
    cases = {
        "cloud.ply": "cloud.ply: the mesh has no faces",
        "empty.obj": "empty.obj: the file is empty",
        "junk.glb": "junk.glb: not a GLB file",
        "missing.off": "missing.off: no such file",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message):
            load_mesh(tmp_path / name)
    with pytest.raises(InputError, match=r"flat\.obj: the mesh"):
        load_mesh(tmp_path / "flat.obj")
    with pytest.raises(InputError, match=r"cloud\.ply: the mesh has no faces"):
        open_scene(cloud, task="occupancy")


def sphere_file(tmp_path):
    return write_mesh_file(tmp_path / "sphere.obj", trimesh.creation.icosphere(subdivisions=4))


def train(scene, field, steps, batch=4096, lr=1e-2):
    trainer = Trainer(field, scene, TrainConfig(batch_size=batch, lr=lr))
    for _ in range(steps):
        trainer.step()
    return trainer


def test_sdf_scene_learns_a_sphere(tmp_path):
    scene = open_scene(sphere_file(tmp_path), **SMALL_SCENE)
    batch = scene.sample(1000, torch.Generator().manual_seed(0))
    exact = (batch.coords - 0.5).norm(dim=-1) - 0.45
    assert torch.allclose(batch.targets[:, 0], exact, atol=2e-3)
    field = small_field()
    before = scene.evaluate(field)["iou"]
    trainer = train(scene, field, 150)
    metrics = trainer.evaluate(full=True)
    assert before < 0.5 < metrics["iou"]
    assert metrics["iou"] > 0.97, metrics
    assert metrics["chamfer"] < 0.005, metrics


def test_eikonal_and_normal_terms_pull_the_numerical_gradient_to_the_surface_normals(tmp_path):
    options = {"eikonal_weight": 0.5, "normal_weight": 0.5, "gradient_step": 1 / 32, "gradient_share": 0.5}
    scene = open_scene(sphere_file(tmp_path), **SMALL_SCENE, **options)
    trainer = Trainer(small_field(), scene, TrainConfig(batch_size=2048))
    trainer.step()
    first = dict(trainer.metrics)
    for _ in range(60):
        trainer.step()
    assert {"l1", "eikonal", "normal"} <= set(first)
    assert trainer.metrics["eikonal"] < 0.5 * first["eikonal"]
    assert trainer.metrics["normal"] < 0.1 < first["normal"]


def test_occupancy_scene_learns_a_sphere_from_samples_and_from_a_grid(tmp_path):
    path = sphere_file(tmp_path)
    for options in ({}, {"grid": 32}):
        scene = OccupancyScene.from_file(path, **SMALL_SCENE, **options)
        batch = scene.sample(2000, torch.Generator().manual_seed(0))
        radius = (batch.coords - 0.5).norm(dim=-1)
        clear = (radius - 0.45).abs() > 1e-3  # the icosphere's faces lie up to 3e-4 inside the sphere
        assert torch.equal(batch.targets[clear, 0], (radius[clear] < 0.45).float())
        metrics = train(scene, small_field(), 120).evaluate(full=True)
        assert metrics["iou"] > 0.95 and metrics["chamfer"] < 0.01, (options, metrics)


class Analytic(torch.nn.Module):
    def forward(self, x):
        return (torch.sin(3 * x[:, :1]) * x[:, 1:2] ** 2 + x[:, 2:]).repeat(1, 2)


def test_numerical_gradient_matches_the_analytic_gradient():
    x = torch.rand(100, 3, generator=torch.Generator().manual_seed(1))
    grad = numerical_gradient(Analytic(), x, 1e-3)
    exact = torch.stack(
        [3 * torch.cos(3 * x[:, 0]) * x[:, 1] ** 2, 2 * torch.sin(3 * x[:, 0]) * x[:, 1], torch.ones(100)], -1
    )
    assert torch.allclose(grad, exact, atol=1e-3)


def test_coarse_to_fine_turns_levels_on_and_the_gradient_step_follows():
    field = small_field(levels=6)
    schedule = CoarseToFine(start_levels=2, steps_per_level=10)
    resolutions = field.encoding.layout.resolution
    for step, active in ((0, 2), (9, 2), (10, 3), (35, 5), (100, 6)):
        schedule.apply(field, step)
        assert field.level_mask == tuple(lvl < active for lvl in range(6))
        assert finest_active_step(field) == pytest.approx(1.0 / resolutions[active - 1])


def test_coarse_to_fine_sdf_training_runs_through_the_trainer(tmp_path):
    scene = open_scene(sphere_file(tmp_path), coarse_to_fine=5, start_levels=2, **SMALL_SCENE)
    trainer = train(scene, small_field(levels=6), 12, batch=1024)  # steps 0..11: 2 + 11 // 5 levels
    assert trainer.field.level_mask == (True,) * 4 + (False,) * 2


@pytest.mark.parametrize("scene_class", [SdfScene, OccupancyScene])
def test_guidance_weights_are_largest_at_the_surface(scene_class):
    mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    scene = scene_class(mesh.vertices, mesh.faces, name="box", margin=0.25, **SMALL_SCENE)  # spans [0.25, 0.75]^3
    z = torch.linspace(0.05, 0.45, 81)
    line = torch.stack([torch.full_like(z, 0.5), torch.full_like(z, 0.5), z], dim=1)  # through the face z = 0.25
    batch = scene.sample(len(line), torch.Generator().manual_seed(0))
    if scene_class is SdfScene:
        distance, _ = scene.oracle.signed_distance(line)
        targets = torch.cat([distance[:, None], torch.zeros(len(line), 3)], dim=1)
    else:
        targets = batch.targets
    weights = scene.guidance(Batch(line, targets)).weights
    assert weights is not None and weights.shape == (81,)
    surface = int(torch.argmax(weights))
    assert abs(float(line[surface, 2]) - 0.25) <= 0.005 + 1e-6  # the face z = 0.25
    assert float(weights[surface]) > 0.6 and float(weights[0]) < 1e-6  # 0.2 away: exp(-25.6)
    assert torch.all(weights[:surface].diff() >= 0) and torch.all(weights[surface:].diff() <= 0)
