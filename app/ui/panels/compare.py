"""Compare panel: 2-4 field kinds on the current scene at an equal parameter budget (configs from
the budget fitter, exact counts shown), trained together in one thread that interleaves their
steps (app/state/compare.py says why). The view splits into a grid of their live pictures under its
camera (pan, zoom and orbit move every tile; the inside overlays draw in every tile whose field
has them), each tile labelled with kind, parameters, steps and PSNR; the panel plots the
metric against seconds for all of them, the table, and their NTK spectra on log axes, computed in
the background. The scene's own trainer pauses meanwhile."""

from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from fieldscope.app.state.compare import MOST_TILES, CompareSession, NtkJob
from fieldscope.app.ui.panels import Panel
from fieldscope.app.ui.panels.inside import WRAP
from fieldscope.fields import config as configs
from fieldscope.fields.errors import FieldscopeError


class ComparePanel(Panel):
    def build(self) -> None:
        self.session: CompareSession | None = None
        self.ntk: NtkJob | None = None
        with dpg.collapsing_header(label="Compare", default_open=False):
            self.kinds_group = dpg.add_group()  # a checkbox per kind once a scene is open (see on_session)
            self.boxes: dict[str, int] = {}
            self.budget = dpg.add_input_int(label="parameters", default_value=100_000, step=10_000, width=120)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Start", callback=lambda *_: self.start())
                dpg.add_button(label="Stop", callback=lambda *_: self.stop())
                dpg.add_button(label="Close", callback=lambda *_: self.close())
                dpg.add_button(label="NTK spectra", callback=lambda *_: self.start_ntk())
            self.text = dpg.add_text("pick 2-4 kinds and a budget", wrap=WRAP)
            with dpg.group(show=False) as results:  # while a comparison is shown
                self.results = results
                self.labels = dpg.add_text("", wrap=WRAP)
                with dpg.plot(label="metric vs seconds", height=160, width=-1, no_menus=True):
                    dpg.add_plot_legend()
                    dpg.add_plot_axis(dpg.mvXAxis, label="training seconds", auto_fit=True)
                    self.curve_axis = dpg.add_plot_axis(dpg.mvYAxis, label="PSNR", auto_fit=True)
                with dpg.plot(label="NTK eigenvalues", height=160, width=-1, no_menus=True):
                    dpg.add_plot_legend()
                    dpg.add_plot_axis(dpg.mvXAxis, label="index", auto_fit=True, scale=dpg.mvPlotScale_Log10)
                    self.ntk_axis = dpg.add_plot_axis(dpg.mvYAxis, label="eigenvalue", auto_fit=True,
                                                      scale=dpg.mvPlotScale_Log10)  # fmt: skip
                self.table_text = dpg.add_text("", wrap=WRAP)
        self.curve_series: list[int] = []
        self.ntk_series: list[int] = []

    # ---- actions (the buttons call these; tests too)
    def chosen(self) -> list[str]:
        return [kind for kind, box in self.boxes.items() if dpg.get_value(box)]

    def choose(self, kinds: list[str], params: int) -> None:
        for kind, box in self.boxes.items():
            dpg.set_value(box, kind in kinds)
        dpg.set_value(self.budget, params)

    def start(self) -> bool:
        """Fit the chosen kinds to the budget on the current scene and train them; False (and the
        reason in the panel and the status bar) when that cannot be done."""
        self.stop()
        app = self.app
        if app.session is None or app.session.scene is None:
            return self._say("open a scene to compare fields on", error=True)
        try:
            session = CompareSession(app.session.scene, self.chosen(), int(dpg.get_value(self.budget)))
        except FieldscopeError as error:
            return self._say(str(error), error=True)
        app.pause()  # the CPU goes to the compared fields
        self.session, self.ntk = session, None
        for series in self.curve_series + self.ntk_series:
            dpg.delete_item(series)
        self.curve_series = [dpg.add_line_series([], [], parent=self.curve_axis, label=k) for k in session.kinds]
        self.ntk_series = []
        counts = ", ".join(f"{k} {n:,}" for k, n in zip(session.kinds, session.counts(), strict=True))
        session.start()
        app.show_compare(session)
        dpg.configure_item(self.results, show=True)
        return self._say(f"training side by side (equal steps): {counts} parameters")

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()
            self._show_table()

    def close(self) -> None:
        """Stop the comparison, hide its plots, show the scene's field in the view again."""
        self.stop()
        self.app.show_compare(None)
        self.app.window.label_tiles([])
        dpg.configure_item(self.results, show=False)

    def start_ntk(self) -> bool:
        if self.session is None:
            return self._say("start a comparison first", error=True)
        self.ntk = NtkJob(self.session.snapshots())
        return self._say("computing NTK spectra in the background ...")

    def _say(self, message: str, error: bool = False) -> bool:
        dpg.set_value(self.text, message)
        self.app.status.say(message, error)
        return not error

    # ---- updates
    def on_session(self, session: Any) -> None:
        # One box a registered kind, in the registry's order; the NTK paper's three are ticked.
        for kind in configs.kinds():
            if kind not in self.boxes:
                default = kind in ("hashgrid", "fourier", "mlp")
                self.boxes[kind] = dpg.add_checkbox(label=kind, default_value=default, parent=self.kinds_group)
        if self.session is not None and self.session.scene is not getattr(session, "scene", None):
            self.close()
            self.session = None

    def refresh(self, snapshot: Any) -> None:
        session = self.session
        if session is None:
            return
        labels = session.labels()
        self.app.window.label_tiles(labels)
        dpg.set_value(self.labels, "\n".join(labels) + (f"\n{session.error}" if session.error else ""))
        for series, curve in zip(self.curve_series, session.curves(), strict=True):
            dpg.set_value(series, [[t for t, _ in curve], [v for _, v in curve]])
        if self.ntk is not None and self.ntk.results() is not None and not self.ntk_series:
            for row in self.ntk.results():
                values = [v for v in row["eigenvalues"] if v > 0]
                index = list(range(1, len(values) + 1))
                self.ntk_series.append(dpg.add_line_series(index, values, parent=self.ntk_axis, label=row["field"]))
            self._say(
                "NTK spectra: " + ", ".join(f"{r['field']} min {r['min_eigenvalue']:.2e}" for r in self.ntk.results())
            )
        if not session.running:
            self._show_table()

    def _show_table(self) -> None:
        from fieldscope.app.commands.compare import markdown_table

        if self.session is not None:
            dpg.set_value(self.table_text, markdown_table(self.session.report()))


__all__ = ["MOST_TILES", "ComparePanel"]
