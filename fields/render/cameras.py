"""Pinhole cameras (with OpenCV radial-tangential distortion) and their rays, for NeRF data sets and
the headless renderer.

Conventions: camera-to-world matrices use OpenGL / Blender camera axes (x right, y up, looking
down -z), as the NeRF data sets do; pixel (column u, row v) has its centre at (u + 0.5, v + 0.5);
intrinsics are (fx, fy, cx, cy) in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fieldscope.fields.errors import ConfigError

#: Largest deviation of R^T R from the identity (and of det R from 1) a camera matrix may have.
RIGID_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Camera:
    """One view: c2w (4, 4), intrinsics, image size, distortion (k1, k2, p1, p2)."""

    c2w: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, float, float, float] = field(default=(0.0, 0.0, 0.0, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "c2w": np.asarray(self.c2w).tolist(),
            "intrinsics": [self.fx, self.fy, self.cx, self.cy],
            "size": [self.width, self.height],
            "distortion": list(self.distortion),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Camera:
        fx, fy, cx, cy = (float(v) for v in data["intrinsics"])
        width, height = (int(v) for v in data["size"])
        k1, k2, p1, p2 = (float(v) for v in data.get("distortion", (0, 0, 0, 0)))
        return cls(np.asarray(data["c2w"], dtype=np.float64), fx, fy, cx, cy, width, height, (k1, k2, p1, p2))

    def resized(self, width: int, height: int) -> Camera:
        """The same view at another image size (intrinsics scaled)."""
        sx, sy = width / self.width, height / self.height
        return Camera(self.c2w, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height, self.distortion)


def rigid_problem(matrix: np.ndarray) -> str | None:
    """Why a 4x4 (or 3x4) camera-to-world matrix is not a rigid motion, or None if it is."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape not in ((4, 4), (3, 4)):
        return f"it is {'x'.join(map(str, m.shape)) or 'a single number'}, not 4x4"
    if not np.isfinite(m).all():
        return "it holds NaN or infinite values"
    if m.shape == (4, 4) and np.abs(m[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-6:
        return "its last row is not 0 0 0 1"
    rotation = m[:3, :3]
    error = float(np.abs(rotation.T @ rotation - np.eye(3)).max())
    if error > RIGID_TOLERANCE:
        return f"its 3x3 part is not a rotation (R^T R differs from I by {error:.3g}: scaled or sheared)"
    if np.linalg.det(rotation) < 0.0:
        return "its 3x3 part is a reflection (determinant -1)"
    return None


def distort(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenCV radial-tangential distortion of normalised image coordinates; k (..., 4) = k1 k2 p1 p2."""
    k1, k2, p1, p2 = k.unbind(-1)
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2 * r2
    return (
        x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
        y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
    )


def undistort(xd: torch.Tensor, yd: torch.Tensor, k: torch.Tensor, iterations: int = 20) -> tuple[torch.Tensor, ...]:
    """Invert `distort` by fixed-point iteration (as OpenCV's undistortPoints)."""
    if not bool((k != 0).any()):
        return xd, yd
    k1, k2, p1, p2 = k.unbind(-1)
    x, y = xd, yd
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1.0 + k1 * r2 + k2 * r2 * r2
        x = (xd - 2.0 * p1 * x * y - p2 * (r2 + 2.0 * x * x)) / radial
        y = (yd - p1 * (r2 + 2.0 * y * y) - 2.0 * p2 * x * y) / radial
    return x, y


def pixel_rays(
    c2w: torch.Tensor, intrinsics: torch.Tensor, distortion: torch.Tensor, u: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """World rays through pixel centres: c2w (N, 4, 4), intrinsics (N, 4), distortion (N, 4), pixel
    column u and row v (N,) -> origins (N, 3), unit directions (N, 3)."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    x, y = undistort((u.float() + 0.5 - cx) / fx, (v.float() + 0.5 - cy) / fy, distortion)
    local = torch.stack([x, -y, -torch.ones_like(x)], dim=-1)
    directions = torch.einsum("nij,nj->ni", c2w[:, :3, :3], local)
    return c2w[:, :3, 3].clone(), torch.nn.functional.normalize(directions, dim=-1)


def camera_rays(camera: Camera, rows: slice | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """World rays (H' * W, 3) of every pixel of a camera (row-major; optionally only some rows)."""
    v = torch.arange(camera.height)[rows if rows is not None else slice(None)]
    u = torch.arange(camera.width)
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    n = vv.numel()
    c2w = torch.tensor(camera.c2w, dtype=torch.float32).expand(n, 4, 4)
    intrinsics = torch.tensor([camera.fx, camera.fy, camera.cx, camera.cy], dtype=torch.float32).expand(n, 4)
    distortion = torch.tensor(camera.distortion, dtype=torch.float32).expand(n, 4)
    return pixel_rays(c2w, intrinsics, distortion, uu.reshape(-1), vv.reshape(-1))


def transform_rays(
    origins: torch.Tensor, directions: torch.Tensor, matrix: np.ndarray | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map rays by a 4x4 similarity (world -> unit cube); directions stay unit length."""
    if matrix is None:
        return origins, directions
    m = torch.tensor(np.asarray(matrix), dtype=torch.float32, device=origins.device)
    new_directions = torch.nn.functional.normalize(directions @ m[:3, :3].T, dim=-1)
    return origins @ m[:3, :3].T + m[:3, 3], new_directions


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Camera-to-world (4, 4), OpenGL axes, at `eye` looking at `target`."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight along `up`
        right = np.cross(forward, np.roll(up, 1))
    right = right / np.linalg.norm(right)
    true_up = np.cross(right, forward)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, true_up, -forward, eye
    return c2w


def orbit_camera(
    azimuth: float,
    elevation: float,
    distance: float,
    width: int,
    height: int,
    fov: float = 40.0,
    target: tuple[float, float, float] = (0.5, 0.5, 0.5),
) -> Camera:
    """A camera in unit-cube coordinates on a sphere around `target`, y up: azimuth (degrees) turns
    around y from +z towards +x, elevation (degrees) above the x-z plane, distance in cube units,
    fov (degrees) the vertical field of view."""
    if distance <= 0.0:
        raise ConfigError(f"camera distance must be positive, not {distance}")
    if not 1.0 <= fov < 180.0:
        raise ConfigError(f"field of view must be between 1 and 180 degrees, not {fov}")
    az, el = math.radians(azimuth), math.radians(elevation)
    centre = np.asarray(target, dtype=np.float64)
    eye = centre + distance * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    focal = 0.5 * height / math.tan(math.radians(fov) / 2.0)
    c2w = look_at(eye, centre, np.array([0.0, 1.0, 0.0]))
    return Camera(c2w, focal, focal, width / 2.0, height / 2.0, width, height)
