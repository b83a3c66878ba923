"""Levels panel: a toggle per level, a level-of-detail slider, the coarse-to-fine schedule. Changes
show in the view at once and reach the trainer through its command queue."""

from __future__ import annotations

import dearpygui.dearpygui as dpg

from fieldscope.app.state.level_mask import LevelMask
from fieldscope.app.state.session import Session
from fieldscope.app.ui.panels import Panel
from fieldscope.fields.kinds.hashgrid import layout_of
from fieldscope.fields.kinds.laplacian_blocks.layout import scale_layout
from fieldscope.fields.training.trainer import Snapshot


class LevelsPanel(Panel):
    def __init__(self, levels: LevelMask) -> None:
        self.levels = levels

    def build(self) -> None:
        levels = self.levels
        with dpg.collapsing_header(label="Levels", default_open=True):
            self.lod = dpg.add_slider_int(
                label="max level (LOD)",
                min_value=0,
                max_value=15,
                default_value=15,
                width=180,
                callback=lambda s, value: levels.set_lod(value),
            )
            with dpg.group(horizontal=True):
                self.schedule = dpg.add_checkbox(
                    label="coarse to fine, +1 level every", callback=lambda s, on: levels.set_schedule(on)
                )
                self.every = dpg.add_input_int(
                    default_value=25,
                    width=70,
                    step=0,
                    on_enter=True,
                    callback=lambda s, n: levels.set_schedule(levels.state.schedule, max(1, n)),
                )
                dpg.add_text("steps")
            self.field_text = dpg.add_text("")
            self.toggles = dpg.add_group()
        self.boxes: list[int] = []

    def on_session(self, session: Session) -> None:
        snapshot = session.latest()
        levels = self.levels.state
        dpg.configure_item(self.lod, max_value=levels.levels - 1)
        dpg.set_value(self.lod, levels.lod)
        dpg.set_value(self.schedule, levels.schedule)
        dpg.delete_item(self.toggles, children_only=True)
        info = _level_info(snapshot)
        self.boxes = []
        for level, on in enumerate(levels.enabled):
            label = f"level {level:2d}  {info[level]}" if level < len(info) else f"level {level}"
            self.boxes.append(
                dpg.add_checkbox(
                    label=label,
                    default_value=on,
                    parent=self.toggles,
                    user_data=level,
                    callback=lambda s, value, level: self.levels.set_level(level, value),
                )
            )

    def refresh(self, snapshot: Snapshot) -> None:
        mask = self.levels.mask()
        for level, box in enumerate(self.boxes):
            active = level < len(mask) and mask[level]
            dpg.configure_item(box, label=_relabel(dpg.get_item_label(box), active))
        dpg.set_value(self.field_text, field_levels_text(snapshot))


def _level_info(snapshot: Snapshot) -> list[str]:
    """'N=..., dense|hashed' per level for grid-based configs; for Laplacian blocks (a level is a
    scale, coarse to fine) the scale, its block grid and block side in samples."""
    if snapshot.config.capabilities.blocks:
        scales = reversed(scale_layout(snapshot.config))
        return [f"scale {s.scale}: {'x'.join(map(str, s.blocks))} blocks of {s.extent}" for s in scales]
    try:
        layout = layout_of(snapshot.config)
    except (AttributeError, TypeError):
        return []
    return [f"N={n:<5d} {'hashed' if h else 'dense'}" for n, h in zip(layout.resolution, layout.hashed, strict=True)]


def field_levels_text(snapshot: Snapshot) -> str:
    """'field: 6 of 16 levels on, gradient step 1/96' for a scene that schedules the field's levels
    itself and takes numerical gradients (the surface task; its metrics say the step), else ''."""
    step = snapshot.metrics.get("gradient_step")
    if not step:
        return ""
    mask = tuple(snapshot.level_mask)
    return f"field: {sum(mask)} of {len(mask)} levels on, gradient step 1/{1.0 / step:.0f}"


def _relabel(label: str, active: bool) -> str:
    base = label.removesuffix("  (off)")
    return base if active else base + "  (off)"
