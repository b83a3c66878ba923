"""The command line on 3D scenes: fit picks the task from the path, render draws 3D models from a
camera or a test view, export-mesh writes meshes; bad input is one line, exit 2, nothing written."""

import json
import math
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import trimesh

from fieldscope.app.cli import main
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.render.mesh_export import area_and_volume, read_mesh_bytes
from tests.fields.nerf_synthetic import write_dataset

SMALL = ["--levels", "6", "--log2-table-size", "14", "--base-resolution", "4", "--max-resolution", "64", "--quiet"]
POOL = [
    f"--scene-option={option}"
    for option in (
        "pool_size=16384",
        "mesh_resolution=48",
        "iou_resolution=48",
        "eval_resolution=32",
        "chamfer_points=20000",
    )
]


@pytest.fixture(scope="module")
def sphere(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "sphere.ply"
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=2.0).apply_translation((1.0, 2.0, 3.0))
    path.write_bytes(mesh.export(file_type="ply"))
    return path


@pytest.fixture(scope="module")
def sdf_model(sphere, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "sphere.fsnap"
    args = ["fit", str(sphere), "--out", str(out), "--steps", "150", "--batch-size", "8192", *SMALL, *POOL]
    assert main(args) == 0
    return out


def test_fit_a_mesh_as_an_sdf_then_render_and_export_it(sdf_model, tmp_path, capsys):
    snapshot = snapshots.load(sdf_model)
    assert snapshot.scene["task"] == "sdf" and snapshot.config.dims == 3 and snapshot.config.out_dims == 1
    assert snapshot.metrics["iou"] > 0.95 and snapshot.metrics["chamfer"] < 0.01
    png = tmp_path / "view.png"
    assert main(["render", str(sdf_model), "--out", str(png), "--width", "64", "--azimuth", "10"]) == 0
    image = iio.imread(png)
    assert image.shape == (64, 64, 4) and 0.1 < (image[..., 3] > 0).mean() < 0.6
    for suffix in (".ply", ".obj"):
        mesh = tmp_path / f"sphere{suffix}"
        assert main(["export-mesh", str(sdf_model), "--out", str(mesh), "--resolution", "64"]) == 0
        vertices, faces, _ = read_mesh_bytes(mesh.read_bytes(), suffix)
        area, volume = area_and_volume(vertices, faces)  # back in the file's coordinates: radius 2
        assert area == pytest.approx(4 * math.pi * 4.0, rel=0.05)
        assert volume == pytest.approx(4 / 3 * math.pi * 8.0, rel=0.05)
        assert np.allclose(vertices.mean(axis=0), (1.0, 2.0, 3.0), atol=0.05)
    assert "exported" in capsys.readouterr().out


def test_fit_a_mesh_as_occupancy_and_a_volume(sphere, tmp_path):
    model = tmp_path / "occ.fsnap"
    args = ["fit", str(sphere), "--task", "occupancy", "--out", str(model), "--steps", "60", *SMALL, *POOL]
    assert main([*args, "--batch-size", "8192"]) == 0
    assert snapshots.load(model).scene["task"] == "occupancy" and snapshots.load(model).metrics["iou"] > 0.9
    assert main(["render", str(model), "--out", str(tmp_path / "occ.png"), "--width", "48"]) == 0
    volume = tmp_path / "blob.npy"
    axis = np.linspace(-1, 1, 20)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    np.save(volume, np.exp(-2 * (x**2 + y**2 + z**2)).astype(np.float32))
    model = tmp_path / "vol.fsnap"
    assert main(["fit", str(volume), "--out", str(model), "--steps", "60", "--batch-size", "4096", *SMALL]) == 0
    assert snapshots.load(model).metrics["psnr"] > 30
    assert main(["render", str(model), "--out", str(tmp_path / "mip.png"), "--width", "32"]) == 0
    assert iio.imread(tmp_path / "mip.png").shape == (32, 32, 4)


def test_fit_a_nerf_folder_then_render_a_test_view_and_export_a_coloured_mesh(tmp_path):
    data = write_dataset(tmp_path / "ball", train=24, test=3, size=24)
    model = tmp_path / "ball.fsnap"
    options = ["--scene-option", "grid_resolution=32", "--scene-option", "render_steps=128"]
    args = ["fit", str(data), "--out", str(model), "--steps", "150", "--batch-size", "8192", *SMALL, *options]
    assert main(args) == 0
    snapshot = snapshots.load(model)
    assert snapshot.scene["task"] == "nerf" and snapshot.config.out_dims == 16
    # 150 steps take the ball to 21-26 dB (seeds and thread timing move it); one that does not learn stays near 10
    assert snapshot.metrics["psnr"] > 20
    png = tmp_path / "view1.png"
    assert main(["render", str(model), "--view", "1", "--out", str(png)]) == 0
    assert iio.imread(png).shape == (24, 24, 3)
    mesh = tmp_path / "ball.ply"
    assert main(["export-mesh", str(model), "--out", str(mesh), "--resolution", "48"]) == 0
    vertices, faces, colors = read_mesh_bytes(mesh.read_bytes(), ".ply")
    assert len(faces) > 100 and colors is not None and colors.std() > 0.01
    radius = np.linalg.norm(vertices, axis=1)  # world coordinates: the ball has radius 0.8
    assert 0.5 < np.median(radius) < 1.1


def write_bad_inputs(folder, dataset):
    cloud = trimesh.PointCloud(np.random.default_rng(0).random((10, 3)))
    (folder / "cloud.ply").write_bytes(cloud.export(file_type="ply"))
    np.save(folder / "voxel.npy", np.ones((1, 1, 1), np.float32))
    shutil.copytree(dataset, folder / "no_image")
    (folder / "no_image" / "train" / "r_2.png").unlink()
    shutil.copytree(dataset, folder / "sheared")
    path = folder / "sheared" / "transforms_train.json"
    meta = json.loads(path.read_text())
    meta["frames"][1]["transform_matrix"][0][1] += 0.5
    path.write_text(json.dumps(meta))
    (folder / "empty_dir").mkdir()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{tmp}/cloud.ply"], "cloud.ply: the mesh has no faces"),
        (["fit", "{tmp}/voxel.npy"], "voxel.npy: a volume needs at least 2 voxels along each axis"),
        (["fit", "{tmp}/no_image"], "frame 2: the image"),
        (["fit", "{tmp}/sheared"], "frame 1 (./train/r_1): the camera matrix is not rigid"),
        (["fit", "{tmp}/empty_dir"], "not a NeRF data set"),
        (["fit", "{tmp}/empty_dir", "--task", "nerf"], "not a NeRF data set"),
        (["fit", "{tmp}/voxel.npy", "--scene-option", "colour=3"], "colour"),
        (["render", "{model}", "--view", "0"], "--view 0 is out of range"),
        (["render", "{model}", "--distance", "-1"], "camera distance must be positive"),
        (["export-mesh", "{model}", "--resolution", "4"], "mesh resolution must be between"),
        (["export-mesh", "{model}", "--level", "9", "--resolution", "32"], "no surface at level 9"),
    ],
)
def test_bad_3d_input_is_one_line_nonzero_and_writes_nothing(tmp_path, sdf_model, capsys, args, message):
    write_bad_inputs(tmp_path, write_dataset(tmp_path / "good", train=3, test=1, size=8))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = {"fit": "out.fsnap", "render": "out.png", "export-mesh": "out.ply"}[args[0]]
    argv = [a.format(tmp=tmp_path, model=sdf_model) for a in args]
    code = main([*argv, "--out", str(tmp_path / out), *(["--steps", "2", "--quiet"] if args[0] == "fit" else [])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("fieldscope: error: ") and message in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_export_mesh_rejects_unknown_types_and_2d_models(tmp_path, sdf_model, capsys):
    assert main(["export-mesh", str(sdf_model), "--out", str(tmp_path / "m.stl")]) == 2
    assert "unsupported mesh output type .stl" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
