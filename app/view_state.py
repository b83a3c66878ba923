"""What the view shows and from where: camera, mode and the per-mode settings, and how mouse
gestures move the camera. Pure state (no DearPyGui or GL)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.renderer import MODES_2D, MODES_3D, ViewOptions, default_camera, image_size

#: The modes a user picks from (the others are for tests and exports).
USER_MODES = {2: ("field", "truth", "error"), 3: ("shaded", "normals", "depth", "slice", "density")}
#: Seconds after the last camera change during which the view stays at reduced resolution.
SETTLE = 0.25


@dataclass
class ViewState:
    dims: int = 2
    camera: Camera2D | Camera3D = field(default_factory=Camera2D)
    mode: str = "field"
    size: tuple[int, int] = (800, 600)
    slice_axis: int = 2
    slice_position: float = 0.5
    error_gain: float = 4.0
    density_scale: float = 1.0
    moved_at: float = 0.0
    heatmap: str = "none"
    heat_level: int = 0
    heat_opacity: float = 0.75
    heat_scale: float = 0.0
    points: tuple[bool, ...] = ()
    sigma_circles: bool = True
    level_strip: bool = True
    legend: bool = True
    blocks: int = -1

    def reset_for(self, snapshot: Any) -> None:
        """A new scene: its kind of camera and default mode."""
        self.dims = int(snapshot.config.dims)
        self.camera = default_camera(snapshot)
        if self.mode not in USER_MODES[self.dims]:
            self.mode = USER_MODES[self.dims][0]

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
        self.mode = mode

    def options(
        self, mask: tuple[bool, ...] | None, truth: Any = None, level_states: tuple[str, ...] = (), caption: str = ""
    ) -> ViewOptions:
        """The view's options; the level strip (level_states, caption) shows when it is on and some
        level is not."""
        strip = self.level_strip and any(state != "on" for state in level_states)
        return ViewOptions(
            width=self.size[0],
            height=self.size[1],
            mode=self.mode,
            level_mask=mask,
            ground_truth=truth,
            error_gain=self.error_gain,
            slice_axis=self.slice_axis,
            slice_position=self.slice_position,
            density_scale=self.density_scale,
            heatmap=self.heatmap,
            heat_level=self.heat_level,
            heat_opacity=self.heat_opacity,
            heat_scale=self.heat_scale,
            points=self.points,
            sigma_circles=self.sigma_circles,
            level_states=level_states if strip else (),
            levels_caption=caption if strip else "",
            legend=self.legend,
            blocks=self.blocks,
        )

    # ---- gestures (view pixels)
    def drag(self, snapshot: Any, dx: float, dy: float, button: int) -> None:
        """Left drag: pan (2D) or orbit (3D); right or middle drag: pan (3D)."""
        if isinstance(self.camera, Camera2D):
            self.set_camera(self.camera.pan(dx, dy, *self.size, image_size(snapshot)))
        elif button == 0:
            self.set_camera(self.camera.orbit(-0.4 * dx, 0.4 * dy))
        else:
            self.set_camera(self.camera.pan(dx, dy, self.size[1]))

    def wheel(self, snapshot: Any, clicks: float, at: tuple[float, float] | None = None) -> None:
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
