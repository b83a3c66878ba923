"""Small scenes that benchmarks and tests make themselves, with no download, one per task.

The NeRF data set: an opaque ball whose colour varies over its surface, seen by cameras around it
(Blender layout, RGBA PNGs over transparency). Its images come from an exact ray-sphere
intersection at each pixel centre, written here from the Blender camera conventions and
independent of fieldscope's renderer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from fieldscope.fields.pixels import to_uint8

RADIUS = 0.8
ANGLE_X = 0.6911112070083618


def surface_colour(p: np.ndarray) -> np.ndarray:
    """RGB in [0,1] (..., 3) of the ball at surface points p (..., 3)."""
    return 0.5 + 0.45 * np.sin(np.stack([3.0 * p[..., 0] + 1.0, 4.0 * p[..., 1] - 0.5, 2.0 * p[..., 2] + 2.0], -1))


def look_at_origin(eye: np.ndarray) -> np.ndarray:
    """Camera-to-world (4, 4), Blender axes (looking down -z, z up), of a camera at `eye` (3,) facing the origin."""
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, -forward, eye
    return c2w


def render(c2w: np.ndarray, size: int) -> np.ndarray:
    """RGBA (size, size, 4) float of the ball seen by a camera (Blender axes), one ray per pixel centre."""
    focal = 0.5 * size / math.tan(0.5 * ANGLE_X)
    u, v = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    local = np.stack([(u - size / 2) / focal, -(v - size / 2) / focal, -np.ones_like(u)], -1)
    d = local @ c2w[:3, :3].T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = c2w[:3, 3]
    b = d @ o
    disc = b * b - (o @ o - RADIUS**2)
    hit = disc > 0
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    p = o + t[..., None] * d
    rgba = np.zeros((size, size, 4))
    rgba[hit, :3] = surface_colour(p[hit])
    rgba[hit, 3] = 1.0
    return rgba


def camera_positions(count: int, seed: int) -> np.ndarray:
    """`count` camera positions (count, 3) at distance 4 around the origin, the same for a given seed."""
    rng = np.random.default_rng(seed)
    azimuth = rng.uniform(0, 2 * np.pi, count)
    elevation = rng.uniform(-0.3, 1.2, count)
    return 4.0 * np.stack(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)], -1
    )


def write_split(folder: Path, split: str, count: int, size: int, seed: int) -> None:
    (folder / split).mkdir(parents=True, exist_ok=True)
    frames = []
    for i, eye in enumerate(camera_positions(count, seed)):
        c2w = look_at_origin(eye)
        image = to_uint8(render(c2w, size))
        iio.imwrite(folder / split / f"r_{i}.png", image)
        frames.append({"file_path": f"./{split}/r_{i}", "transform_matrix": c2w.tolist()})
    (folder / f"transforms_{split}.json").write_text(json.dumps({"camera_angle_x": ANGLE_X, "frames": frames}))


def write_dataset(folder: Path, train: int = 40, test: int = 6, size: int = 32) -> Path:
    """The NeRF data set (Blender layout) of `train` and `test` views of size x size pixels in `folder`."""
    write_split(folder, "train", train, size, seed=0)
    write_split(folder, "test", test, size, seed=1)
    return folder


def write_image(path: Path, size: int = 384) -> Path:
    """An RGB test image (size, size): smooth colour waves with sharp discs, as a PNG."""
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([0.5 + 0.4 * np.sin(9 * x + 3 * y), 0.5 + 0.4 * np.cos(7 * y - 2 * x), 0.3 + 0.3 * x * y], -1)
    for cx, cy, r in ((0.3, 0.3, 0.12), (0.7, 0.6, 0.2), (0.4, 0.8, 0.08)):
        rgb[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = (0.9, 0.85 * cx, 0.2 + cy * 0.5)
    iio.imwrite(path, to_uint8(rgb))
    return path


def write_mesh(path: Path) -> Path:
    """A closed mesh (an icosphere joined by a box) as PLY."""
    import trimesh  # ~5 s to import: only when a bench or test writes a mesh, not at --help time

    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.6)
    box = trimesh.creation.box(extents=(0.8, 0.8, 0.8))
    box.apply_translation((0.5, 0.3, 0.0))
    trimesh.util.concatenate([ball, box]).export(path)
    return path


def write_volume(path: Path, size: int = 48) -> Path:
    """A scalar volume (size^3, float32 .npy): two soft blobs and a shell."""
    z, y, x = np.mgrid[0:size, 0:size, 0:size] / (size - 1) - 0.5
    r = np.sqrt(x * x + y * y + z * z)
    values = np.exp(-((x - 0.15) ** 2 + y * y + z * z) / 0.01) + 0.7 * np.exp(-((x + 0.2) ** 2 + (y - 0.1) ** 2) / 0.02)
    values += 0.6 * np.exp(-((r - 0.4) ** 2) / 0.002)
    np.save(path, values.astype(np.float32))
    return path


def write_scene(task: str, folder: Path) -> Path:
    """A small scene of `task` (image, sdf, occupancy, volume, nerf) written under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if task == "image":
        return write_image(folder / "waves.png")
    if task in ("sdf", "occupancy"):
        return write_mesh(folder / "ball_and_box.ply")
    if task == "volume":
        return write_volume(folder / "blobs.npy")
    if task == "nerf":
        return write_dataset(folder / "ball_nerf", train=24, test=4, size=48)
    raise ValueError(f"no bench scene for task {task!r} (known: image, sdf, occupancy, volume, nerf)")
