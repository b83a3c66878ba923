"""Camera path files other tools write: nerfstudio's camera_path.json (read and written) and
Instant-NGP's base_cam.json (read).

nerfstudio (its viewer's render panel): `keyframes` [{matrix: camera-to-world 4x4 flattened row
by row (16), fov: vertical degrees, aspect: width / height, override_transition_enabled,
override_transition_sec}], `default_fov`, `default_transition_sec`, `camera_type`, `render_width`,
`render_height`, `fps`, `seconds`, `is_cycle`, `smoothness_value`, and the per-frame
`camera_path` [{camera_to_world: 16 row by row, fov, aspect}] that `ns-render camera-path`
renders. Its cameras use OpenGL axes (x right, y up, looking down -z) in nerfstudio's normalised
world: p_ns = scale * (transform @ p) with `transform` (3x4) and `scale` from the run's
dataparser_transforms.json; given that file, poses are mapped back to the data set's own world.
Keyframe times come from the transitions (each keyframe's own when enabled, else the default)
stretched to `seconds`; fieldscope also writes each keyframe's exact `time` (other readers ignore it).

Instant-NGP: {"time": playback position, "path": [{R: quaternion x y z w, T: position, fov: vertical
degrees, scale, slice, aperture_size}]} in NGP's space, whose cameras look down +z with y down:
p_ngp = cycle(p) * scale + offset, cycle(x, y, z) = (y, z, x) (scale 0.33, offset 0.5 unless
the data set's transforms.json says otherwise). Keyframes are spread evenly over the path.

A 2D path (fieldscope's own) is {"keyframes_2d": [{center: [x, y], zoom, time}], "seconds",
"fps", "render_width", "render_height", "is_cycle"}.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fieldscope.fields.errors import FieldscopeError, InputError
from fieldscope.fields.paths import write_atomic
from fieldscope.fields.render.camera_path import (
    CameraPath,
    Keyframe,
    Keyframe2D,
    Poses,
    check_keyframe,
    evenly_timed,
    frame_times,
    matrices_from_quaternions,
    quaternion_from_matrix,
)

DEFAULT_FPS = 24.0
DEFAULT_SIZE = (640, 480)
DEFAULT_FOV = 50.0
NGP_SCALE, NGP_OFFSET = 0.33, (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Shot:
    """What a camera path file asks for: the keyframed path (None when the file only lists frames),
    the listed per-frame cameras (None when it has no list), image size, frames per second, length."""

    path: CameraPath | None
    frames: Poses | None
    width: int
    height: int
    fps: float
    seconds: float

    def poses(self, fps: float | None = None, seconds: float | None = None) -> Poses:
        """One camera per video frame: the file's own list when the frame count stays the same,
        else the keyframed path (or the list taken as evenly timed keyframes) at the new rate."""
        fps, seconds = fps or self.fps, seconds or self.seconds
        times = frame_times(fps, seconds)
        if self.frames is not None and len(times) == len(self.frames):
            return self.frames
        path = self.path
        if path is None and self.frames is not None:  # the listed frames as keyframes at their own times
            step = self.seconds / len(self.frames)
            frames = self.frames
            keys = (Keyframe(frames.c2w[i], float(frames.fov[i]), i * step) for i in range(len(frames)))
            path = CameraPath(tuple(keys), self.seconds)
        if path is None or path.dims != 3:
            raise FieldscopeError("this camera path holds 2D views, not 3D cameras")
        return path.poses(times * (path.seconds / seconds))


def flat_matrix(values: Any, what: str) -> np.ndarray:
    """A 4x4 matrix from 16 numbers row by row (or three.js's column by column, or 4 rows)."""
    if isinstance(values, str):  # nerfstudio's old web viewer wrote the list as a string
        values = json.loads(values)
    m = np.asarray(values, dtype=np.float64)
    if m.size == 12:
        m = np.vstack([m.reshape(3, 4), [0.0, 0.0, 0.0, 1.0]])
    if m.size != 16:
        raise InputError(f"{what} has {m.size} numbers, not 16 (a 4x4 matrix)")
    m = m.reshape(4, 4)
    last = np.array([0.0, 0.0, 0.0, 1.0])
    if not np.allclose(m[3], last) and np.allclose(m[:, 3], last):
        m = m.T  # column by column (three.js)
    return m


def number(data: dict[str, Any], key: str, default: float | None = None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"'{key}' is {value!r}, not a finite number")
    return float(value)


def world_from_dataparser(data: dict[str, Any]) -> np.ndarray:
    """The 4x4 similarity that maps nerfstudio's normalised world back to the data set's."""
    ns_from_world = np.eye(4)
    ns_from_world[:3] = np.asarray(data["transform"], dtype=np.float64).reshape(3, 4)
    ns_from_world[:3] *= float(data.get("scale", 1.0))
    return np.linalg.inv(ns_from_world)


def to_world(c2w: np.ndarray, world_from_file: np.ndarray | None) -> np.ndarray:
    """A camera pose (4, 4) mapped by a similarity (rotation part renormalised: the scale leaves it)."""
    if world_from_file is None:
        return c2w
    out = world_from_file @ c2w
    out[:3, :3] /= np.cbrt(np.linalg.det(world_from_file[:3, :3]))
    return out


def keyframe_times(
    data: dict[str, Any], keys: list[dict[str, Any]], seconds: float | None, loop: bool
) -> tuple[np.ndarray, float]:
    """Keyframe times and the path's length: fieldscope's own `time`s, else nerfstudio's transitions
    (stretched to `seconds` when the file gives it)."""
    if all("time" in key for key in keys):
        times = np.array([number(key, "time") for key in keys])
        return times, seconds if seconds is not None else float(times[-1])
    default = number(data, "default_transition_sec", 2.0)
    steps = [
        number(key, "override_transition_sec") if key.get("override_transition_enabled") else default for key in keys
    ]
    times = np.concatenate([[0.0], np.cumsum(steps if loop else steps[:-1])])
    if times[-1] <= 0.0:
        if len(keys) == 1:
            return times[:1], seconds or 1.0
        raise InputError("keyframe transitions add up to no time")
    seconds = seconds if seconds is not None else float(times[-1])
    return times[: len(keys)] * (seconds / times[-1]), seconds


def read_nerfstudio(data: dict[str, Any], world_from_file: np.ndarray | None) -> Shot:
    width = int(number(data, "render_width", DEFAULT_SIZE[0]))
    height = int(number(data, "render_height", DEFAULT_SIZE[1]))
    fps = number(data, "fps", DEFAULT_FPS)
    loop = bool(data.get("is_cycle", False))
    listed = data.get("camera_path") or []
    keys = data.get("keyframes") or []
    if not isinstance(listed, list) or not isinstance(keys, list):
        raise InputError("'camera_path' and 'keyframes' must be lists")
    if not listed and not keys:
        raise InputError("no keyframes and no camera_path frames: nothing to render")
    seconds = number(data, "seconds") if "seconds" in data else (len(listed) / fps if listed else None)
    default_fov = number(data, "default_fov", DEFAULT_FOV)
    frames = None
    if listed:
        c2w = np.stack(
            [
                to_world(flat_matrix(f.get("camera_to_world"), f"camera_path[{i}]"), world_from_file)
                for i, f in enumerate(listed)
            ]
        )
        fov = np.array([number(f, "fov", default_fov) for f in listed])
        frames = Poses(c2w, fov)
    path = None
    if keys:
        times, seconds = keyframe_times(data, keys, seconds, loop)
        path = CameraPath(
            tuple(
                Keyframe(
                    to_world(flat_matrix(k.get("matrix"), f"keyframes[{i}]"), world_from_file),
                    number(k, "fov", default_fov),
                    float(t),
                )
                for i, (k, t) in enumerate(zip(keys, times, strict=True))
            ),
            seconds,
            loop,
        )
    for i in range(len(frames) if frames is not None else 0):  # every listed camera, checked like a keyframe
        try:
            check_keyframe(i, Keyframe(frames.c2w[i], float(frames.fov[i]), 0.0))  # type: ignore[union-attr]
        except FieldscopeError as error:
            raise InputError(str(error).replace(f"keyframe {i}", f"camera_path[{i}]")) from None
    return Shot(path, frames, width, height, fps, float(seconds or 1.0))


def read_2d(data: dict[str, Any]) -> Shot:
    keys = data["keyframes_2d"]
    if not isinstance(keys, list):
        raise InputError("'keyframes_2d' must be a list")
    path = CameraPath(
        tuple(
            Keyframe2D((float(k["center"][0]), float(k["center"][1])), number(k, "zoom"), number(k, "time"))
            for k in keys
        ),
        number(data, "seconds"),
        bool(data.get("is_cycle", False)),
    )
    size = (int(number(data, "render_width", 512)), int(number(data, "render_height", 512)))
    return Shot(path, None, size[0], size[1], number(data, "fps", DEFAULT_FPS), path.seconds)


def ngp_to_world(rotation_xyzw: Any, position: Any, scale: float, offset: Any) -> np.ndarray:
    """An Instant-NGP camera (quaternion x y z w, position in NGP space) -> camera-to-world (4, 4),
    OpenGL axes, in the data set's world (the inverse of NGP's nerf_matrix_to_ngp)."""
    x, y, z, w = (float(v) for v in rotation_xyzw)
    ngp = np.eye(4)
    ngp[:3, :3] = matrices_from_quaternions(np.array([[w, x, y, z]]))[0]
    ngp[:3, 3] = (np.asarray(position, dtype=np.float64) - np.asarray(offset, dtype=np.float64)) / scale
    world = ngp[[2, 0, 1, 3]]  # undo the axis cycle (x, y, z) -> (y, z, x)
    world[:3, 1:3] *= -1.0  # y down, looking down +z -> y up, looking down -z
    return world


def read_ngp(data: dict[str, Any], scale: float, offset: Any, seconds: float | None) -> Shot:
    keys = data["path"]
    if not isinstance(keys, list) or not keys:
        raise InputError("'path' holds no keyframes")
    c2w = np.stack([ngp_to_world(k["R"], k["T"], scale, offset) for k in keys])
    fov = np.array([number(k, "fov", DEFAULT_FOV) for k in keys])
    length = seconds or float(max(1, len(keys) - 1))
    return Shot(evenly_timed(c2w, fov, length), None, *DEFAULT_SIZE, DEFAULT_FPS, length)


def read_camera_path(
    path: str | Path,
    dataparser: str | Path | None = None,
    ngp_scale: float = NGP_SCALE,
    ngp_offset: Any = NGP_OFFSET,
) -> Shot:
    """Read a camera path file (nerfstudio camera_path.json, Instant-NGP base_cam.json, or fieldscope's
    2D path); `dataparser`: nerfstudio's dataparser_transforms.json of the run that made the path.
    Any problem: InputError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not a readable camera path ({error})") from None
    try:
        world_from_file = None
        if dataparser is not None:
            try:
                world_from_file = world_from_dataparser(json.loads(Path(dataparser).read_text()))
            except (OSError, ValueError, KeyError, TypeError, np.linalg.LinAlgError) as error:
                raise InputError(f"{dataparser}: not a dataparser_transforms.json ({error})") from None
        if not isinstance(data, dict):
            raise InputError("not a camera path (a JSON object is expected)")
        if "keyframes_2d" in data:
            return read_2d(data)
        if "path" in data and "keyframes" not in data and "camera_path" not in data:
            return read_ngp(data, ngp_scale, ngp_offset, data.get("seconds"))
        if "keyframes" in data or "camera_path" in data:
            return read_nerfstudio(data, world_from_file)
        raise InputError("not a camera path (no 'keyframes', 'camera_path' or 'path')")
    except (KeyError, TypeError, ValueError, IndexError) as error:
        problem = f"{type(error).__name__}: {error}"
        raise InputError(f"{path}: not a camera path of the expected schema ({problem})") from None
    except FieldscopeError as error:
        if str(error).startswith(str(path)):
            raise
        raise InputError(f"{path}: {error}") from None


def nerfstudio_json(shot: Shot) -> dict[str, Any]:
    """The nerfstudio camera_path.json of a 3D shot (keyframes, if any, and every frame)."""
    poses = shot.poses()
    aspect = shot.width / shot.height
    data: dict[str, Any] = {
        "camera_type": "perspective",
        "render_width": shot.width,
        "render_height": shot.height,
        "fps": shot.fps,
        "seconds": shot.seconds,
        "is_cycle": bool(shot.path.loop) if shot.path else False,
        "smoothness_value": 0.5,
        "default_fov": float(poses.fov[0]),
        "default_transition_sec": 1.0,
    }
    if shot.path is not None:
        keys: tuple[Keyframe, ...] = shot.path.keyframes  # type: ignore[assignment]
        ends = [k.time for k in keys[1:]] + ([shot.path.seconds + keys[0].time] if shot.path.loop else [keys[-1].time])
        data["keyframes"] = [
            {
                "matrix": np.asarray(k.c2w, np.float64).reshape(-1).tolist(),
                "fov": float(k.fov),
                "aspect": aspect,
                "override_transition_enabled": True,
                "override_transition_sec": float(end - k.time),
                "time": float(k.time),
            }
            for k, end in zip(keys, ends, strict=True)
        ]
    data["camera_path"] = [
        {"camera_to_world": poses.c2w[i].reshape(-1).tolist(), "fov": float(poses.fov[i]), "aspect": aspect}
        for i in range(len(poses))
    ]
    return data


def shot_json(shot: Shot) -> dict[str, Any]:
    """The file contents of a shot: nerfstudio's schema in 3D, fieldscope's 2D schema in 2D."""
    if shot.path is None or shot.path.dims == 3:
        return nerfstudio_json(shot)
    keys: tuple[Keyframe2D, ...] = shot.path.keyframes  # type: ignore[assignment]
    return {
        "keyframes_2d": [{"center": list(k.center), "zoom": k.zoom, "time": k.time} for k in keys],
        "seconds": shot.seconds,
        "fps": shot.fps,
        "render_width": shot.width,
        "render_height": shot.height,
        "is_cycle": shot.path.loop,
    }


def write_camera_path(path: str | Path, shot: Shot) -> None:
    """Write a shot as a camera path file (atomically)."""
    write_atomic(Path(path), (json.dumps(shot_json(shot), indent=1) + "\n").encode())


__all__ = ["Shot", "quaternion_from_matrix", "read_camera_path", "shot_json", "write_camera_path"]
