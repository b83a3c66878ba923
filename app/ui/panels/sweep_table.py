"""The Compare panel's part for a sweep's results folder (`fieldscope sweep --out DIR`, opened in the
window as a scene is: dropped, `fieldscope view DIR`, the Scene panel's path box): its table (a row
per run: kind, scene, parameters, seed, steps, seconds, metric, error; clicking a row opens that
run's snapshot in the view) and its curves (a plot per scene of each run's metric against training
seconds, as curves.png draws them, drawn as the panel draws a live comparison's curves). The
state is app/state/sweep_view.py's SweepView."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from fieldscope.app.state.sweep_view import COLUMNS, SweepResults, SweepView
from fieldscope.app.ui.panels import WRAP

#: Pixels: the table's height (it scrolls beyond), each scene's plot's.
TABLE_HEIGHT, PLOT_HEIGHT = 150, 170
#: The chosen row's colour, and a row's under the mouse (the default theme's are all but invisible).
CHOSEN, HOVERED = (51, 105, 173, 255), (51, 105, 173, 110)
#: Pixels above the first item of a child window (DearPyGui's default window padding).
PADDING = 8


class SweepSection:
    """Built inside the Compare panel's header; painted anew when another sweep opens."""

    def __init__(self, sweep: SweepView) -> None:
        self.sweep = sweep
        self._painted: SweepResults | None = None
        self.rows: list[list[int]] = []  # per row, its cells' items (the first: the row's selectable)
        self.series: list[list[int]] = []  # per scene, its runs' line series
        self.plots: list[int] = []

    def build(self) -> None:
        with dpg.group(show=False) as group:
            self.group = group
            dpg.add_separator()
            self.title = dpg.add_text("", wrap=WRAP)
            self.body = dpg.add_group()  # the table and the plots, made anew for each sweep
        with dpg.theme() as theme, dpg.theme_component(dpg.mvSelectable):
            dpg.add_theme_color(dpg.mvThemeCol_Header, CHOSEN)
            dpg.add_theme_color(dpg.mvThemeCol_HeaderHovered, HOVERED)
            dpg.add_theme_color(dpg.mvThemeCol_HeaderActive, CHOSEN)
        dpg.bind_item_theme(self.body, theme)

    def choose(self, index: int) -> bool:
        """Open row `index`'s run in the view (the table's rows call this; tests too)."""
        chosen = self.sweep.choose(index)
        self.refresh()
        return chosen

    def cells(self) -> list[list[str]]:
        """The table as shown: a list of cell texts per row."""
        return [[dpg.get_item_label(row[0]), *(dpg.get_value(item) for item in row[1:])] for row in self.rows]

    def scroll_into_view(self, header: int) -> None:
        """Scroll the panels' column (the header's parent) so that `header` starts at its top: an
        item's pos is where it lies in the column's content, whatever the scroll (less the padding)."""
        dpg.set_y_scroll(dpg.get_item_parent(header), max(0.0, dpg.get_item_pos(header)[1] - PADDING))

    def refresh(self) -> bool:
        """Paint the sweep if another one opened, mark the chosen row; True when a new one was painted."""
        results = self.sweep.results
        painted = results is not self._painted
        if painted:
            self._paint(results)
        for index, row in enumerate(self.rows):  # (a click toggles a selectable: set them all again)
            dpg.set_value(row[0], index == self.sweep.chosen)
        return painted

    def _paint(self, results: SweepResults | None) -> None:
        dpg.delete_item(self.body, children_only=True)
        self.rows, self.series, self.plots = [], [], []
        self._painted = results
        dpg.configure_item(self.group, show=results is not None)
        if results is None:
            return
        dpg.set_value(self.title, f"sweep {results.root}: {len(results.rows)} runs (click a row to view its field)")
        self._table(results)
        for scene, metric, lines in results.plots():
            with dpg.plot(label=f"{scene}: {metric} vs seconds", height=PLOT_HEIGHT, width=-1, no_menus=True,
                          parent=self.body) as plot:  # fmt: skip
                self.plots.append(plot)
                dpg.add_plot_legend()
                dpg.add_plot_axis(dpg.mvXAxis, label="training seconds", auto_fit=True)
                axis = dpg.add_plot_axis(dpg.mvYAxis, label=metric, auto_fit=True)
                self.series.append(
                    [dpg.add_line_series([t for t, _ in c], [v for _, v in c], parent=axis, label=n) for n, c in lines]
                )

    def _table(self, results: SweepResults) -> None:
        with dpg.table(header_row=True, parent=self.body, height=TABLE_HEIGHT, scrollX=True, scrollY=True,
                       policy=dpg.mvTable_SizingFixedFit, borders_innerV=True, row_background=True):  # fmt: skip
            for name in COLUMNS:
                dpg.add_table_column(label=name)
            for index, texts in enumerate(results.cells()):
                with dpg.table_row():
                    first = dpg.add_selectable(
                        label=texts[0], span_columns=True, user_data=index, callback=lambda s, a, u: self.choose(u)
                    )
                    self.rows.append([first, *(dpg.add_text(text) for text in texts[1:])])
