"""`fieldscope render MODEL --camera-path`: a video with the asked frame count, size and frame rate
whose frame at a keyframe's time is `fieldscope render` of that keyframe's camera; PNG frames; 2D
paths; bad input is one line naming the file, exit 2, and nothing written."""

import json
import re

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest
import trimesh

from fieldscope.app.cli import main
from fieldscope.fields.render.camera_path import CameraPath, Keyframe, Keyframe2D
from fieldscope.fields.render.camera_path_files import Shot, write_camera_path
from fieldscope.fields.render.cameras import orbit_camera

SMALL = ["--levels", "6", "--log2-table-size", "14", "--base-resolution", "4", "--max-resolution", "64", "--quiet"]
POOL = [
    f"--scene-option={option}"
    for option in ("pool_size=8192", "mesh_resolution=32", "iou_resolution=24", "eval_resolution=24")
]
#: Keyframes: azimuth, elevation, distance, fov, time (at whole frames of 4 fps).
ORBITS = ((0.0, 20.0, 2.0, 40.0, 0.0), (90.0, 35.0, 1.8, 50.0, 0.5), (200.0, 0.0, 2.2, 40.0, 1.0))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0**2
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


@pytest.fixture(scope="module")
def sdf_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    mesh = folder / "ball.ply"
    mesh.write_bytes(trimesh.creation.icosphere(subdivisions=3, radius=1.0).export(file_type="ply"))
    out = folder / "ball.fsnap"
    assert main(["fit", str(mesh), "--out", str(out), "--steps", "12", "--batch-size", "2048", *SMALL, *POOL]) == 0
    return out


@pytest.fixture
def path_file(tmp_path):
    keys = tuple(Keyframe(orbit_camera(az, el, d, 8, 8, fov).c2w, fov, t) for az, el, d, fov, t in ORBITS)
    out = tmp_path / "camera_path.json"
    write_camera_path(out, Shot(CameraPath(keys, 1.5, loop=True), None, 40, 30, 4.0, 1.5))
    return out


def test_a_video_along_a_camera_path(sdf_model, path_file, tmp_path, capsys):
    video = tmp_path / "path.mp4"
    args = ["render", str(sdf_model), "--camera-path", str(path_file), "--out", str(video), "--width", "32"]
    assert main([*args, "--height", "24", "--fps", "4", "--seconds", "1.5"]) == 0
    assert "rendered 6 frames of 32x24" in capsys.readouterr().out
    reader = imageio.get_reader(video)
    meta = reader.get_meta_data()
    frames = [np.asarray(frame) for frame in reader]
    reader.close()
    assert len(frames) == 6 and frames[0].shape == (24, 32, 3) and meta["fps"] == 4.0
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # the frame at the second keyframe's time (0.5 s: frame 2) is `render` of that camera
    az, el, dist, fov, _ = ORBITS[1]
    still = tmp_path / "still.png"
    orbit = ["--azimuth", str(az), "--elevation", str(el), "--distance", str(dist), "--fov", str(fov)]
    assert main(["render", str(sdf_model), "--out", str(still), "--width", "32", "--height", "24", *orbit]) == 0
    reference = iio.imread(still)[..., :3]
    assert (reference > 0).mean() > 0.1  # the ball is in the picture
    assert psnr(frames[2], reference) >= 40.0
    assert psnr(frames[3], reference) < 30.0  # and the path moves on

    # PNG frames: the file's own size and rate, frame 2 exactly the still
    folder = tmp_path / "frames"
    assert main(["render", str(sdf_model), "--camera-path", str(path_file), "--out", f"{folder}/"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(6)]
    assert iio.imread(folder / names[0]).shape == (30, 40, 3)
    resized = tmp_path / "frames_small"
    args = ["render", str(sdf_model), "--camera-path", str(path_file), "--out", f"{resized}/", "--width", "32"]
    assert main([*args, "--height", "24"]) == 0
    assert psnr(iio.imread(resized / "frame_00002.png"), reference) >= 60.0


def test_a_2d_path_over_an_image_model(tmp_path, astronaut_path):
    model = tmp_path / "astro.fsnap"
    fit = ["fit", str(astronaut_path), "--steps", "10", "--out", str(model), "--levels", "6", "--quiet"]
    assert main([*fit, "--log2-table-size", "12", "--batch-size", "2048"]) == 0
    keys = (Keyframe2D((0.5, 0.5), 1.0, 0.0), Keyframe2D((0.3, 0.4), 4.0, 1.0))
    path = tmp_path / "zoom.json"
    write_camera_path(path, Shot(CameraPath(keys, 1.0), None, 24, 24, 3.0, 1.0))
    folder = tmp_path / "zoom"
    assert main(["render", str(model), "--camera-path", str(path), "--out", f"{folder}/"]) == 0
    frames = [iio.imread(folder / f"frame_{i:05d}.png") for i in range(3)]
    whole = tmp_path / "whole.png"
    assert main(["render", str(model), "--out", str(whole), "--width", "24"]) == 0
    assert psnr(frames[0], iio.imread(whole)) >= 40.0  # zoom 1 at the centre: the whole image
    assert psnr(frames[2], iio.imread(whole)) < 30.0
    assert main(["render", str(model), "--camera-path", str(tmp_path / "camera.json"), "--out", f"{tmp_path}/x/"]) == 2


def test_bad_camera_paths_and_outputs_are_one_line_and_write_nothing(sdf_model, path_file, tmp_path, capsys):
    good = json.loads(path_file.read_text())
    files = {
        "none.json": {"keyframes": [], "camera_path": [], "fps": 4, "seconds": 1},
        "nan.json": {**good, "keyframes": [{**good["keyframes"][0], "matrix": [float("nan")] * 16}]},
        "schema.json": {"frames": [{"transform_matrix": []}]},
    }
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    out = tmp_path / "out"
    out.mkdir()
    video = str(out / "v.mp4")
    cases = [
        (["--camera-path", str(tmp_path / "none.json"), "--out", video], "none.json: no keyframes"),
        (["--camera-path", str(tmp_path / "nan.json"), "--out", video], "nan.json: keyframe 0: .*NaN"),
        (["--camera-path", str(tmp_path / "schema.json"), "--out", video], "schema.json: not a camera path"),
        (["--camera-path", str(tmp_path / "missing.json"), "--out", video], "missing.json: not a readable"),
        (["--camera-path", str(path_file), "--out", str(tmp_path / "no" / "v.mp4")], "v.mp4: the folder .* not exist"),
        (["--camera-path", str(path_file), "--out", video, "--codec", "nonesuch"], "v.mp4: unknown video codec"),
        (["--camera-path", str(path_file), "--out", video, "--width", "33"], "needs an even width"),
        (["--camera-path", str(path_file), "--out", str(out / "v.webm")], "unsupported video type"),
        (["--camera-path", str(path_file), "--out", str(path_file) + "/"], "already exists"),
        (["--camera-path", str(path_file), "--out", video, "--fps", "-1"], "frames per second"),
    ]
    for args, message in cases:
        assert main(["render", str(sdf_model), *args]) == 2, message
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("fieldscope: error: ")
        assert re.search(message, err[0]), (message, err[0])
    assert list(out.iterdir()) == []


def test_an_interrupted_render_leaves_nothing(sdf_model, path_file, tmp_path, monkeypatch):
    from fieldscope.app.commands import render_path

    drawn = []
    real = render_path.draw_3d

    def failing(*args):
        draw = real(*args)

        def once(camera):
            drawn.append(camera)
            if len(drawn) == 3:
                raise KeyboardInterrupt
            return draw(camera)

        return once

    monkeypatch.setattr(render_path, "draw_3d", failing)
    for out in (tmp_path / "v.mp4", f"{tmp_path / 'frames'}/"):
        drawn.clear()
        args = ["render", str(sdf_model), "--camera-path", str(path_file), "--out", str(out), "--width", "16"]
        assert main([*args, "--height", "12"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera_path.json"]
