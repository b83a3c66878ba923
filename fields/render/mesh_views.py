"""A mesh's views as a NeRF data set (`fieldscope make-views`): cameras on a sphere around the mesh
(a Fibonacci sphere for training, random directions for testing, all looking at the centre of the
mesh's bounding box, y up), exact first hits of one ray per pixel centre (Warp's BVH,
gpu/mesh_rays.py), shaded with a fixed light (Lambert + ambient) in the vertex colours or grey.

The folder is the Blender / NeRF-synthetic layout that fields/scenes/nerf_data.py reads:
transforms_train.json and transforms_test.json (camera_angle_x; transform_matrix camera-to-world with
OpenGL camera axes, looking down -z), RGBA PNGs with alpha 0 where no surface is hit. The cameras are
in the mesh's own coordinates; `scale` and `offset` (Instant-NGP's keys, which the NeRF scene reads)
put the mesh's bounding sphere inside the unit cube, so a field fitted to the folder and exported in
the scene's coordinates lies on the mesh.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import warp as wp

from fieldscope.fields.errors import ConfigError, InputError
from fieldscope.fields.paths import plain_folder_mode
from fieldscope.fields.pixels import to_uint8, write_image
from fieldscope.fields.render.cameras import Camera, camera_rays, look_at
from fieldscope.fields.scenes.mesh import load_coloured_mesh
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import mesh_rays, runtime

MIN_SIDE, MAX_SIDE = 8, 4096
MAX_VIEWS = 10000
#: Light direction (towards the light), fixed in the mesh's coordinates, and the shading's terms.
LIGHT = np.array([0.4, 1.0, 0.6]) / np.linalg.norm([0.4, 1.0, 0.6])
AMBIENT, DIFFUSE = 0.3, 0.7
GREY = 0.75
#: Default camera distance in bounding-sphere radii; the field of view leaves this margin around it.
DEFAULT_RADII, FOV_MARGIN = 3.0, 1.05
#: The bounding sphere's radius in the unit cube (the NeRF scene's `scale`).
UNIT_RADIUS = 0.4


@dataclass(frozen=True)
class ViewsConfig:
    """What make-views renders: views on the training sphere, test views, image size, camera distance
    (None: DEFAULT_RADII bounding-sphere radii) and the seed of the test views' directions."""

    views: int = 50
    test_views: int | None = None
    width: int = 200
    height: int = 200
    radius: float | None = None
    seed: int = 0

    def check(self) -> None:
        if not 1 <= self.views <= MAX_VIEWS:
            raise ConfigError(f"--views must be between 1 and {MAX_VIEWS}, not {self.views}")
        if self.test_views is not None and not 1 <= self.test_views <= MAX_VIEWS:
            raise ConfigError(f"--test-views must be between 1 and {MAX_VIEWS}, not {self.test_views}")
        if not (MIN_SIDE <= self.width <= MAX_SIDE and MIN_SIDE <= self.height <= MAX_SIDE):
            raise ConfigError(
                f"--size {self.width}x{self.height} is out of range: each side between {MIN_SIDE} and {MAX_SIDE}"
            )
        if self.radius is not None and not (math.isfinite(self.radius) and self.radius > 0.0):
            raise ConfigError(f"--radius must be a positive number, not {self.radius}")

    @property
    def test_count(self) -> int:
        return self.test_views if self.test_views is not None else max(1, self.views // 8)


def parse_size(spec: str) -> tuple[int, int]:
    """'WxH' -> (W, H); ConfigError on anything else."""
    try:
        width, height = (int(part) for part in spec.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {spec!r}: use WxH, e.g. 200x200") from None
    return width, height


def fibonacci_sphere(n: int) -> np.ndarray:
    """n unit vectors (n, 3) spread evenly over the sphere (golden-angle spiral in y, no exact pole)."""
    i = np.arange(n, dtype=np.float64)
    y = 1.0 - (2.0 * i + 1.0) / n
    ring = np.sqrt(np.clip(1.0 - y * y, 0.0, None))
    angle = i * math.pi * (3.0 - math.sqrt(5.0))
    return np.stack([ring * np.sin(angle), y, ring * np.cos(angle)], axis=1)


def random_directions(n: int, seed: int) -> np.ndarray:
    """n unit vectors (n, 3) uniformly distributed on the sphere, from a seeded generator."""
    v = np.random.default_rng(seed).normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def field_of_view(bound: float, radius: float, width: int, height: int) -> float:
    """camera_angle_x (radians) of a camera at `radius` from the centre whose narrower side sees the
    whole bounding sphere of radius `bound` (with FOV_MARGIN)."""
    if radius <= bound * 1.1:
        raise ConfigError(
            f"--radius {radius:g} puts the cameras inside or at the mesh's bounding sphere (radius {bound:g}); "
            f"use more than {1.1 * bound:.4g}"
        )
    half = FOV_MARGIN * math.asin(bound / radius)
    focal = 0.5 * min(width, height) / math.tan(half)
    return 2.0 * math.atan(0.5 * width / focal)


def sphere_cameras(
    directions: np.ndarray, centre: np.ndarray, radius: float, angle_x: float, width: int, height: int
) -> list[Camera]:
    """Cameras at centre + radius * directions (n, 3), looking at the centre, y up, with
    camera_angle_x `angle_x` (square pixels, principal point at the image centre)."""
    focal = 0.5 * width / math.tan(0.5 * angle_x)
    up = np.array([0.0, 1.0, 0.0])
    return [
        Camera(look_at(centre + radius * d, centre, up), focal, focal, width / 2.0, height / 2.0, width, height)
        for d in directions
    ]


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of a mesh (zero for unused vertices)."""
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], cross)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)


class MeshRenderer:
    """One mesh, ready to render: vertices (V, 3), faces (F, 3), vertex colours (V, 3) or None."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, colours: np.ndarray | None = None) -> None:
        runtime.init()
        self.vertices, self.faces = vertices.astype(np.float64), faces.astype(np.int64)
        self.colours = colours
        corners = self.vertices[self.faces]
        cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        self.face_normals = cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-30)
        self.normals = vertex_normals(self.vertices, self.faces)
        self._mesh = wp.Mesh(
            points=wp.array(self.vertices.astype(np.float32), dtype=wp.vec3, device="cpu"),
            indices=wp.array(self.faces.astype(np.int32).ravel(), dtype=wp.int32, device="cpu"),
        )

    def render(self, camera: Camera, max_t: float) -> tuple[np.ndarray, np.ndarray]:
        """The view of `camera`: straight-alpha RGBA (H, W, 4) float32 in [0,1] (alpha 0 and RGB 0 where
        no surface is hit) and the hit distance along each unit ray (H, W) (-1 where none)."""
        origins, directions = camera_rays(camera)
        n = origins.shape[0]
        distance = torch.empty(n)
        face = torch.empty(n, dtype=torch.int32)
        barycentric = torch.empty(n, 2)
        warp_call(
            mesh_rays.first_hits,
            self._mesh.id,
            origins.contiguous(),
            directions.contiguous(),
            max_t,
            distance,
            face,
            barycentric,
        )
        hit = face.numpy() >= 0
        rgba = np.zeros((n, 4), dtype=np.float32)
        f = self.faces[face.numpy()[hit]]
        u, v = barycentric.numpy()[hit].astype(np.float64).T
        weights = np.stack([u, v, 1.0 - u - v], axis=1)[:, :, None]  # hit = u p0 + v p1 + (1-u-v) p2
        normal = (self.normals[f] * weights).sum(axis=1)
        length = np.linalg.norm(normal, axis=1, keepdims=True)
        normal = np.where(length > 1e-8, normal / np.maximum(length, 1e-30), self.face_normals[face.numpy()[hit]])
        ray = directions.numpy()[hit].astype(np.float64)
        normal = np.where((normal * ray).sum(axis=1, keepdims=True) > 0.0, -normal, normal)  # face the camera
        colour = (self.colours[f] * weights).sum(axis=1) if self.colours is not None else np.full((len(f), 3), GREY)
        light = AMBIENT + DIFFUSE * np.clip(normal @ LIGHT, 0.0, None)
        rgba[hit, :3] = np.clip(colour * light[:, None], 0.0, 1.0)
        rgba[hit, 3] = 1.0
        shape = (camera.height, camera.width)
        return rgba.reshape(*shape, 4), distance.numpy().reshape(shape)


def bounding_sphere(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (3,) of the used vertices' bounding box and the radius of the sphere about it holding them."""
    used = vertices[np.unique(faces)]
    centre = (used.min(axis=0) + used.max(axis=0)) / 2.0
    return centre, float(np.linalg.norm(used - centre, axis=1).max())


def check_out(out: Path) -> None:
    """InputError unless `out` can become the views' folder: absent or empty, in an existing folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not an empty folder (make-views writes a new folder)")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the folder {out.parent} does not exist")


def transforms(cameras: list[Camera], split: str, angle_x: float, centre: np.ndarray, bound: float) -> dict:
    """The transforms file's contents for cameras written as ./split/r_K.png."""
    scale = UNIT_RADIUS / bound
    permuted = np.array([centre[1], centre[2], centre[0]])  # the NeRF scene's axis cycle (nerf_data.unit_map)
    return {
        "camera_angle_x": angle_x,
        "scale": scale,
        "offset": (0.5 - permuted * scale).tolist(),
        "aabb_scale": 1,
        "frames": [
            {"file_path": f"./{split}/r_{k}", "transform_matrix": np.asarray(c.c2w).tolist()}
            for k, c in enumerate(cameras)
        ],
    }


def make_views(mesh_path: str | Path, out: str | Path, config: ViewsConfig) -> dict[str, float]:
    """Render a mesh file's views into a new NeRF folder `out` (written into a temporary folder beside
    it, renamed at the end; nothing is left on failure). Returns facts: views, test_views, radius,
    camera_angle_x, coverage (mean alpha of the training views)."""
    config.check()
    out = Path(out)
    check_out(out)
    vertices, faces, colours = load_coloured_mesh(mesh_path)
    centre, bound = bounding_sphere(vertices, faces)
    radius = config.radius if config.radius is not None else DEFAULT_RADII * bound
    try:
        angle_x = field_of_view(bound, radius, config.width, config.height)
    except ConfigError as error:
        raise ConfigError(f"{mesh_path}: {error}") from None
    renderer = MeshRenderer(vertices, faces, colours)
    splits = {
        "train": sphere_cameras(fibonacci_sphere(config.views), centre, radius, angle_x, config.width, config.height),
        "test": sphere_cameras(
            random_directions(config.test_count, config.seed), centre, radius, angle_x, config.width, config.height
        ),
    }
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    coverage = 0.0
    try:
        for split, cameras in splits.items():
            (temporary / split).mkdir()
            for k, camera in enumerate(cameras):
                rgba, _ = renderer.render(camera, 2.0 * (radius + bound))
                if split == "train":
                    coverage += float(rgba[:, :, 3].mean()) / len(cameras)
                write_image(temporary / split / f"r_{k}.png", to_uint8(rgba))
            text = json.dumps(transforms(cameras, split, angle_x, centre, bound), indent=2)
            (temporary / f"transforms_{split}.json").write_text(text + "\n")
        os.chmod(temporary, plain_folder_mode())  # mkdtemp's 0700 would stay with the folder
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        os.rename(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return {
        "views": float(config.views),
        "test_views": float(config.test_count),
        "radius": radius,
        "camera_angle_x": angle_x,
        "coverage": coverage,
    }
