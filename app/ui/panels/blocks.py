"""Laplacian blocks panel (MINER fields): the block grid of a level over the view, coloured by
state (active, converged, stopped, pruned), the state counts of that level, the block under the
mouse (also in the status bar) with its residual error, and active blocks per level against
training time (recorded from every snapshot)."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from fieldscope.app.state import blocks
from fieldscope.app.state.block_overlay import BlockOverlay
from fieldscope.app.state.current import Current
from fieldscope.app.state.exports import Exports
from fieldscope.app.state.session import Session
from fieldscope.app.ui.panels import WRAP, Panel
from fieldscope.fields.training.trainer import Snapshot


class BlocksPanel(Panel):
    def __init__(self, overlay: BlockOverlay, current: Current, exports: Exports) -> None:
        self.overlay, self.current, self.exports = overlay, current, exports

    def build(self) -> None:
        with dpg.collapsing_header(label="Laplacian blocks", default_open=True) as self.header:
            with dpg.group(horizontal=True):
                self.on = dpg.add_checkbox(label="block grid of level", callback=lambda *_: self._show())
                self.level = dpg.add_slider_int(width=120, max_value=3, callback=lambda *_: self._show())
            self.counts = dpg.add_text("", wrap=WRAP)
            self.hovered = dpg.add_text("hover over the view for a block's state and error", wrap=WRAP)
            with dpg.plot(height=130, width=-1, no_menus=True, no_box_select=True):
                dpg.add_plot_legend()
                dpg.add_plot_axis(dpg.mvXAxis, label="seconds of training", auto_fit=True)
                self.axis = dpg.add_plot_axis(dpg.mvYAxis, label="active blocks", auto_fit=True)
            dpg.add_button(
                label="Save this view with its legends (PNG)",
                callback=lambda *_: self.exports.screenshot(self.exports.view_name(), legend=True),
            )
        self.series: list[int] = []

    def _show(self) -> None:
        level = dpg.get_value(self.level) if dpg.get_value(self.on) else None
        if not self.overlay.show(level):
            dpg.set_value(self.on, False)

    def on_session(self, session: Session) -> None:
        snapshot = session.latest()
        shown = blocks.has_blocks(snapshot)
        dpg.configure_item(self.header, show=shown)
        for series in self.series:
            dpg.delete_item(series)
        self.series = []
        if not shown:
            return
        levels = snapshot.config.scales
        dpg.configure_item(self.level, max_value=levels - 1)
        state = self.overlay.view_state.settings
        dpg.set_value(self.on, state.blocks >= 0)
        dpg.set_value(self.level, max(0, state.blocks))
        self.series = [dpg.add_line_series([], [], parent=self.axis, label=f"level {lvl}") for lvl in range(levels)]

    def refresh(self, snapshot: Snapshot) -> None:
        if not self.series or not blocks.has_blocks(snapshot):
            return
        level = dpg.get_value(self.level)
        shown = blocks.block_levels(snapshot)[level]
        counts = ", ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in shown.counts().items() if n)
        dpg.set_value(self.counts, f"level {level} (scale {shown.scale}, {'x'.join(map(str, shown.blocks))}): {counts}")
        if self.overlay.hovered:
            dpg.set_value(self.hovered, self.overlay.hovered)
        history = self.current.history
        for lvl, series in enumerate(self.series):
            dpg.set_value(series, [list(history.block_times), [a[lvl] for a in history.active_blocks]])
