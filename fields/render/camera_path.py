"""Camera paths: keyframes (a pose, a field of view and a time) -> one camera per video frame.

Positions, fields of view (and, in 2D, centres and log zoom) follow a non-uniform Catmull-Rom spline
through the keyframes at their times (the Barry-Goldman pyramid of linear interpolations);
orientations follow the same pyramid with spherical linear interpolation of unit quaternions, each
keyframe's quaternion taken in the hemisphere of the previous one (the short way round: no flips).
The curve passes through every keyframe at its time. An open path holds the first keyframe before
its time and the last one after it; a looping path runs from the last keyframe back to the first in
the time between the last keyframe and `seconds` (its period).

Coordinates: camera-to-world matrices (4, 4) with OpenGL camera axes (x right, y up, the camera
looks down its -z), in the scene's world (a NeRF data set's own frame) or in the unit cube of scenes
without cameras of their own (centre (0.5, 0.5, 0.5), y up: the frame `render --azimuth` orbits).
Fields of view are vertical, in degrees. 2D keyframes are a view centre in field coordinates
([0, 1]^2, y down) and a zoom (1: the whole image fits the view).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.cameras import Camera, rigid_problem

Interpolate = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# ---- rotations


def quaternion_from_matrix(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (4,) w x y z of a rotation matrix (3, 3) (Shepperd's method)."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * math.sqrt(1.0 + trace)
        values = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        values = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        values = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        values = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.asarray(values)
    return q / np.linalg.norm(q)


def matrices_from_quaternions(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of quaternions (N, 4) w x y z (normalised first)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def rotation_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (N,) in radians of the rotations taking rotation matrices a (N, 3, 3) to b (N, 3, 3)."""
    cosine = (np.einsum("nij,nij->n", a, b) - 1.0) / 2.0  # trace(a^T b) = 1 + 2 cos(angle)
    return np.arccos(np.clip(cosine, -1.0, 1.0))


# ---- the spline


def lerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a + w (b - a) for rows a, b (N, D) and weights w (N,) (any real w: extrapolation too)."""
    return a + w[:, None] * (b - a)


def slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation (N, 4) of unit quaternions a, b (N, 4) by w (N,) (any real w), along
    the arc between them as given (callers choose the hemisphere)."""
    cosine = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    angle = np.arccos(cosine)
    small = angle < 1e-6
    sine = np.where(small, 1.0, np.sin(angle))
    wa = np.where(small, 1.0 - w, np.sin((1.0 - w) * angle) / sine)
    wb = np.where(small, w, np.sin(w * angle) / sine)
    out = wa[:, None] * a + wb[:, None] * b
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def same_hemisphere(quaternions: np.ndarray) -> np.ndarray:
    """Quaternions (K, 4) with signs flipped so that each is within 90 degrees of the previous one."""
    out = quaternions.copy()
    for k in range(1, len(out)):
        if np.dot(out[k - 1], out[k]) < 0.0:
            out[k] = -out[k]
    return out


def extended_keys(
    values: np.ndarray, times: np.ndarray, loop: bool, period: float, mix: Interpolate
) -> tuple[np.ndarray, np.ndarray]:
    """Keys (K + 3, D) and times (K + 3,): one before the first keyframe and two after the last.
    Looping: the keyframes repeat with the period; open: phantom keys mirror the neighbours."""
    k = len(times)
    index = np.arange(-1, k + 2)
    if loop:
        keys = values[index % k]
        key_times = times[index % k] + period * np.floor_divide(index, k)
        return keys, key_times
    if k == 1:
        return values[np.zeros(k + 3, dtype=int)], times[0] + np.arange(-1.0, k + 2.0)
    keys = np.concatenate([values[:1], values, values[-1:], values[-1:]])
    key_times = np.concatenate([times[:1] * 0, times, times[-1:] * 0, times[-1:] * 0])
    two = np.array([2.0])
    keys[0] = mix(values[1:2], values[0:1], two)[0]  # the first keyframe mirrored about its neighbour
    keys[-2] = mix(values[-2:-1], values[-1:], two)[0]
    keys[-1] = keys[-2]
    key_times[0] = 2.0 * times[0] - times[1]
    key_times[-2] = 2.0 * times[-1] - times[-2]
    key_times[-1] = key_times[-2] + (times[-1] - times[-2])
    return keys, key_times


def catmull_rom(keys: np.ndarray, key_times: np.ndarray, t: np.ndarray, mix: Interpolate) -> np.ndarray:
    """Non-uniform Catmull-Rom (Barry-Goldman) through keys (K + 3, D) at key_times (K + 3,) (as
    extended_keys makes them), at times t (N,) between key_times[1] and key_times[-2]; `mix` is lerp
    (vectors) or slerp (quaternions)."""
    segment = np.clip(np.searchsorted(key_times, t, side="right") - 1, 1, len(key_times) - 3)
    p0, p1, p2, p3 = (keys[segment + d] for d in (-1, 0, 1, 2))
    t0, t1, t2, t3 = (key_times[segment + d] for d in (-1, 0, 1, 2))
    a1 = mix(p0, p1, (t - t0) / (t1 - t0))
    a2 = mix(p1, p2, (t - t1) / (t2 - t1))
    a3 = mix(p2, p3, (t - t2) / (t3 - t2))
    b1 = mix(a1, a2, (t - t0) / (t2 - t0))
    b2 = mix(a2, a3, (t - t1) / (t3 - t1))
    return mix(b1, b2, (t - t1) / (t2 - t1))


def spline(
    values: np.ndarray, times: np.ndarray, t: np.ndarray, loop: bool, period: float, mix: Interpolate = lerp
) -> np.ndarray:
    """Values (N, D) at times t (N,) of the spline through values (K, D) at increasing times (K,)."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if len(times) == 1:
        return np.repeat(values[:1], len(t), axis=0)
    keys, key_times = extended_keys(values, times, loop, period, mix)
    if mix is slerp:  # a loop's wrap-around keys too
        keys = same_hemisphere(keys)
    t = times[0] + np.mod(t - times[0], period) if loop else np.clip(t, times[0], times[-1])
    out = catmull_rom(keys, key_times, t, mix)
    exact = np.searchsorted(times, t)  # keyframe times give the keyframe itself, to the last bit
    hit = (exact < len(times)) & (times[np.minimum(exact, len(times) - 1)] == t)
    out[hit] = values[exact[hit]]
    return out


# ---- keyframes and paths


@dataclass(frozen=True)
class Keyframe:
    """A 3D keyframe: camera-to-world c2w (4, 4) (OpenGL camera axes), vertical fov in degrees,
    time in seconds from the start of the path."""

    c2w: np.ndarray
    fov: float
    time: float


@dataclass(frozen=True)
class Keyframe2D:
    """A 2D keyframe: view centre (x, y) in field coordinates, zoom (> 0), time in seconds."""

    center: tuple[float, float]
    zoom: float
    time: float


@dataclass(frozen=True)
class Poses:
    """Per-frame 3D cameras: c2w (N, 4, 4) float64, vertical fov (N,) degrees."""

    c2w: np.ndarray
    fov: np.ndarray

    def __len__(self) -> int:
        return int(self.fov.shape[0])

    def camera(self, index: int, width: int, height: int) -> Camera:
        """Frame `index` as a pinhole camera of width x height pixels (square pixels, centred)."""
        focal = 0.5 * height / math.tan(math.radians(float(self.fov[index])) / 2.0)
        return Camera(self.c2w[index].copy(), focal, focal, width / 2.0, height / 2.0, width, height)


@dataclass(frozen=True)
class Views2D:
    """Per-frame 2D views: centre (N, 2), zoom (N,)."""

    center: np.ndarray
    zoom: np.ndarray

    def __len__(self) -> int:
        return int(self.zoom.shape[0])


def check_keyframe(index: int, key: Keyframe | Keyframe2D) -> None:
    where = f"keyframe {index}"
    if not math.isfinite(key.time):
        raise ConfigError(f"{where}: its time is not a finite number")
    if isinstance(key, Keyframe):
        problem = rigid_problem(key.c2w)
        if problem is not None:
            raise ConfigError(f"{where}: its camera-to-world matrix is not a camera pose: {problem}")
        if not (math.isfinite(key.fov) and 0.0 < key.fov < 180.0):
            raise ConfigError(f"{where}: field of view {key.fov} is not between 0 and 180 degrees")
        return
    if not all(math.isfinite(v) for v in key.center):
        raise ConfigError(f"{where}: its centre is not finite")
    if not (math.isfinite(key.zoom) and key.zoom > 0.0):
        raise ConfigError(f"{where}: zoom {key.zoom} is not a positive number")


@dataclass(frozen=True)
class CameraPath:
    """Keyframes (all 3D or all 2D, times increasing) and the path's length in seconds; `loop`: the
    path returns from the last keyframe to the first by `seconds` (then `seconds` is its period)."""

    keyframes: tuple[Keyframe, ...] | tuple[Keyframe2D, ...]
    seconds: float
    loop: bool = False

    def __post_init__(self) -> None:
        if not self.keyframes:
            raise ConfigError("a camera path needs at least one keyframe (it has none)")
        kinds = {type(key) for key in self.keyframes}
        if len(kinds) != 1:
            raise ConfigError("a camera path's keyframes are all 3D cameras or all 2D views, not both")
        keys = cast("tuple[Keyframe | Keyframe2D, ...]", self.keyframes)
        for index, key in enumerate(keys):
            check_keyframe(index, key)
        times = self.times
        if np.any(np.diff(times) <= 0.0):
            raise ConfigError("keyframe times must increase from one keyframe to the next")
        if not (math.isfinite(self.seconds) and self.seconds > 0.0):
            raise ConfigError(f"a camera path's length must be a positive number of seconds, not {self.seconds}")
        if self.loop and len(times) > 1 and self.seconds - times[0] <= times[-1] - times[0]:
            raise ConfigError(
                f"a looping path needs time after its last keyframe ({times[-1]:g} s) to return to the first: "
                f"its length {self.seconds:g} s is too short"
            )

    @property
    def dims(self) -> int:
        return 3 if isinstance(self.keyframes[0], Keyframe) else 2

    @property
    def times(self) -> np.ndarray:
        return np.array([key.time for key in self.keyframes], dtype=np.float64)

    @property
    def period(self) -> float:
        """A looping path's period: the length from the first keyframe back to it."""
        return self.seconds

    def poses(self, t: Sequence[float] | np.ndarray) -> Poses:
        """3D cameras at times t (N,) in seconds."""
        if self.dims != 3:
            raise ConfigError("this camera path holds 2D views, not 3D cameras")
        keys: tuple[Keyframe, ...] = self.keyframes  # type: ignore[assignment]
        times, t = self.times, np.asarray(t, dtype=np.float64).reshape(-1)
        positions = np.stack([np.asarray(k.c2w, np.float64)[:3, 3] for k in keys])
        fovs = np.array([[k.fov] for k in keys])
        quaternions = same_hemisphere(np.stack([quaternion_from_matrix(np.asarray(k.c2w)[:3, :3]) for k in keys]))
        c2w = np.tile(np.eye(4), (len(t), 1, 1))
        c2w[:, :3, 3] = spline(positions, times, t, self.loop, self.period)
        c2w[:, :3, :3] = matrices_from_quaternions(spline(quaternions, times, t, self.loop, self.period, slerp))
        exact = np.isin(t, times)  # keyframe times: the keyframe's own matrix, not its round trip
        for i in np.nonzero(exact)[0]:
            c2w[i] = np.asarray(keys[int(np.searchsorted(times, t[i]))].c2w, np.float64)
        fov = spline(fovs, times, t, self.loop, self.period)[:, 0]
        return Poses(c2w, np.clip(fov, 1e-3, 179.0))

    def views(self, t: Sequence[float] | np.ndarray) -> Views2D:
        """2D views at times t (N,): centre and zoom (zoom interpolated in log space)."""
        if self.dims != 2:
            raise ConfigError("this camera path holds 3D cameras, not 2D views")
        keys: tuple[Keyframe2D, ...] = self.keyframes  # type: ignore[assignment]
        values = np.array([[k.center[0], k.center[1], math.log(k.zoom)] for k in keys])
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        out = spline(values, self.times, t, self.loop, self.period)
        zoom = np.exp(out[:, 2])
        exact = np.isin(t, self.times)  # a keyframe's own zoom, not exp(log(zoom))
        zoom[exact] = [keys[int(np.searchsorted(self.times, v))].zoom for v in t[exact]]
        return Views2D(out[:, :2], zoom)


def frame_times(fps: float, seconds: float) -> np.ndarray:
    """Times (N,) of a video's frames: k / fps for k < round(fps * seconds) (at least one frame)."""
    if not (math.isfinite(fps) and fps > 0.0):
        raise ConfigError(f"frames per second must be a positive number, not {fps}")
    if not (math.isfinite(seconds) and seconds > 0.0):
        raise ConfigError(f"a video's length must be a positive number of seconds, not {seconds}")
    return np.arange(max(1, round(fps * seconds)), dtype=np.float64) / fps


def evenly_timed(c2w: np.ndarray, fov: np.ndarray, seconds: float, loop: bool = False) -> CameraPath:
    """A 3D path through cameras c2w (K, 4, 4) with fov (K,) spread evenly over `seconds` (a loop
    spends one step returning to the first)."""
    count = len(fov)
    step = seconds / (count if loop else max(1, count - 1))
    keys = tuple(Keyframe(np.asarray(c2w[i], np.float64), float(fov[i]), i * step) for i in range(count))
    return CameraPath(keys, seconds, loop)
