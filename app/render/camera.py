"""Cameras of the view: a 2D pan/zoom camera over [0,1]^2 and a 3D orbit camera around the unit
cube. Both are immutable; interactions return a new camera."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: Zoom limits of the 2D view (1 = the whole image fits the view). Far past the image's own
#: resolution: the field is continuous.
MIN_ZOOM, MAX_ZOOM = 0.05, 4096.0


@dataclass(frozen=True)
class Camera2D:
    """center: field coordinates at the middle of the view; zoom 1 fits the image into the view
    with square pixels, zoom 2 shows half of it, ..."""

    center: tuple[float, float] = (0.5, 0.5)
    zoom: float = 1.0

    def pixel_scale(self, width: int, height: int, image_size: tuple[int, int]) -> float:
        """View pixels per image pixel."""
        return min(width / image_size[0], height / image_size[1]) * self.zoom

    def mapping(self, width: int, height: int, image_size: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """(origin, axis_x, axis_y) float32 (2,): field coordinates of view point (u, v) in [0,1]^2
        (v downwards) are origin + u * axis_x + v * axis_y."""
        s = self.pixel_scale(width, height, image_size)
        axis_x = np.array([width / (s * image_size[0]), 0.0], np.float32)
        axis_y = np.array([0.0, height / (s * image_size[1])], np.float32)
        origin = np.array(self.center, np.float32) - 0.5 * (axis_x + axis_y)
        return origin, axis_x, axis_y

    def field_coords(self, width: int, height: int, image_size: tuple[int, int]) -> np.ndarray:
        """Field coordinates of every view pixel's center, float32 (H, W, 2), computed in float32
        as view2d.frag does."""
        origin, axis_x, axis_y = self.mapping(width, height, image_size)
        j, i = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        u = ((i + 0.5) / np.float32(width)).astype(np.float32)[..., None]
        v = ((j + 0.5) / np.float32(height)).astype(np.float32)[..., None]
        return (origin + u * axis_x + v * axis_y).astype(np.float32)

    def scene_rect(self, width: int, height: int, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) view pixels showing the scene's extent [0,1]^2, within the view."""
        origin, axis_x, axis_y = self.mapping(width, height, image_size)
        left, right = ((np.array([0.0, 1.0]) - origin[0]) / axis_x[0] * width).round().astype(int)
        top, bottom = ((np.array([0.0, 1.0]) - origin[1]) / axis_y[1] * height).round().astype(int)
        return max(0, int(left)), max(0, int(top)), min(width, int(right)), min(height, int(bottom))

    def pan(self, dx: float, dy: float, width: int, height: int, image_size: tuple[int, int]) -> Camera2D:
        """Move the picture with the mouse by (dx, dy) view pixels."""
        s = self.pixel_scale(width, height, image_size)
        cx, cy = self.center
        return replace(self, center=(cx - dx / (s * image_size[0]), cy - dy / (s * image_size[1])))

    def with_zoom(self, zoom: float) -> Camera2D:
        """The same view centre at another zoom."""
        return replace(self, zoom=zoom)

    def zoom_by(
        self, factor: float, at: tuple[float, float], width: int, height: int, image_size: tuple[int, int]
    ) -> Camera2D:
        """Zoom by `factor`, keeping the field point under view pixel `at` where it is."""
        zoom = float(np.clip(self.zoom * factor, MIN_ZOOM, MAX_ZOOM))
        origin, ax, ay = self.mapping(width, height, image_size)
        u, v = at[0] / width, at[1] / height
        fixed = origin + u * ax + v * ay
        moved = self.with_zoom(zoom)
        o2, ax2, ay2 = moved.mapping(width, height, image_size)
        shift = fixed - (o2 + u * ax2 + v * ay2)
        return replace(moved, center=(self.center[0] + float(shift[0]), self.center[1] + float(shift[1])))


@dataclass(frozen=True)
class Camera3D:
    """Orbit camera: looks at `target` from `distance`, at azimuth/elevation in degrees (y up),
    turned by `roll` degrees about its viewing direction (positive: the picture turns clockwise, the
    camera's right vector towards its unrolled up; the mouse never rolls it, a camera path may)."""

    target: tuple[float, float, float] = (0.5, 0.5, 0.5)
    distance: float = 2.4
    azimuth: float = 35.0
    elevation: float = 25.0
    fov: float = 40.0
    roll: float = 0.0

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """eye, forward, right, up as float32 (3,)."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        offset = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        eye = np.array(self.target) + self.distance * offset
        forward = -offset / np.linalg.norm(offset)
        right, up = level_axes(forward)
        if self.roll:
            turn = math.radians(self.roll)
            right, up = math.cos(turn) * right + math.sin(turn) * up, math.cos(turn) * up - math.sin(turn) * right
        return tuple(v.astype(np.float32) for v in (eye, forward, right, up))  # type: ignore[return-value]

    def slice_point(
        self, width: int, height: int, pointer: tuple[float, float], axis: int, position: float
    ) -> np.ndarray | None:
        """The point (3,) of the slice plane (coordinate `axis` = `position`) under view pixel
        `pointer` (x, y from the top left), as view3d.frag's slice_hit finds it; None off the
        plane's square in the unit cube."""
        eye, forward, right, up = (v.astype(np.float64) for v in self.basis())
        ndc_x = 2.0 * pointer[0] / width - 1.0
        ndc_y = 1.0 - 2.0 * pointer[1] / height
        tan = math.tan(math.radians(self.fov) / 2)
        d = forward + ndc_x * tan * (width / height) * right + ndc_y * tan * up
        d /= np.linalg.norm(d)
        if abs(d[axis]) < 1e-12:
            return None
        t = (position - eye[axis]) / d[axis]
        p = eye + t * d
        return p if t > 0 and np.all((p >= 0.0) & (p <= 1.0)) else None

    def orbit(self, d_azimuth: float, d_elevation: float) -> Camera3D:
        return replace(
            self,
            azimuth=(self.azimuth + d_azimuth) % 360.0,
            elevation=float(np.clip(self.elevation + d_elevation, -89.0, 89.0)),
        )

    def pan(self, dx: float, dy: float, height: int) -> Camera3D:
        """Move the target with the mouse by (dx, dy) view pixels."""
        _, _, right, up = self.basis()
        per_pixel = 2.0 * self.distance * math.tan(math.radians(self.fov) / 2) / max(height, 1)
        target = np.array(self.target) - dx * per_pixel * right + dy * per_pixel * up
        return replace(self, target=tuple(float(v) for v in target))

    def zoom_by(self, factor: float) -> Camera3D:
        """Move closer (factor > 1) or away."""
        return replace(self, distance=float(np.clip(self.distance / factor, 0.05, 20.0)))


def level_axes(forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right and up (3,) of an unrolled camera looking along the unit vector `forward` (3,): right
    level (in the x-z plane), up towards +y."""
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= max(np.linalg.norm(right), 1e-9)
    return right, np.cross(right, forward)


#: The view's camera: 2D (pan and zoom over the image) or 3D (orbit around a target).
ViewCamera = Camera2D | Camera3D


def pose_camera(c2w: np.ndarray, fov: float, unit_from_world: np.ndarray | None = None) -> Camera3D:
    """The orbit camera that sees as a camera-to-world pose (4, 4) (OpenGL axes: x right, y up,
    looking down -z) with vertical field of view `fov` (degrees) sees, in unit-cube coordinates (a
    pose in a NeRF's world is mapped by unit_from_world (4, 4), a similarity): its eye, direction,
    roll about that direction and field of view. Its target lies where the view passes nearest the
    cube's centre."""
    c2w = np.asarray(c2w, np.float64)
    rotation = np.eye(3) if unit_from_world is None else np.asarray(unit_from_world, np.float64)[:3, :3]
    eye = c2w[:3, 3] if unit_from_world is None else (np.asarray(unit_from_world) @ np.append(c2w[:3, 3], 1.0))[:3]
    forward = rotation @ -c2w[:3, 2]
    forward /= np.linalg.norm(forward)
    camera_right = rotation @ c2w[:3, 0]
    right, up = level_axes(forward)
    roll = math.degrees(math.atan2(float(camera_right @ up), float(camera_right @ right)))
    centre = np.full(3, 0.5)
    distance = max(float(np.dot(centre - eye, forward)), 1e-3)
    target = eye + distance * forward
    offset = -forward
    elevation = math.degrees(math.asin(float(np.clip(offset[1], -1.0, 1.0))))
    azimuth = math.degrees(math.atan2(offset[0], offset[2])) % 360.0
    return Camera3D(tuple(float(v) for v in target), distance, azimuth, elevation, float(fov), roll)


def test_view_camera(view: dict[str, Any], unit_from_world: np.ndarray) -> Camera3D:
    """The orbit camera that sees as a NeRF test view (fields.cameras.Camera.to_dict: c2w, intrinsics,
    size; OpenGL axes, x right, y up, looking down -z) sees, in unit-cube coordinates (pose_camera)."""
    fy, height = float(view["intrinsics"][1]), float(view["size"][1])
    fov = math.degrees(2.0 * math.atan(0.5 * height / fy))
    return pose_camera(np.asarray(view["c2w"], np.float64), fov, unit_from_world)
