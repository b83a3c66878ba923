"""Exports as jobs (app/state/jobs.py): PNG of the view, full-resolution render, zoom or turntable video,
mesh, snapshot. Every file is written atomically (temporary file, rename): a cancelled or failed
job leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from fieldscope.app.render.camera import Camera2D, Camera3D, ViewCamera
from fieldscope.app.render.renderer import Renderer, ViewOptions, image_size
from fieldscope.app.state.jobs import JobSteps
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.paths import plain_file_mode
from fieldscope.fields.pixels import to_uint8, write_image
from fieldscope.fields.training.trainer import Snapshot

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".gif")
MAX_SIDE = 16384


def check_target(path: Path, suffixes: tuple[str, ...]) -> Path:
    path = Path(path).expanduser()
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"{path}: unsupported file type {path.suffix or '(none)'} (use {', '.join(suffixes)})")
    if not path.parent.is_dir():
        raise FieldscopeError(f"{path}: the folder {path.parent} does not exist")
    return path


def draw_tiled(renderer: Renderer, snapshot: Snapshot, camera: ViewCamera, options: ViewOptions, out: np.ndarray):
    """Draw into out (H, W, 4) in tiles of rows, yielding the share done after each."""
    frame = renderer.frame(snapshot, camera, options)
    rows = max(1, 65536 // max(1, options.width))
    for top in range(0, options.height, rows):
        out[top : top + rows] = frame.rows(top, top + rows)
        yield min(1.0, (top + rows) / options.height)


def image_job(
    renderer: Renderer, snapshot: Snapshot, camera: ViewCamera, options: ViewOptions, path: Path, what: str
) -> JobSteps:
    """Draw the view as `options` says and save it as an image file."""
    path = check_target(path, IMAGE_SUFFIXES)
    if not (1 <= options.width <= MAX_SIDE and 1 <= options.height <= MAX_SIDE):
        raise ConfigError(f"image size {options.width}x{options.height} is out of range (1..{MAX_SIDE})")
    pixels = np.zeros((options.height, options.width, 4), np.float32)
    yield from draw_tiled(renderer, snapshot, camera, options, pixels)
    write_image(path, to_uint8(pixels[..., :3]))
    return f"{what} {options.width}x{options.height} -> {path}"


def full_render_options(snapshot: Snapshot, view: ViewOptions, scale: float, size: tuple[int, int]) -> ViewOptions:
    """2D: the image's own pixel grid times `scale`; 3D: `size`."""
    if snapshot.config.dims == 2:
        w, h = image_size(snapshot)
        return replace(view, width=max(1, round(w * scale)), height=max(1, round(h * scale)))
    return replace(view, width=size[0], height=size[1])


def render_job(
    renderer: Renderer,
    snapshot: Snapshot,
    camera: ViewCamera,
    view: ViewOptions,
    path: Path,
    scale: float = 1.0,
    size: tuple[int, int] = (1920, 1080),
) -> JobSteps:
    """The field at full resolution: a 2D field over the whole image at `scale` times its size (the
    field is continuous: any scale), a 3D field from the current camera at `size`."""
    options = full_render_options(snapshot, view, scale, size)
    whole = Camera2D() if snapshot.config.dims == 2 else camera
    return (yield from image_job(renderer, snapshot, whole, options, path, "render"))


def video_cameras(camera: ViewCamera, frames: int, zoom: float = 8.0) -> list[ViewCamera]:
    """2D: a zoom into the view's center to `zoom` times; 3D: one turn around the target."""
    if isinstance(camera, Camera3D):
        return [camera.orbit(360.0 * k / frames, 0.0) for k in range(frames)]
    factors = zoom ** (np.arange(frames) / max(1, frames - 1))
    return [replace(camera, zoom=float(camera.zoom * f)) for f in factors]


def video_job(
    renderer: Renderer,
    snapshot: Snapshot,
    camera: ViewCamera,
    view: ViewOptions,
    path: Path,
    frames: int = 48,
    fps: int = 24,
) -> JobSteps:
    """A zoom (2D) or turntable (3D) video through imageio's ffmpeg writer."""
    path = check_target(path, VIDEO_SUFFIXES)
    if not 2 <= frames <= 10000:
        raise ConfigError(f"a video needs 2 to 10000 frames, not {frames}")
    options = replace(view, width=view.width // 2 * 2, height=view.height // 2 * 2)  # even sides for H.264
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, plain_file_mode())
    os.close(fd)
    writer = None
    try:
        extra = {} if path.suffix.lower() == ".gif" else {"macro_block_size": 2, "quality": 8}
        writer = imageio.get_writer(tmp, fps=fps, **extra)
        pixels = np.zeros((options.height, options.width, 4), np.float32)
        for index, frame_camera in enumerate(video_cameras(camera, frames)):
            for share in draw_tiled(renderer, snapshot, frame_camera, options, pixels):
                yield (index + share) / frames
            writer.append_data(to_uint8(pixels[..., :3]))
        writer.close()
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.close()
        Path(tmp).unlink(missing_ok=True)
    return f"video, {frames} frames of {options.width}x{options.height} -> {path}"


def snapshot_job(snapshot: Snapshot, path: Path) -> JobSteps:
    path = check_target(path, (".fsnap",))
    yield 0.5
    snapshots.save(path, snapshot)
    return f"snapshot of step {snapshot.step} -> {path}"


#: task -> function(snapshot, resolution) yielding progress and returning (vertices, faces):
#: the mesh export hook. The 3D scenes add their tasks here; "sdf" and "occupancy" are built in.
MeshSteps = Generator[float, None, tuple[np.ndarray, np.ndarray]]
MESH_EXTRACTORS: dict[str, Callable[[Snapshot, int], MeshSteps]] = {}


def sample_grid(snapshot: Snapshot, resolution: int) -> Generator[float, None, np.ndarray]:
    """The field's first output on a resolution^3 grid of [0,1]^3 (torch, in slabs), yielding
    progress; returns float32 (R, R, R) indexed [x, y, z]."""
    field = snapshots.field_from(snapshot)
    axis = torch.linspace(0.0, 1.0, resolution)
    values = np.zeros((resolution,) * 3, np.float32)
    with torch.no_grad():
        for i in range(resolution):
            yy, zz = torch.meshgrid(axis, axis, indexing="ij")
            points = torch.stack([torch.full_like(yy, float(axis[i])), yy, zz], -1).reshape(-1, 3)
            values[i] = field(points)[:, 0].reshape(resolution, resolution).numpy()
            yield 0.9 * (i + 1) / resolution
    return values


def level_set_mesh(snapshot: Snapshot, resolution: int = 128) -> MeshSteps:
    """Marching cubes (scikit-image) of the zero level: surface of a signed distance, or of an
    occupancy logit (occupancy 1/2)."""
    from skimage import measure  # loads SciPy (~1 s): only when a mesh is exported

    values = yield from sample_grid(snapshot, resolution)
    if not (values.min() < 0.0 < values.max()):
        raise FieldscopeError("the field has no surface yet (its first output never changes sign)")
    vertices, faces, _, _ = measure.marching_cubes(values, 0.0, spacing=(1.0 / (resolution - 1),) * 3)
    if snapshot.scene.get("task") == "sdf":
        faces = faces[:, ::-1]  # outward normals: the SDF is negative inside
    return vertices.astype(np.float32), faces.astype(np.int32)


MESH_EXTRACTORS.update({"sdf": level_set_mesh, "occupancy": level_set_mesh})


def ply_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """A binary little-endian PLY of a triangle mesh."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()
    face_rows = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_rows["n"], face_rows["v"] = 3, faces
    return header + vertices.astype("<f4").tobytes() + face_rows.tobytes()


def mesh_job(snapshot: Snapshot, path: Path, resolution: int = 128) -> JobSteps:
    path = check_target(path, (".ply",))
    task = str(snapshot.scene.get("task", ""))
    if snapshot.config.dims != 3 or task not in MESH_EXTRACTORS:
        raise ConfigError(f"no mesh export for a {snapshot.config.dims}D {task or 'unknown'} scene")
    vertices, faces = yield from MESH_EXTRACTORS[task](snapshot, resolution)
    snapshots.write_atomic(path, ply_bytes(vertices, faces))
    return f"mesh, {len(vertices):,} vertices and {len(faces):,} triangles -> {path}"
