"""Compare panel: 2-4 field kinds on the current scene at an equal parameter budget (configs from
the budget fitter, exact counts shown), trained together in one thread that interleaves their
steps (app/state/compare.py says why). The view splits into a grid of their live pictures under its
camera (pan, zoom and orbit move every tile; the inside overlays draw in every tile whose field
has them), each tile labelled with kind, parameters, steps and PSNR; the panel plots the
metric against seconds for all of them, the table, and their NTK spectra on log axes at the step the
button was pressed (as `fieldscope ntk --protocol paper` draws them: sorted high to low, resampled,
each field with a grid term also without it, "no grid"), computed in the background. The scene's
own trainer pauses meanwhile (app/state/comparison.py). Below, a sweep's results when one is opened
(app/ui/panels/sweep_table.py)."""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from fieldscope.app.commands.sweep_report import markdown
from fieldscope.app.state.compare import CompareSession
from fieldscope.app.state.comparison import Comparison
from fieldscope.app.state.session import Session
from fieldscope.app.state.sweep_view import SweepView
from fieldscope.app.ui.panels import WRAP, Panel
from fieldscope.app.ui.panels.sweep_table import SweepSection
from fieldscope.fields import config as configs
from fieldscope.fields.training.trainer import Snapshot

#: The kinds ticked when the panel first lists them (the NTK paper's three).
DEFAULT_KINDS = ("hashgrid", "fourier", "mlp")


class ComparePanel(Panel):
    def __init__(self, comparison: Comparison, sweep: SweepView) -> None:
        self.comparison = comparison
        self.sweep = SweepSection(sweep)
        self._painted: CompareSession | None = None  # the comparison the plots' series belong to

    def build(self) -> None:
        with dpg.collapsing_header(label="Compare", default_open=False) as header:
            self.header = header
            self.kinds_group = dpg.add_group()  # a checkbox per kind once a scene is open (see on_session)
            self.boxes: dict[str, int] = {}
            self.budget = dpg.add_input_int(label="parameters", default_value=100_000, step=10_000, width=120)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Start", callback=lambda *_: self.start())
                dpg.add_button(label="Stop", callback=lambda *_: self.stop())
                dpg.add_button(label="Close", callback=lambda *_: self.close())
                dpg.add_button(label="NTK spectra", callback=lambda *_: self.start_ntk())
            self.text = dpg.add_text(self.comparison.message, wrap=WRAP)
            with dpg.group(show=False) as results:  # while a comparison is shown
                self.results = results
                self.labels = dpg.add_text("", wrap=WRAP)
                with dpg.plot(label="metric vs seconds", height=160, width=-1, no_menus=True):
                    dpg.add_plot_legend()
                    dpg.add_plot_axis(dpg.mvXAxis, label="training seconds", auto_fit=True)
                    self.curve_axis = dpg.add_plot_axis(dpg.mvYAxis, label="PSNR", auto_fit=True)
                with dpg.plot(label="NTK eigenvalues", height=160, width=-1, no_menus=True) as ntk_plot:
                    self.ntk_plot = ntk_plot
                    dpg.add_plot_legend()
                    dpg.add_plot_axis(dpg.mvXAxis, label="index", auto_fit=True, scale=dpg.mvPlotScale_Log10)
                    self.ntk_axis = dpg.add_plot_axis(dpg.mvYAxis, label="eigenvalue", auto_fit=True,
                                                      scale=dpg.mvPlotScale_Log10)  # fmt: skip
                self.table_text = dpg.add_text("", wrap=WRAP)
            self.sweep.build()
        self.curve_series: list[int] = []
        self.ntk_series: list[int] = []
        self._painted_ntk: object | None = None  # the NtkJob the spectra's series belong to

    # ---- actions (the buttons call these; tests too)
    def chosen(self) -> list[str]:
        return [kind for kind, box in self.boxes.items() if dpg.get_value(box)]

    def choose(self, kinds: list[str], params: int) -> None:
        for kind, box in self.boxes.items():
            dpg.set_value(box, kind in kinds)
        dpg.set_value(self.budget, params)

    def start(self) -> bool:
        """Compare the ticked kinds at the budget in the box; False (and why, in the panel and the
        status bar) when that cannot be done."""
        started = self.comparison.start(self.chosen(), int(dpg.get_value(self.budget)))
        self._follow()
        return started

    def stop(self) -> None:
        self.comparison.stop()
        self._follow()

    def close(self) -> None:
        """Stop the comparison, hide its plots, show the scene's field in the view again."""
        self.comparison.close()
        self._follow()

    def start_ntk(self) -> bool:
        started = self.comparison.start_ntk()
        self._follow()
        return started

    # ---- painting
    def _follow(self) -> None:
        """The panel as the comparison is: its message, the plots' series, shown while it is in the view."""
        comparison = self.comparison
        dpg.set_value(self.text, comparison.message)
        dpg.configure_item(self.results, show=comparison.shown)
        session = comparison.session
        if session is not self._painted:
            for series in self.curve_series + self.ntk_series:
                dpg.delete_item(series)
            kinds = session.kinds if session is not None else []
            self.curve_series = [dpg.add_line_series([], [], parent=self.curve_axis, label=k) for k in kinds]
            self.ntk_series = []
            self._painted = session
        if session is not None and not session.running:
            dpg.set_value(self.table_text, markdown(session.rows()))

    def paint_spectra(self, results: list[dict[str, Any]]) -> None:
        """One line per field (and one more, "no grid", per field with a grid term), eigenvalue
        against rank on log axes; the plot's title says the step."""
        for series in self.ntk_series:
            dpg.delete_item(series)
        self.ntk_series = []
        for row in results:
            lines = [(row["field"], row["eigenvalues"])]
            if row["has_grid_term"]:
                lines.append((f"{row['field']} no grid", row["eigenvalues_without_grid_term"]))
            for label, eigenvalues in lines:
                points = [(i + 1.0, v) for i, v in enumerate(eigenvalues) if v > 0]
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                self.ntk_series.append(dpg.add_line_series(xs, ys, parent=self.ntk_axis, label=label))
        step = results[0]["step"] if results else 0
        dpg.configure_item(self.ntk_plot, label=f"NTK eigenvalues at step {step}")

    def on_session(self, session: Session) -> None:
        # One box a registered kind, in the registry's order; the NTK paper's three are ticked.
        for kind in configs.kinds():
            if kind not in self.boxes:
                default = kind in DEFAULT_KINDS
                self.boxes[kind] = dpg.add_checkbox(label=kind, default_value=default, parent=self.kinds_group)
        self._follow()

    def refresh(self, snapshot: Snapshot) -> None:
        if self.sweep.refresh():  # a sweep opened: show it
            dpg.set_value(self.header, True)
            self.sweep.scroll_into_view(self.header)
        session = self.comparison.session
        if session is None:
            return
        dpg.set_value(self.labels, "\n".join(session.labels()) + (f"\n{session.error}" if session.error else ""))
        for series, curve in zip(self.curve_series, session.curves(), strict=True):
            dpg.set_value(series, [[t for t, _ in curve], [v for _, v in curve]])
        ntk = self.comparison.ntk
        if ntk is not None and ntk.results() is not None and ntk is not self._painted_ntk:
            self.paint_spectra(ntk.results())
            self._painted_ntk = ntk
            self.comparison.say_ntk()
        self._follow()
