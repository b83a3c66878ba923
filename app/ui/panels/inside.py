"""Inside panel: what no other tool shows live. A heatmap over the view (hash collisions of a level,
a level's contribution to the output, or for Gaussian buckets the points serving each vertex) with
its statistics; the Lagrangian points overlay with a toggle per level, their counts and density
histogram; every level's contribution; the level strip and the legends. Statistics are computed
off the UI thread (numpy) or in small pictures (contributions), a few times a second at most."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import dearpygui.dearpygui as dpg
import numpy as np

from fieldscope.app.render.heatmaps import HEATMAPS
from fieldscope.app.render.renderer import Renderer, ViewOptions
from fieldscope.app.state import inside
from fieldscope.app.state.exports import Exports
from fieldscope.app.state.level_mask import LevelMask
from fieldscope.app.state.overlays import Overlays
from fieldscope.app.state.session import Session
from fieldscope.app.state.shown import Views
from fieldscope.app.state.status import Status
from fieldscope.app.ui.panels import WRAP, Panel
from fieldscope.fields.training.trainer import Snapshot

LABELS = {
    "none": "none",
    "collisions": "hash collisions",
    "contribution": "level contribution",
    "points_per_vertex": "points per vertex",
}
#: Seconds between updates of the statistics while training.
STATS_PERIOD, CONTRIBUTION_PERIOD = 1.0, 2.0


def _plot(label_x: str, label_y: str) -> tuple[int, int]:
    """A small plot; its y axis (the parent of series) and the plot."""
    with dpg.plot(height=110, width=-1, no_menus=True, no_box_select=True) as plot:
        dpg.add_plot_axis(dpg.mvXAxis, label=label_x, auto_fit=True)
        y_axis = dpg.add_plot_axis(dpg.mvYAxis, label=label_y, auto_fit=True)
    return y_axis, plot


class InsidePanel(Panel):
    """Paints Overlays (the settings it sends the user's choices to) and statistics of the shown field."""

    def __init__(
        self, overlays: Overlays, views: Views, levels: LevelMask, renderer: Renderer, exports: Exports, status: Status
    ) -> None:
        self.overlays, self.views, self.levels = overlays, views, levels
        self.renderer, self.exports, self.status = renderer, exports, status

    def build(self) -> None:
        overlays = self.overlays
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fieldscope-inside")
        self.pending: Future | None = None
        self.asked: tuple[object, str, int] | None = None  # (config, heatmap, level) of the statistics
        self.last_stats = self.last_contributions = 0.0
        with dpg.collapsing_header(label="Inside the field", default_open=True):
            self.heatmap = dpg.add_combo(
                [LABELS[h] for h in HEATMAPS],
                default_value="none",
                label="heatmap",
                width=170,
                callback=lambda s, label: overlays.set_heatmap(_name(label)),
            )
            self.level = dpg.add_slider_int(
                label="level", max_value=15, width=170, callback=lambda s, v: overlays.set_heat_level(v)
            )
            self.opacity = dpg.add_slider_float(
                label="opacity",
                default_value=0.75,
                max_value=1.0,
                width=170,
                callback=lambda s, v: overlays.set_heat_opacity(v),
            )
            self.scale = dpg.add_input_float(
                label="contribution scale (0 auto)",
                default_value=0.0,
                step=0,
                width=90,
                on_enter=True,
                callback=lambda s, v: overlays.set_heat_scale(v),
            )
            self.heat_text = dpg.add_text("", wrap=WRAP)
            self.hist_axis, self.hist_plot = _plot("vertices per entry", "entries")
            self.hist = dpg.add_bar_series([], [], weight=0.8, parent=self.hist_axis, label="entries")
            self.share_axis, self.share_plot = _plot("vertices per bucket", "mean per bucket")
            self.served = dpg.add_line_series([], [], parent=self.share_axis, label="vertices served")
            self.serving = dpg.add_line_series([], [], parent=self.share_axis, label="points serving")
            self.contrib_box = dpg.add_checkbox(label="contribution of every level", default_value=False)
            self.contrib_axis, self.contrib_plot = _plot("level", "mean |f - f without it|")
            self.contrib = dpg.add_bar_series([], [], weight=0.7, parent=self.contrib_axis)
            dpg.add_separator()
            with dpg.group(horizontal=True):
                self.points_box = dpg.add_checkbox(
                    label="Lagrangian points", callback=lambda s, on: self._all_points(on)
                )
                self.sigma = dpg.add_checkbox(
                    label="sigma", default_value=True, callback=lambda s, on: overlays.set_sigma_circles(on)
                )
                self.start = dpg.add_checkbox(
                    label="start positions",
                    default_value=False,
                    callback=lambda s, on: overlays.set_points_start(on),
                )
            self.point_toggles = dpg.add_group(horizontal=True)
            self.point_text = dpg.add_text("", wrap=WRAP)
            self.density_axis, self.density_plot = _plot("points per cell", "cells")
            dpg.add_separator()
            with dpg.group(horizontal=True):
                self.strip = dpg.add_checkbox(
                    label="level strip", default_value=True, callback=lambda s, on: overlays.set_level_strip(on)
                )
                self.legend = dpg.add_checkbox(
                    label="legends", default_value=True, callback=lambda s, on: overlays.set_legend(on)
                )
            self.levels_text = dpg.add_text("", wrap=WRAP)
            dpg.add_button(label="Save this view with its legends (PNG)", callback=lambda *_: self.export())
        self.level_boxes: list[int] = []
        self.density_series: list[int] = []

    def _all_points(self, on: bool) -> None:
        if not self.overlays.show_points(on):
            dpg.set_value(self.points_box, False)
        for box, shown in zip(self.level_boxes, self.overlays.view_state.settings.points, strict=False):
            dpg.set_value(box, shown)

    def export(self) -> bool:
        """The view as shown, with its legends, into the Export panel's folder (written atomically;
        named after the scene, what the view shows and the step)."""
        return self.exports.screenshot(self.exports.view_name(), legend=True)

    def on_session(self, session: Session) -> None:
        snapshot = session.latest()
        state = self.overlays.view_state.settings
        dpg.configure_item(self.level, max_value=max(1, len(snapshot.level_mask) - 1))
        dpg.set_value(self.level, state.heat_level)
        dpg.set_value(self.heatmap, LABELS[state.heatmap])
        dpg.delete_item(self.point_toggles, children_only=True)
        for series in self.density_series:
            dpg.delete_item(series)
        levels = self.overlays.lagrangian_levels()
        self.level_boxes = [
            dpg.add_checkbox(
                label=f"level {level}",
                parent=self.point_toggles,
                default_value=on,
                user_data=level,
                callback=lambda s, on, level: self.overlays.show_points(on, level),
            )
            for level, on in zip(levels, state.points, strict=False)
        ]
        self.density_series = [
            dpg.add_line_series([], [], parent=self.density_axis, label=f"level {level}") for level in levels
        ]
        for item in (self.points_box, self.sigma, self.start, self.point_toggles, self.point_text, self.density_plot):
            dpg.configure_item(item, show=bool(levels))
        self.asked = None

    def refresh(self, snapshot: Snapshot) -> None:
        state = self.overlays.view_state.settings
        now = time.perf_counter()
        self._follow(state)
        dpg.set_value(self.levels_text, self.levels.state.caption(snapshot.step))
        dpg.configure_item(self.scale, show=state.heatmap == "contribution")
        self._collect()
        wanted = (snapshot.config, state.heatmap, state.heat_level)
        fresh = wanted != self.asked or now - self.last_stats >= STATS_PERIOD
        if fresh and self.pending is None:
            self.asked, self.last_stats = wanted, now
            self.pending = self.pool.submit(_stats, snapshot, state.heatmap, state.heat_level)
        show_contrib = dpg.get_value(self.contrib_box)
        dpg.configure_item(self.contrib_plot, show=show_contrib)
        if show_contrib and now - self.last_contributions >= CONTRIBUTION_PERIOD:
            self.last_contributions = now
            camera = self.overlays.view_state.camera
            values = inside.level_contributions(self.renderer, snapshot, camera, self.views.options())
            dpg.set_value(self.contrib, [list(range(len(values))), values.tolist()])

    def _follow(self, state: ViewOptions) -> None:
        """Show the view's settings (changed through Overlays by scripts or tests too) on the
        widgets the user is not holding."""
        shown = {
            self.heatmap: LABELS[state.heatmap],
            self.level: state.heat_level,
            self.opacity: state.heat_opacity,
            self.sigma: state.sigma_circles,
            self.start: state.points_start,
            self.strip: self.overlays.view_state.level_strip,
            self.legend: state.legend,
            self.points_box: bool(state.points) and all(state.points),
            **dict(zip(self.level_boxes, state.points, strict=False)),
        }
        for item, value in shown.items():
            if not dpg.is_item_active(item) and dpg.get_value(item) != value:
                dpg.set_value(item, value)

    def _collect(self) -> None:
        if self.pending is None or not self.pending.done():
            return
        future, self.pending = self.pending, None
        try:
            report, points = future.result()
        except Exception as error:  # shown, and the window goes on
            message = f"inside statistics failed: {type(error).__name__}: {error}"
            dpg.set_value(self.heat_text, message)
            self.status.say(message, True)
            return
        self._show_collisions(report)
        self._show_points(points)

    def _show_collisions(self, report: inside.CollisionReport | None) -> None:
        state = self.overlays.view_state.settings
        has_hist = state.heatmap == "collisions" and report is not None
        dpg.configure_item(self.hist_plot, show=has_hist)
        dpg.configure_item(self.share_plot, show=has_hist and report.sharing is not None)
        if state.heatmap != "collisions":
            dpg.set_value(self.heat_text, "")
            return
        if report is None:
            dpg.set_value(self.heat_text, f"level {state.heat_level}: counting collisions (see the status bar)")
            return
        stats = report.stats
        dpg.set_value(self.heat_text, f"level {state.heat_level}: {stats.summary()}")
        n = np.arange(len(stats.histogram))
        dpg.set_value(self.hist, [n[1:].tolist(), stats.histogram[1:].tolist()])
        sharing = report.sharing
        if sharing is not None:
            x = sharing.vertices.tolist()
            dpg.set_value(self.served, [x, sharing.served.tolist()])
            dpg.set_value(self.serving, [x, sharing.serving.tolist()])
            dpg.set_value(
                self.heat_text,
                dpg.get_value(self.heat_text)
                + f"\n{100 * sharing.serving_share:.2g}% of the points serve a vertex of their bucket",
            )

    def _show_points(self, points: list[inside.PointStats]) -> None:
        lines = []
        for stats, series in zip(points, self.density_series, strict=False):
            lines.append(
                f"level {stats.level}: {stats.count:,} points, {100 * stats.outside:.1f}% outside, "
                f"sigma {stats.sigma:.3g}"
            )
            dpg.set_value(series, [list(range(len(stats.histogram))), stats.histogram.tolist()])
        dpg.set_value(self.point_text, "\n".join(lines))


def _name(label: str) -> str:
    return next(name for name, text in LABELS.items() if text == label)


def _stats(
    snapshot: Snapshot, heatmap: str, level: int
) -> tuple[inside.CollisionReport | None, list[inside.PointStats]]:
    """Worker thread: the collision report when collisions are shown, and the points' statistics."""
    report = None
    if heatmap == "collisions" and inside.grid_level_count(snapshot.config):
        report = inside.collision_report(snapshot, level)
    return report, inside.point_stats(snapshot)
