"""Field panel: kind, its config (editable), parameter count and memory; restart with a new config."""

from __future__ import annotations

import dataclasses
from typing import Any

import dearpygui.dearpygui as dpg

from fieldscope.app.state.current import Current
from fieldscope.app.state.session import Session, memory_bytes
from fieldscope.app.state.training import Training
from fieldscope.app.ui.panels import Panel
from fieldscope.fields import config as configs
from fieldscope.fields.training.trainer import Snapshot

FIXED = ("kind", "dims", "out_dims", "size")  # set by the scene


class FieldPanel(Panel):
    def __init__(self, training: Training, current: Current) -> None:
        self.training, self.current = training, current

    def build(self) -> None:
        with dpg.collapsing_header(label="Field", default_open=False):
            self.kind = dpg.add_combo(configs.kinds(), default_value="hashgrid", label="kind", width=-60)
            self.summary = dpg.add_text("")
            self.settings = dpg.add_group()
            dpg.add_button(label="Restart with this config", callback=lambda *_: self.restart())
        self.inputs: dict[str, int] = {}

    def on_session(self, session: Session) -> None:
        config = session.latest().config
        dpg.set_value(self.kind, config.kind)
        dpg.delete_item(self.settings, children_only=True)
        self.inputs = {}
        for item in dataclasses.fields(config):
            if item.name in FIXED:
                continue
            value = getattr(config, item.name)
            add = dpg.add_input_float if isinstance(value, float) else dpg.add_input_int
            if isinstance(value, tuple):  # e.g. a Laplacian-block field's size: "512, 512"
                value = ", ".join(map(str, value))
            if isinstance(value, str):
                add = dpg.add_input_text
            kwargs = {"step": 0} if add is not dpg.add_input_text else {}
            self.inputs[item.name] = add(
                label=item.name, default_value=value, width=120, parent=self.settings, **kwargs
            )

    def values(self) -> dict[str, Any]:
        snapshot = self.current.snapshot()
        config = snapshot.config if snapshot is not None else None
        values = {name: dpg.get_value(tag) for name, tag in self.inputs.items()}
        for name, value in values.items():
            if isinstance(getattr(config, name, None), tuple):
                values[name] = tuple(int(part) for part in str(value).replace(",", " ").split())
        return values

    def restart(self) -> None:
        settings = self.values()
        kind = dpg.get_value(self.kind)
        snapshot = self.current.snapshot()
        if snapshot is not None and kind != snapshot.config.kind:
            names = {f.name for f in dataclasses.fields(configs.config_class(kind))}
            settings = {"kind": kind, **{k: v for k, v in settings.items() if k in names}}
        self.training.restart_field(settings)

    def refresh(self, snapshot: Snapshot) -> None:
        dpg.set_value(self.summary, summary(snapshot))


def summary(snapshot: Snapshot) -> str:
    """The field's parameter count (the trainer's param_count(): no buffers, no scene head) and memory."""
    memory = memory_bytes(snapshot.param_count)
    return (
        f"{snapshot.param_count:,} parameters: {memory['parameters'] / 2**20:.1f} MiB "
        f"({memory['training'] / 2**20:.1f} MiB training)"
    )
