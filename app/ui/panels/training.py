"""Training panel: start, pause, single step, reset; learning rate and batch size; steps/s; loss
and PSNR plots against training time."""

from __future__ import annotations

import math
from typing import Any

import dearpygui.dearpygui as dpg

from fieldscope.app.ui.panels import Panel


class TrainingPanel(Panel):
    def build(self) -> None:
        app = self.app
        with dpg.collapsing_header(label="Training", default_open=True):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Start", callback=lambda *_: app.resume())
                dpg.add_button(label="Pause", callback=lambda *_: app.pause())
                dpg.add_button(label="Step", callback=lambda *_: app.step(1))
                dpg.add_button(label="Reset", callback=lambda *_: app.reset())
            self.lr = dpg.add_input_float(
                label="learning rate",
                default_value=1e-2,
                format="%.2e",
                step=0,
                width=120,
                on_enter=True,
                callback=lambda s, value: app.set_learning_rate(value),
            )
            self.batch = dpg.add_input_int(
                label="batch size",
                default_value=1 << 15,
                step=0,
                width=120,
                on_enter=True,
                callback=lambda s, value: app.set_batch_size(value),
            )
            self.stats = dpg.add_text("")
            with dpg.plot(height=120, width=-1, no_menus=True, no_box_select=True):
                dpg.add_plot_axis(dpg.mvXAxis, label="seconds of training", auto_fit=True)
                with dpg.plot_axis(dpg.mvYAxis, label="loss", scale=dpg.mvPlotScale_Log10, auto_fit=True):
                    self.loss = dpg.add_line_series([], [])
            with dpg.plot(height=120, width=-1, no_menus=True, no_box_select=True):
                dpg.add_plot_axis(dpg.mvXAxis, label="seconds of training", auto_fit=True)
                with dpg.plot_axis(dpg.mvYAxis, label="PSNR dB", auto_fit=True):
                    self.psnr = dpg.add_line_series([], [])

    def on_session(self, session: Any) -> None:
        train = session.latest().train
        dpg.set_value(self.lr, train.lr)
        dpg.set_value(self.batch, train.batch_size)

    def refresh(self, snapshot: Any) -> None:
        history = self.app.history
        psnr = snapshot.metrics.get("psnr", math.nan)
        quality = f"PSNR {psnr:.2f} dB" if math.isfinite(psnr) else "no PSNR for this task"
        rate = f"{history.steps_per_second():.1f} steps/s" if self.app.session.can_train else "view only"
        dpg.set_value(
            self.stats,
            f"{snapshot.state}  step {snapshot.step}  {rate}\n"
            f"loss {snapshot.loss:.3e}  {quality}  ({snapshot.elapsed:.0f} s)\n"
            f"in use: lr {snapshot.train.lr:.3g}  batch {snapshot.train.batch_size}",
        )
        for series, xs, ys in (
            (self.loss, history.times, history.losses),
            (self.psnr, history.psnr_times, history.psnrs),
        ):
            enough = len(xs) >= 2  # one point makes a degenerate (log) axis
            dpg.set_value(series, [list(xs), list(ys)] if enough else [[], []])
