"""Do a data set's cameras see a common volume? Each pinhole camera's view (in front of it, inside
its image's four edges) is a convex cone of five half-spaces, and the scene's box (the unit cube of
the field, in world coordinates) six more; the cameras share a volume inside the box iff the
intersection of them all has an interior. A linear program finds the largest ball inside that
intersection (its Chebyshev centre); a radius of zero means no common volume.

OpenGL camera axes (as fields/render/cameras.py): the camera looks down its -z, image rows go down
its -y; pixel (u, v) = (cx + fx x / d, cy - fy y / d) at depth d = -z. Lens distortion is ignored
(it moves the image edges by a few pixels at most, and only a sliver of shared volume would notice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

#: A shared ball smaller than this share of the box's side counts as no common volume.
MIN_SHARED = 1e-4


@dataclass(frozen=True)
class ViewCone:
    """The half-spaces rows @ x <= limits (rows (K, 3) unit length, limits (K,)) of what one camera
    sees, in world coordinates."""

    rows: np.ndarray
    limits: np.ndarray


def view_cone(c2w: np.ndarray, fx: float, fy: float, cx: float, cy: float, width: int, height: int) -> ViewCone:
    """The view of a pinhole camera (camera-to-world (4, 4), intrinsics in pixels) as half-spaces:
    the image's left, right, top and bottom edges and depth >= 0."""
    in_camera = np.array(
        [
            [-fx, 0.0, cx],  # u >= 0
            [fx, 0.0, width - cx],  # u <= width
            [0.0, fy, cy],  # v >= 0
            [0.0, -fy, height - cy],  # v <= height
            [0.0, 0.0, 1.0],  # in front: z <= 0
        ]
    )
    rotation, centre = np.asarray(c2w, np.float64)[:3, :3], np.asarray(c2w, np.float64)[:3, 3]
    rows = in_camera @ rotation.T  # row . (R^T (x - c)) = (R row) . x - (R row) . c
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return ViewCone(rows, rows @ centre)


def box_cone(unit_from_world: np.ndarray) -> ViewCone:
    """The scene's box, where unit_from_world (4, 4) maps world points into [0,1]^3, as half-spaces."""
    m = np.asarray(unit_from_world, np.float64)
    rows = np.concatenate([m[:3, :3], -m[:3, :3]])
    limits = np.concatenate([1.0 - m[:3, 3], m[:3, 3]])
    norms = np.linalg.norm(rows, axis=1)
    return ViewCone(rows / norms[:, None], limits / norms)


def box_bounds(unit_from_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The world-space corners (lowest, highest) (3,) of the box unit_from_world maps to [0,1]^3."""
    world = np.linalg.inv(np.asarray(unit_from_world, np.float64))
    corners = np.array([[i, j, k, 1.0] for i in (0, 1) for j in (0, 1) for k in (0, 1)]) @ world.T
    return corners[:, :3].min(axis=0), corners[:, :3].max(axis=0)


def shared_radius(cones: Sequence[ViewCone], cap: float) -> float:
    """The radius (up to `cap`) of the largest ball inside every cone's half-spaces; <= 0 when they
    share no volume (a linear program in (x, r): maximise r with rows @ x + r <= limits)."""
    rows = np.concatenate([c.rows for c in cones])
    limits = np.concatenate([c.limits for c in cones])
    a_ub = np.concatenate([rows, np.ones((len(rows), 1))], axis=1)
    result = linprog(
        np.array([0.0, 0.0, 0.0, -1.0]), A_ub=a_ub, b_ub=limits, bounds=[(None, None)] * 3 + [(None, cap)],
        method="highs",
    )  # fmt: skip
    return float(-result.fun) if result.status == 0 else cap  # a solver failure decides nothing


def view_overlap_problem(cameras: Sequence[ViewCone], unit_from_world: np.ndarray) -> tuple[int, str] | None:
    """None when the cameras' views share a volume inside the scene's box; else (i, why): the first
    camera that sees no part of the box, or the first that sees nothing the cameras before it all
    see (found by bisection: sharing a volume only gets harder with more cameras)."""
    box = box_cone(unit_from_world)
    low, high = box_bounds(unit_from_world)
    side = float(np.min(high - low))
    tolerance = MIN_SHARED * side
    if shared_radius([box, *cameras], side) > tolerance:
        return None
    where = " x ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(low, high, strict=True))
    for index, camera in enumerate(cameras):
        if shared_radius([box, camera], side) <= tolerance:
            return index, f"the camera sees no part of the scene's box {where} (it looks away, or the box is behind it)"
    lo, hi = 1, len(cameras)  # cameras[:lo] share a volume, cameras[:hi] do not
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if shared_radius([box, *cameras[:middle]], side) > tolerance:
            lo = middle
        else:
            hi = middle
    why = f"the cameras do not see a common volume: this one sees nothing in {where} that all the views before it see"
    return hi - 1, why
