"""Camera path files: nerfstudio's camera_path.json written and read back, a file in nerfstudio's
schema (with its dataparser transform), Instant-NGP's base_cam.json, fieldscope's 2D paths, and bad
files refused with the file's name."""

import json
import math

import numpy as np
import pytest

from fieldscope.fields.errors import InputError
from fieldscope.fields.render.camera_path import CameraPath, Keyframe, Keyframe2D, quaternion_from_matrix
from fieldscope.fields.render.camera_path_files import Shot, read_camera_path, write_camera_path
from fieldscope.fields.render.cameras import orbit_camera


def keyframes() -> tuple[Keyframe, ...]:
    return tuple(
        Keyframe(orbit_camera(az, el, d, 8, 8).c2w, fov, t)
        for az, el, d, fov, t in ((0, 10, 2.0, 40, 0.0), (90, 30, 1.5, 55, 1.25), (200, -10, 2.5, 35, 3.0))
    )


@pytest.mark.parametrize("loop", [False, True])
def test_a_written_path_reads_back_as_the_same_frames(tmp_path, loop):
    shot = Shot(CameraPath(keyframes(), 4.0, loop), None, 320, 240, 12.0, 4.0)
    out = tmp_path / "camera_path.json"
    write_camera_path(out, shot)
    data = json.loads(out.read_text())
    assert len(data["camera_path"]) == 48 and data["render_width"] == 320 and data["is_cycle"] is loop
    back = read_camera_path(out)
    assert (back.width, back.height, back.fps, back.seconds) == (320, 240, 12.0, 4.0)
    assert back.path is not None and np.allclose(back.path.times, [0.0, 1.25, 3.0])
    written, read = shot.poses(), back.poses()
    assert np.abs(written.c2w - read.c2w).max() < 1e-12 and np.abs(written.fov - read.fov).max() < 1e-12
    # at another frame rate the keyframes are interpolated again: the same curve
    assert np.abs(shot.poses(fps=5.0).c2w - back.poses(fps=5.0).c2w).max() < 1e-12
    # a 2D path
    flat = Shot(
        CameraPath((Keyframe2D((0.5, 0.5), 1.0, 0.0), Keyframe2D((0.3, 0.6), 8.0, 2.0)), 2.0), None, 64, 64, 10.0, 2.0
    )
    write_camera_path(tmp_path / "flat.json", flat)
    again = read_camera_path(tmp_path / "flat.json")
    assert again.path is not None and again.path.keyframes == flat.path.keyframes


def nerfstudio_file(ns_from_world: np.ndarray | None = None) -> dict:
    """A camera path as nerfstudio's viewer writes it (render_panel.py: keyframes with a row-major
    `matrix` and transitions, the per-frame `camera_path` list), in its normalised world."""

    def ns(c2w):
        if ns_from_world is None:
            return c2w
        out = ns_from_world @ c2w
        out[:3, :3] /= np.cbrt(np.linalg.det(ns_from_world[:3, :3]))
        return out

    keys = keyframes()
    frames = CameraPath(keys, 3.0).poses(np.arange(30) / 10.0)
    return (
        {
            "default_fov": 50.0,
            "default_transition_sec": 1.5,
            "keyframes": [
                {
                    "matrix": ns(k.c2w).flatten().tolist(),
                    "fov": k.fov,
                    "aspect": 1.5,
                    "override_transition_enabled": False,
                    "override_transition_sec": None,
                }
                for k in keys
            ],
            "camera_type": "perspective",
            "render_height": 200,
            "render_width": 300,
            "fps": 10,
            "seconds": 3.0,
            "is_cycle": False,
            "smoothness_value": 0.5,
            "camera_path": [
                {"camera_to_world": ns(frames.c2w[i]).flatten().tolist(), "fov": float(frames.fov[i]), "aspect": 1.5}
                for i in range(len(frames))
            ],
        },
        keys,
        frames,
    )


def test_a_file_in_nerfstudios_schema_is_read_in_the_data_sets_world(tmp_path):
    angle = 0.7
    transform = np.array(
        [
            [math.cos(angle), 0.0, math.sin(angle), 0.2],
            [0.0, 1.0, 0.0, -0.1],
            [-math.sin(angle), 0.0, math.cos(angle), 0.3],
        ]
    )
    scale = 0.25
    ns_from_world = np.eye(4)
    ns_from_world[:3] = scale * transform
    data, keys, frames = nerfstudio_file(ns_from_world)
    path = tmp_path / "camera_path.json"
    path.write_text(json.dumps(data))
    parser = tmp_path / "dataparser_transforms.json"
    parser.write_text(json.dumps({"transform": transform.tolist(), "scale": scale}))
    shot = read_camera_path(path, dataparser=parser)
    assert (shot.width, shot.height, shot.fps, shot.seconds) == (300, 200, 10.0, 3.0)
    poses = shot.poses()  # the file's own frames, in the data set's world
    assert len(poses) == 30 and np.abs(poses.c2w - frames.c2w).max() < 1e-9
    assert np.allclose(poses.fov, frames.fov)
    # keyframes evenly spaced by the default transition, stretched over the path's seconds
    assert shot.path is not None and np.allclose(shot.path.times, [0.0, 1.5, 3.0])
    for got, want in zip(shot.path.keyframes, keys, strict=True):
        assert np.abs(got.c2w - want.c2w).max() < 1e-9 and got.fov == want.fov
    # without the dataparser file the poses stay in nerfstudio's world
    plain = read_camera_path(path).poses()
    assert np.abs(plain.c2w[:, :3, 3] - poses.c2w[:, :3, 3]).max() > 0.1
    # only the per-frame list (as ns-render reads it): one frame per entry
    del data["keyframes"]
    path.write_text(json.dumps(data))
    assert len(read_camera_path(path, dataparser=parser).poses()) == 30
    assert len(read_camera_path(path, dataparser=parser).poses(fps=20.0)) == 60  # resampled from the list


def test_an_instant_ngp_base_cam_is_read(tmp_path):
    keys = keyframes()
    scale, offset = 0.33, np.array([0.5, 0.5, 0.5])
    path = []
    for k in keys:  # Instant-NGP's nerf_matrix_to_ngp: flip y and z axes, scale, offset, cycle the rows
        m = k.c2w[:3].copy()
        m[:, 1:3] *= -1.0
        m[:, 3] = m[:, 3] * scale + offset[[2, 0, 1]]
        m = m[[1, 2, 0]]
        w, x, y, z = quaternion_from_matrix(m[:, :3])
        path.append(
            {"R": [x, y, z, w], "T": m[:, 3].tolist(), "fov": k.fov, "scale": 1.0, "slice": 0.0, "aperture_size": 0.0}
        )
    file = tmp_path / "base_cam.json"
    file.write_text(json.dumps({"time": 0.0, "path": path}))
    shot = read_camera_path(file)
    assert shot.path is not None and len(shot.path.keyframes) == 3
    for got, want in zip(shot.path.keyframes, keys, strict=True):
        assert np.abs(got.c2w - want.c2w).max() < 1e-9 and got.fov == want.fov


def test_bad_files_are_one_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.json"
    data, _, _ = nerfstudio_file()
    cases = {
        "not JSON": ("{", "not a readable camera path"),
        "no keyframes": (json.dumps({"keyframes": [], "camera_path": []}), "nothing to render"),
        "wrong schema": (json.dumps({"frames": [1, 2]}), "not a camera path"),
        "a list": (json.dumps([1, 2]), "JSON object"),
        "short matrix": (json.dumps({**data, "camera_path": [{"camera_to_world": [1, 0, 0], "fov": 40}]}), "not 16"),
        "NaN": (
            json.dumps(
                {
                    **data,
                    "keyframes": data["keyframes"][:1] * 0,
                    "camera_path": [{"camera_to_world": [math.nan] * 16, "fov": 40}],
                }
            ),
            "camera_path\\[0\\].*NaN",
        ),
        "fov": (json.dumps({**data, "camera_path": [{**data["camera_path"][0], "fov": "wide"}]}), "'fov' is 'wide'"),
        "matrix type": (json.dumps({**data, "keyframes": [{"matrix": {"a": 1}, "fov": 40}]}), "expected schema"),
    }
    for what, (text, message) in cases.items():
        path.write_text(text)
        with pytest.raises(InputError, match=message) as error:
            read_camera_path(path)
        assert str(error.value).startswith(str(path)), what
