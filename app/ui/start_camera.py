"""The view's camera given on the command line (`fieldscope view PATH --camera ...`):
`test:N` (a NeRF scene's test view N) or `orbit:AZ,EL,DIST` (degrees, degrees, unit-cube lengths)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fieldscope.app.render.camera import Camera3D, test_view_camera
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.training.trainer import Snapshot


@dataclass(frozen=True)
class CameraChoice:
    """A parsed --camera: kind "test" (view index in `values`) or "orbit" (azimuth, elevation, distance)."""

    text: str
    kind: str
    values: tuple[float, ...]


def parse_camera(text: str) -> CameraChoice:
    """--camera's text -> CameraChoice; ConfigError (one line naming the value) when malformed."""
    kind, _, rest = text.partition(":")
    usage = "use test:N or orbit:AZ,EL,DIST"
    try:
        if kind == "test":
            index = int(rest)
            if index < 0:
                raise ValueError
            return CameraChoice(text, kind, (float(index),))
        if kind == "orbit":
            values = tuple(float(v) for v in rest.split(","))
            if len(values) != 3 or not all(math.isfinite(v) for v in values) or values[2] <= 0:
                raise ValueError
            return CameraChoice(text, kind, values)
    except ValueError:
        pass
    raise ConfigError(f"--camera {text!r}: not a camera ({usage}; DIST > 0, N >= 0)")


def start_camera(choice: CameraChoice, snapshot: Snapshot) -> Camera3D:
    """The view's camera for `choice` on the scene of `snapshot`; ConfigError for a 2D scene, a
    test view of a scene other than a NeRF, or an index out of range."""
    facts = snapshot.scene or {}
    if int(snapshot.config.dims) != 3:
        name = facts.get("name", "the scene")
        raise ConfigError(f"--camera {choice.text}: {name} is 2D (cameras are for 3D scenes)")
    if choice.kind == "orbit":
        azimuth, elevation, distance = choice.values
        return Camera3D(distance=distance, azimuth=azimuth % 360.0, elevation=float(np.clip(elevation, -89.0, 89.0)))
    views = facts.get("test_views") or []
    if facts.get("task") not in ("nerf", "surface"):
        task = facts.get("task")
        raise ConfigError(f"--camera {choice.text}: test views belong to NeRF scenes and surfaces, not {task}")
    index = int(choice.values[0])
    if not 0 <= index < len(views):
        raise ConfigError(f"--camera {choice.text}: out of range (the scene has {len(views)} test views)")
    return test_view_camera(views[index], np.asarray(facts["unit_from_world"], np.float64))
