"""`fieldscope make-views` end to end on a tiny sphere, and its one-line errors that leave no folder."""

import json

import numpy as np
import pytest
import trimesh

from fieldscope.app.cli import main
from fieldscope.fields.render import mesh_views


@pytest.fixture
def sphere(tmp_path):
    path = tmp_path / "sphere.obj"
    trimesh.creation.icosphere(subdivisions=2, radius=0.5).export(path)
    return path


def test_make_views_writes_a_nerf_folder(sphere, tmp_path, capsys):
    out = tmp_path / "views"
    out.mkdir()  # an empty folder is fine
    code = main(["make-views", str(sphere), "--out", str(out), "--views", "4", "--test-views", "2", "--size", "24x16"])
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("make-views: 4 training and 2 test views") and "24x16" in line
    train = json.loads((out / "transforms_train.json").read_text())
    test = json.loads((out / "transforms_test.json").read_text())
    assert len(train["frames"]) == 4 and len(test["frames"]) == 2
    assert sorted(p.name for p in (out / "train").iterdir()) == [f"r_{k}.png" for k in range(4)]
    # default radius: three bounding-sphere radii
    eye = np.asarray(train["frames"][0]["transform_matrix"])[:3, 3]
    assert np.linalg.norm(eye) == pytest.approx(1.5, rel=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sphere.obj", "views"]  # no temporary folder left


def one_line_error(capsys, argv, *parts):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("fieldscope: error: ")
    for part in parts:
        assert part in err, err


def test_bad_inputs_are_one_line_and_leave_no_folder(sphere, tmp_path, capsys):
    out = str(tmp_path / "views")
    missing = str(tmp_path / "missing.ply")
    one_line_error(capsys, ["make-views", missing, "--out", out], missing)
    points = tmp_path / "points.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(points)
    one_line_error(capsys, ["make-views", str(points), "--out", out], str(points), "no faces")
    one_line_error(capsys, ["make-views", str(sphere), "--out", out, "--views", "0"], "--views")
    one_line_error(capsys, ["make-views", str(sphere), "--out", out, "--size", "4x200"], "--size 4x200", "range")
    one_line_error(capsys, ["make-views", str(sphere), "--out", out, "--size", "big"], "--size 'big'")
    radius = ["make-views", str(sphere), "--out", out, "--radius", "0.5"]
    one_line_error(capsys, radius, str(sphere), "--radius", "bounding sphere")
    one_line_error(capsys, ["make-views", str(sphere), "--out", str(tmp_path / "no" / "views")], "does not exist")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    one_line_error(capsys, ["make-views", str(sphere), "--out", str(full)], str(full), "not an empty folder")
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "points.ply", "sphere.obj"]


def test_a_failure_while_writing_leaves_nothing(sphere, tmp_path, monkeypatch):
    written = []

    def fail_on_the_third(path, pixels):
        written.append(path)
        if len(written) == 3:
            raise OSError("disk full")
        path.write_bytes(b"png")

    monkeypatch.setattr(mesh_views, "write_image", fail_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        mesh_views.make_views(sphere, tmp_path / "views", mesh_views.ViewsConfig(views=4, width=8, height=8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sphere.obj"]
