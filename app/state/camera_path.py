"""The window's camera path (pure state, no DearPyGui): keyframes taken from the view's camera, a
time to scrub to, play and loop, keyframe frusta projected into the 3D view, files, and the export
job that draws the path with the view's renderer (a video written atomically; cancel leaves nothing).

3D keyframes are kept in unit-cube coordinates, the view's own; a NeRF scene's path is saved and
read in its data set's world (world_from_unit). The view's camera takes a path's roll (keyframes
from a file may be rolled): the preview shows the frames `render --camera-path` draws."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fieldscope.app.commands.frames_out import FrameSink
from fieldscope.app.render.camera import Camera2D, Camera3D, pose_camera
from fieldscope.app.state.export import draw_tiled
from fieldscope.app.state.jobs import JobSteps
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.render.camera_path import CameraPath, Keyframe, Keyframe2D, frame_times
from fieldscope.fields.render.camera_path_files import Shot, read_camera_path, write_camera_path
from fieldscope.fields.training.trainer import Snapshot

if TYPE_CHECKING:
    from fieldscope.app.render.renderer import Renderer, ViewOptions

#: Seconds between a new keyframe and the one before it.
KEY_STEP = 1.0
CORNERS = ((-1, -1), (1, -1), (1, 1), (-1, 1))


def camera_pose(camera: Camera3D) -> np.ndarray:
    """The orbit camera's camera-to-world (4, 4), OpenGL axes, unit-cube coordinates."""
    eye, forward, right, up = (v.astype(np.float64) for v in camera.basis())
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, -forward, eye
    c2w[:3, :3] /= np.linalg.norm(c2w[:3, :3], axis=0)
    return c2w


def similarity(matrix: Any | None, c2w: np.ndarray) -> np.ndarray:
    """A pose (4, 4) mapped by a similarity (its rotation part kept a rotation)."""
    if matrix is None:
        return c2w
    m = np.asarray(matrix, np.float64)
    out = m @ c2w
    out[:3, :3] /= np.cbrt(np.linalg.det(m[:3, :3]))
    return out


@dataclass
class PathEditor:
    """Keyframes (3D: unit-cube Keyframes; 2D: Keyframe2D), the path's length, loop, the scrubber."""

    keys: list[Keyframe | Keyframe2D] = field(default_factory=list)
    seconds: float = 0.0
    loop: bool = False
    fps: float = 24.0
    time: float = 0.0
    playing_since: float | None = None  # wall clock when play started, minus the scrubber's time

    # ---- editing
    def add(self, camera: Camera2D | Camera3D) -> int:
        """Append the view's camera as a keyframe KEY_STEP after the last; its index."""
        at = self.keys[-1].time + KEY_STEP if self.keys else 0.0
        if isinstance(camera, Camera3D):
            key: Keyframe | Keyframe2D = Keyframe(camera_pose(camera), float(camera.fov), at)
        else:
            key = Keyframe2D(tuple(float(v) for v in camera.center), float(camera.zoom), at)
        if self.keys and type(key) is not type(self.keys[0]):
            self.keys.clear()  # the scene changed between 2D and 3D
            key = replace(key, time=0.0)
        self.keys.append(key)
        self.seconds = max(self.seconds, key.time + (KEY_STEP if self.loop else 0.0), KEY_STEP)
        self.time = key.time
        return len(self.keys) - 1

    def delete(self, index: int) -> None:
        del self.keys[index]

    def move(self, index: int, step: int) -> None:
        """Swap keyframe `index` with its neighbour `index + step`; the times stay in place."""
        other = index + step
        if 0 <= index < len(self.keys) and 0 <= other < len(self.keys):
            a, b = self.keys[index], self.keys[other]
            self.keys[index], self.keys[other] = replace(b, time=a.time), replace(a, time=b.time)

    def set_time(self, index: int, seconds: float) -> None:
        """Move keyframe `index` to `seconds`, strictly between its neighbours' times."""
        low = self.keys[index - 1].time if index > 0 else -math.inf
        high = self.keys[index + 1].time if index + 1 < len(self.keys) else math.inf
        if not (low < seconds < high) or seconds < 0.0:
            raise ConfigError(f"keyframe {index + 1}: its time must be between its neighbours' ({low:g}, {high:g})")
        self.keys[index] = replace(self.keys[index], time=float(seconds))
        self.seconds = max(self.seconds, seconds + (KEY_STEP if self.loop else 0.0))

    def set_loop(self, loop: bool) -> None:
        self.loop = loop
        if loop and self.keys:
            self.seconds = max(self.seconds, self.keys[-1].time + KEY_STEP)

    def path(self) -> CameraPath:
        if not self.keys:
            raise ConfigError("the camera path has no keyframes: add the view's camera first")
        return CameraPath(tuple(self.keys), self.seconds, self.loop)

    # ---- playing
    def camera_at(self, seconds: float) -> Camera2D | Camera3D:
        """The view's camera at `seconds` along the path."""
        path = self.path()
        if path.dims == 2:
            views = path.views([seconds])
            return Camera2D((float(views.center[0, 0]), float(views.center[0, 1])), float(views.zoom[0]))
        poses = path.poses([seconds])
        return pose_camera(poses.c2w[0], float(poses.fov[0]))

    def play(self, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        if self.time >= self.seconds and not self.loop:
            self.time = 0.0
        self.playing_since = now - self.time

    def stop(self) -> None:
        self.playing_since = None

    def tick(self, now: float | None = None) -> Camera2D | Camera3D | None:
        """While playing: the scrubber follows the wall clock (wrapping when looping, stopping at the
        end otherwise) and the camera there is returned; None when not playing."""
        if self.playing_since is None or not self.keys:
            return None
        now = time.perf_counter() if now is None else now
        elapsed = now - self.playing_since
        if self.loop:
            self.time = elapsed % self.seconds
        else:
            self.time = min(elapsed, self.seconds)
            if elapsed >= self.seconds:
                self.playing_since = None
        return self.camera_at(self.time)

    # ---- drawing
    def frusta(self, view: Camera3D, width: int, height: int, size: float = 0.12) -> np.ndarray:
        """Line segments (S, 2, 2) in view pixels (x right, y down) of every 3D keyframe's frustum
        (apex to the four corners, the far rectangle, and a tick on its top edge) as `view` sees
        them; segments with an end behind the view camera are left out."""
        if not self.keys or not isinstance(self.keys[0], Keyframe):
            return np.zeros((0, 2, 2))
        aspect = width / max(1, height)
        segments = []
        for key in self.keys:
            c2w = np.asarray(key.c2w)
            half = size * math.tan(math.radians(key.fov) / 2.0)
            x, y, z, apex = c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3]
            centre = apex - size * z
            corners = [centre + sx * half * aspect * x + sy * half * y for sx, sy in CORNERS]
            segments += [(apex, c) for c in corners]
            segments += [(corners[i], corners[(i + 1) % 4]) for i in range(4)]
            segments.append((centre + half * y, centre + 1.6 * half * y))
        points = project(view, np.array(segments).reshape(-1, 3), width, height)
        pairs = points.reshape(-1, 2, 2)
        return pairs[np.isfinite(pairs).all(axis=(1, 2))]

    # ---- files
    def save(self, path: Path, width: int, height: int, world_from_unit: Any | None = None) -> None:
        """Write the path (nerfstudio's schema in 3D, in the data set's world for a NeRF)."""
        keys = tuple(
            replace(k, c2w=similarity(world_from_unit, k.c2w)) if isinstance(k, Keyframe) else k for k in self.keys
        )
        shot = Shot(CameraPath(keys, self.seconds, self.loop), None, width, height, self.fps, self.seconds)
        write_camera_path(path, shot)

    def load(self, path: Path, unit_from_world: Any | None = None) -> None:
        """Read a camera path file's keyframes (a file with only frames: evenly timed keyframes)."""
        shot = read_camera_path(path)
        source = shot.path
        if source is None:
            poses = shot.poses()
            step = shot.seconds / len(poses)
            keys = [Keyframe(poses.c2w[i], float(poses.fov[i]), i * step) for i in range(len(poses))]
            source = CameraPath(tuple(keys), shot.seconds)
        self.keys = [
            replace(k, c2w=similarity(unit_from_world, k.c2w)) if isinstance(k, Keyframe) else k
            for k in source.keyframes
        ]
        self.seconds, self.loop, self.fps, self.time = source.seconds, source.loop, shot.fps, 0.0


def project(view: Camera3D, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """View pixels (N, 2) of unit-cube points (N, 3) in the orbit camera `view` (NaN behind it)."""
    eye, forward, right, up = (v.astype(np.float64) for v in view.basis())
    d = points - eye
    depth = d @ forward
    tan = math.tan(math.radians(view.fov) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndc_x = (d @ right) / (depth * tan * width / height)
        ndc_y = (d @ up) / (depth * tan)
    pixels = np.stack([(ndc_x + 1.0) * 0.5 * width, (1.0 - ndc_y) * 0.5 * height], axis=1)
    pixels[depth <= 1e-6] = np.nan
    return pixels


def path_video_job(
    renderer: Renderer,
    snapshot: Snapshot,
    editor: PathEditor,
    options: ViewOptions,
    out: Path,
    fps: float | None = None,
) -> JobSteps:
    """The view's picture along the path, one frame every 1 / fps seconds -> a video (or DIR/ of
    PNGs); a path without keyframes or a bad frame rate raises here, before the job starts."""
    fps = fps or editor.fps
    editor.path()
    times = frame_times(fps, editor.seconds)
    options = replace(options, width=max(2, options.width // 2 * 2), height=max(2, options.height // 2 * 2))
    cameras = [editor.camera_at(float(seconds)) for seconds in times]
    return draw_path(renderer, snapshot, cameras, options, out, fps)


def draw_path(
    renderer: Renderer,
    snapshot: Snapshot,
    cameras: list[Camera2D | Camera3D],
    options: ViewOptions,
    out: Path,
    fps: float,
) -> JobSteps:
    pixels = np.zeros((options.height, options.width, 4), np.float32)
    with FrameSink(str(out), options.width, options.height, fps) as sink:
        for index, camera in enumerate(cameras):
            for share in draw_tiled(renderer, snapshot, camera, options, pixels):
                yield (index + share) / len(cameras)
            sink.add(to_uint8(pixels[..., :3]))
        target = sink.finish()
    return f"camera path video, {len(cameras)} frames of {options.width}x{options.height} -> {target}"
