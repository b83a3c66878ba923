"""`fieldscope bench curve --reference MESH`: the exported surface of an SDF fitted to a mesh far
from the unit cube is scored in the mesh's own coordinates at every checkpoint (JSON, table, plot),
and a scene without a surface is one clear line before any training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from fieldscope.app.cli import main

SMALL = ["--levels", "4", "--log2-table-size", "12", "--batch-size", "4096", "--resolution", "32", "--points", "3000"]
SCENE = [f"--scene-option={k}" for k in ("pool_size=65536", "iou_resolution=32", "mesh_resolution=32",
                                          "eval_resolution=16", "chamfer_points=2000")]  # fmt: skip


@pytest.fixture(scope="module")
def ball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ball of radius 3 centred on (10, -5, 2): a surface left in unit-cube coordinates would be
    ~11 units (100% of the diagonal) away from it."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=3.0)
    mesh.apply_translation((10.0, -5.0, 2.0))
    path = tmp_path_factory.mktemp("ball") / "ball.ply"
    mesh.export(path)
    return path


def test_the_surface_is_scored_against_the_reference_in_its_own_coordinates(ball, tmp_path, capsys):
    plot = tmp_path / "curve.png"
    args = ["bench", "curve", str(ball), "--task", "sdf", "--reference", str(ball), "--checkpoints", "0.5,2,4"]
    assert main([*args, *SMALL, *SCENE, "--reference-every", "2", "--plot", str(plot), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    reference = report["reference"]
    assert reference["diagonal"] == pytest.approx(6.0 * np.sqrt(3.0), rel=1e-6)
    assert reference["points"] == 3000 and reference["resolution"] == 32
    assert 0.0 < reference["floor"]["chamfer_percent"] < 2.0 and reference["floor"]["normal_consistency"] > 0.99
    rows = report["results"]
    assert ["reference" in row for row in rows] == [True, False, True]  # every 2nd checkpoint and the last
    last = rows[-1]["reference"]
    assert last["vertices"] > 100 and last["seconds"] > 0.0
    assert last["chamfer_percent"] == pytest.approx(100.0 * last["chamfer"] / reference["diagonal"])
    assert 0.0 < last["chamfer_percent"] < 10.0 and last["normal_consistency"] > 0.6
    assert last["chamfer"] == pytest.approx(0.5 * (last["accuracy"] + last["completeness"]))
    with Image.open(plot) as image:  # IoU, Chamfer % and normal consistency panels
        assert image.width > 300 and image.height > 3 * 300

    # the table says the same
    assert main([*args[:-1], "1", *SMALL, *SCENE]) == 0
    printed = capsys.readouterr().out
    assert "% of diagonal" in printed and "floor" in printed and "normals" in printed


def test_a_scene_without_a_surface_is_one_line_before_training(astronaut_path, ball, capsys):
    assert main(["bench", "curve", str(astronaut_path), "--reference", str(ball), *SMALL]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing set up, nothing trained
    (line,) = captured.err.splitlines()
    assert "astronaut.png: a 2D image scene has no surface" in line and "ball.ply" in line
