"""Training panel: start, pause, single step, reset; learning rate and batch size; steps/s; loss
and quality plots against training time (the task's metric: PSNR, or IoU with Chamfer on a second
axis)."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from fieldscope.app.options import metric_summary
from fieldscope.app.state.current import Current
from fieldscope.app.state.history import METRIC_LABELS, SMALLEST_POSITIVE, Series, axis_limits, task_metrics
from fieldscope.app.state.session import Session
from fieldscope.app.state.training import Training
from fieldscope.app.ui.panels import Panel
from fieldscope.fields import devices
from fieldscope.fields.training.trainer import Snapshot


class TrainingPanel(Panel):
    def __init__(self, training: Training, current: Current) -> None:
        self.training, self.current = training, current

    def build(self) -> None:
        training = self.training
        with dpg.collapsing_header(label="Training", default_open=True):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Start", callback=lambda *_: training.resume())
                dpg.add_button(label="Pause", callback=lambda *_: training.pause())
                dpg.add_button(label="Step", callback=lambda *_: training.step(1))
                dpg.add_button(label="Reset", callback=lambda *_: training.reset())
            self.lr = dpg.add_input_float(
                label="learning rate",
                default_value=1e-2,
                format="%.2e",
                step=0,
                width=120,
                on_enter=True,
                callback=lambda s, value: training.set_learning_rate(value),
            )
            self.batch = dpg.add_input_int(
                label="batch size",
                default_value=1 << 15,
                step=0,
                width=120,
                on_enter=True,
                callback=lambda s, value: training.set_batch_size(value),
            )
            self.device = dpg.add_text("")
            self.stats = dpg.add_text("")
            with dpg.plot(height=120, width=-1, no_menus=True, no_box_select=True):
                self.loss_x = dpg.add_plot_axis(dpg.mvXAxis, label="seconds of training")
                with dpg.plot_axis(dpg.mvYAxis, label="loss", scale=dpg.mvPlotScale_Log10) as self.loss_y:
                    self.loss = dpg.add_line_series([], [])
                    self.loss_now = dpg.add_scatter_series([], [])
            with dpg.plot(height=120, width=-1, no_menus=True, no_box_select=True):
                self.quality_x = dpg.add_plot_axis(dpg.mvXAxis, label="seconds of training")
                with dpg.plot_axis(dpg.mvYAxis, label="PSNR dB") as self.quality_y:
                    self.quality = dpg.add_line_series([], [])
                    self.quality_now = dpg.add_scatter_series([], [])
                with dpg.plot_axis(dpg.mvYAxis2, label="", show=False, opposite=True) as self.second_y:
                    self.second = dpg.add_line_series([], [])
                    self.second_now = dpg.add_scatter_series([], [])

    def on_session(self, session: Session) -> None:
        train = session.latest().train
        dpg.set_value(self.device, f"device: {devices.describe(session.device)}")
        dpg.set_value(self.lr, train.lr)
        dpg.set_value(self.batch, train.batch_size)

    def refresh(self, snapshot: Snapshot) -> None:
        history = self.current.history
        names = task_metrics(history.task)
        quality = metric_summary({k: v for k, v in snapshot.metrics.items() if k in names})
        rate = f"{history.steps_per_second():.1f} steps/s" if self.current.session.can_train else "view only"
        dpg.set_value(
            self.stats,
            f"{snapshot.state}  step {snapshot.step}  {rate}\n"
            f"loss {snapshot.loss:.3e}  {quality}  ({snapshot.elapsed:.0f} s)\n"
            f"in use: lr {snapshot.train.lr:.3g}  batch {snapshot.train.batch_size}",
        )
        show(Series(history.times, history.losses), self.loss, self.loss_now, self.loss_y, log=True)
        headline, *more = names
        dpg.configure_item(self.quality_y, label=METRIC_LABELS[headline])
        show(history.metric(headline), self.quality, self.quality_now, self.quality_y)
        dpg.configure_item(self.second_y, show=bool(more), label=METRIC_LABELS[more[0]] if more else "")
        if more:
            show(history.metric(more[0]), self.second, self.second_now, self.second_y)
        dpg.set_axis_limits(self.loss_x, *axis_limits(history.times))
        dpg.set_axis_limits(self.quality_x, *axis_limits(history.metric(headline).times))


def show(curve: Series, series: int, now: int, axis: int, log: bool = False) -> None:
    """A curve as a line with a marker on its latest point (a loaded model has just that one), on
    an axis fitted to its values (a log axis to the positive ones)."""
    points = [(t, v) for t, v in zip(curve.times, curve.values, strict=True) if v >= SMALLEST_POSITIVE or not log]
    dpg.set_value(series, [[t for t, _ in points], [v for _, v in points]])
    dpg.set_value(now, [[points[-1][0]], [points[-1][1]]] if points else [[], []])
    dpg.set_axis_limits(axis, *axis_limits(curve.values, log))
