"""View panel. 2D: mode (field, ground truth, error map), zoom (far past the image's own
resolution), reset. 3D: mode (shaded, normals, depth, slice plane, density), orbit, zoom, slice
plane. The mouse does the same on the view: drag to pan (2D) or orbit (3D; right drag pans),
wheel to zoom."""

from __future__ import annotations

import math
from collections.abc import Callable

import dearpygui.dearpygui as dpg

from fieldscope.app.render.camera import MAX_ZOOM, Camera2D, Camera3D
from fieldscope.app.render.renderer import image_size
from fieldscope.app.state.current import Current
from fieldscope.app.state.session import Session
from fieldscope.app.state.shown import Views
from fieldscope.app.state.view import USER_MODES
from fieldscope.app.ui.panels import Panel
from fieldscope.fields.training.trainer import Snapshot


class ViewPanel(Panel):
    def __init__(self, views: Views, current: Current) -> None:
        self.views, self.current = views, current

    def build(self) -> None:
        views, state = self.views, self.views.view_state
        with dpg.collapsing_header(label="View", default_open=True):
            with dpg.group() as self.group_2d:
                self.mode_2d = dpg.add_radio_button(
                    USER_MODES[2], horizontal=True, default_value="field", callback=lambda s, m: views.set_mode(m)
                )
                self.zoom = dpg.add_slider_float(
                    label="zoom (log2)",
                    min_value=-2.0,
                    max_value=math.log2(MAX_ZOOM),
                    width=180,
                    callback=lambda s, v: self._set_zoom(2.0**v),
                )
                with dpg.group(horizontal=True):
                    dpg.add_button(label="fit", callback=lambda *_: state.reset_camera())
                    dpg.add_button(label="1:1 pixels", callback=lambda *_: self._one_to_one())
                    self.gain = dpg.add_input_float(
                        label="error gain",
                        default_value=4.0,
                        width=80,
                        step=0,
                        callback=lambda s, v: state.change(error_gain=max(0.01, v)),
                    )
            with dpg.group(show=False) as self.group_3d:
                self.mode_3d = dpg.add_radio_button(
                    USER_MODES[3], horizontal=True, default_value="shaded", callback=lambda s, m: views.set_mode(m)
                )
                with dpg.group(horizontal=True):
                    for label, turn in (("<", (-15, 0)), (">", (15, 0)), ("^", (0, 10)), ("v", (0, -10))):
                        dpg.add_button(label=label, callback=lambda *_, t=turn: self._orbit(*t))
                    dpg.add_button(label="+", callback=lambda *_: self._zoom3d(1.25))
                    dpg.add_button(label="-", callback=lambda *_: self._zoom3d(0.8))
                    dpg.add_button(label="reset", callback=lambda *_: state.reset_camera())
                self.axis = dpg.add_radio_button(
                    ("x", "y", "z"),
                    horizontal=True,
                    default_value="z",
                    callback=lambda s, a: state.change(slice_axis="xyz".index(a)),
                )
                self.slice = dpg.add_slider_float(
                    label="slice",
                    min_value=0.0,
                    max_value=1.0,
                    default_value=0.5,
                    width=180,
                    callback=lambda s, v: state.change(slice_position=v),
                )
                self.density = dpg.add_slider_float(
                    label="density scale",
                    min_value=0.05,
                    max_value=20.0,
                    default_value=1.0,
                    width=180,
                    callback=lambda s, v: state.change(density_scale=v),
                )

    def _one_to_one(self) -> None:
        state, snapshot = self.views.view_state, self.current.snapshot()
        if snapshot is not None and isinstance(state.camera, Camera2D):
            fit = Camera2D(state.camera.center, 1.0).pixel_scale(*state.size, image_size(snapshot))
            self._set_zoom(1.0 / fit)

    def _set_zoom(self, zoom: float) -> None:
        state = self.views.view_state
        if isinstance(state.camera, Camera2D):
            state.set_camera(state.camera.with_zoom(zoom))

    def _orbit(self, d_azimuth: float, d_elevation: float) -> None:
        self._move_3d(lambda camera: camera.orbit(d_azimuth, d_elevation))

    def _zoom3d(self, factor: float) -> None:
        self._move_3d(lambda camera: camera.zoom_by(factor))

    def _move_3d(self, move: Callable[[Camera3D], Camera3D]) -> None:
        camera = self.views.view_state.camera
        if isinstance(camera, Camera3D):
            self.views.view_state.set_camera(move(camera))

    def on_session(self, session: Session) -> None:
        dims = self.views.view_state.dims
        dpg.configure_item(self.group_2d, show=dims == 2)
        dpg.configure_item(self.group_3d, show=dims == 3)
        dpg.set_value(self.mode_2d if dims == 2 else self.mode_3d, self.views.view_state.mode)

    def refresh(self, snapshot: Snapshot) -> None:
        camera = self.views.view_state.camera
        if isinstance(camera, Camera2D) and not dpg.is_item_active(self.zoom):
            dpg.set_value(self.zoom, math.log2(camera.zoom))
