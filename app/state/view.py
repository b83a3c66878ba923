"""What the view shows and from where: camera, the view's options (one ViewOptions, changed with
dataclasses.replace) and how mouse gestures move the camera. Pure state (no DearPyGui or GL)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fieldscope.app.render.camera import Camera2D, Camera3D, test_view_camera
from fieldscope.app.render.renderer import MODES_2D, MODES_3D, ViewOptions, default_camera, image_size
from fieldscope.fields.training.trainer import Snapshot

#: The modes a user picks from (the others are for tests and exports).
USER_MODES = {2: ("field", "truth", "error", "gradient"), 3: ("shaded", "normals", "depth", "slice", "density", "rgb")}
#: Each task's view mode when its scene opens: the picture that shows what the field learnt (a
#: volume: its isosurface at the scene's level; a NeRF: its colour volume rendered over its background).
DEFAULT_MODES = {
    "image": "field",
    "sdf": "shaded",
    "occupancy": "shaded",
    "volume": "shaded",
    "nerf": "rgb",
    "surface": "shaded",
}
#: Seconds after the last camera change during which the view stays at reduced resolution.
SETTLE = 0.25


def default_mode(snapshot: Snapshot) -> str:
    """The view mode a scene opens with: by its task, else the first of its dimension's modes."""
    dims = int(snapshot.config.dims)
    mode = DEFAULT_MODES.get(str(snapshot.scene.get("task", "")) if snapshot.scene else "", USER_MODES[dims][0])
    return mode if mode in (MODES_2D if dims == 2 else MODES_3D) else USER_MODES[dims][0]


@dataclass
class ViewState:
    """`settings`: the user's view options (size, mode, slice, heatmap, overlays, ...); the level
    mask, ground truth and level strip are added by `options`."""

    dims: int = 2
    camera: Camera2D | Camera3D = field(default_factory=Camera2D)
    settings: ViewOptions = field(default_factory=ViewOptions)
    moved_at: float = 0.0
    level_strip: bool = True

    @property
    def size(self) -> tuple[int, int]:
        return self.settings.width, self.settings.height

    @property
    def mode(self) -> str:
        return self.settings.mode

    def change(self, **settings: Any) -> None:
        """Change some of the view's options (ViewOptions field names)."""
        self.settings = replace(self.settings, **settings)

    def set_size(self, size: tuple[int, int]) -> None:
        if size != self.size:
            self.change(width=int(size[0]), height=int(size[1]))

    def reset_for(self, snapshot: Snapshot) -> None:
        """A new scene: its kind of camera (a NeRF's: at its first test view) and its task's default mode."""
        self.dims = int(snapshot.config.dims)
        self.camera = default_camera(snapshot)
        views = snapshot.scene.get("test_views") if snapshot.scene else None
        if self.dims == 3 and views:
            self.camera = test_view_camera(views[0], np.asarray(snapshot.scene["unit_from_world"], np.float64))
        self.change(mode=default_mode(snapshot))

    @property
    def moving(self) -> bool:
        return time.perf_counter() - self.moved_at < SETTLE

    def set_camera(self, camera: Camera2D | Camera3D) -> None:
        if camera != self.camera:
            self.camera = camera
            self.moved_at = time.perf_counter()

    def set_mode(self, mode: str) -> None:
        modes = MODES_2D if self.dims == 2 else MODES_3D
        if mode not in modes:
            raise ValueError(f"unknown {self.dims}D view mode {mode!r} (known: {', '.join(modes)})")
        self.change(mode=mode)

    def options(
        self,
        mask: tuple[bool, ...] | None,
        truth: np.ndarray | None = None,
        level_states: tuple[str, ...] = (),
        caption: str = "",
    ) -> ViewOptions:
        """The view's options; the level strip (level_states, caption) shows when it is on and some
        level is not."""
        strip = self.level_strip and any(state != "on" for state in level_states)
        return replace(
            self.settings,
            level_mask=mask,
            ground_truth=truth,
            level_states=level_states if strip else (),
            levels_caption=caption if strip else "",
        )

    # ---- gestures (view pixels)
    def drag(self, snapshot: Snapshot, dx: float, dy: float, button: int) -> None:
        """Left drag: pan (2D) or orbit (3D); right or middle drag: pan (3D)."""
        if isinstance(self.camera, Camera2D):
            self.set_camera(self.camera.pan(dx, dy, *self.size, image_size(snapshot)))
        elif button == 0:
            self.set_camera(self.camera.orbit(-0.4 * dx, 0.4 * dy))
        else:
            self.set_camera(self.camera.pan(dx, dy, self.size[1]))

    def wheel(self, snapshot: Snapshot, clicks: float, at: tuple[float, float] | None = None) -> None:
        """Zoom in (clicks > 0) or out, about the pointer in 2D."""
        factor = 1.2**clicks
        if isinstance(self.camera, Camera2D):
            at = at or (self.size[0] / 2, self.size[1] / 2)
            self.set_camera(self.camera.zoom_by(factor, at, *self.size, image_size(snapshot)))
        else:
            self.set_camera(self.camera.zoom_by(factor))

    def reset_camera(self) -> None:
        self.set_camera(Camera2D() if self.dims == 2 else Camera3D())

    def with_zoom(self, zoom: float) -> None:
        if isinstance(self.camera, Camera2D):
            self.set_camera(replace(self.camera, zoom=zoom))
