"""`fieldscope bench record --window`: the window's Record toggle on against off while the bundled
image trains (app/commands/bench/record.py has the rest); needs a display."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldscope.app.commands.bench import ui_window
from fieldscope.app.render.context import gl_info
from fieldscope.app.state.session import new_session
from fieldscope.app.ui.app import App
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.warmup import start_background


def run_window(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    """The window's trainer on the bundled image, Record off and on in turn (ui_window's paced loop)."""
    scene = open_scene(args.path, device=args.device)
    off, on, frames = [], [], []
    app = App(view_size=(800, 600), device=args.device)
    try:
        start_background(app.opening.device).join()
        app.switch(new_session(scene))
        with tempfile.TemporaryDirectory(prefix="fieldscope-bench-record-") as folder:
            for i in range(args.rounds):
                off.append(ui_window.run_window(app, args.seconds, move=False)[1])
                app.recording.start(Path(folder) / f"round{i}.mp4")
                on.append(ui_window.run_window(app, args.seconds, move=False)[1])
                frames.append(len(app.recording.steps))
                app.recording.discard()
                say(f"round {i + 1}: {off[-1]:.2f} steps/s, {on[-1]:.2f} recording ({frames[-1]} frames)")
        gl = gl_info(app.renderer.ctx)
    finally:
        app.close()
    ratio = statistics.mean(on) / statistics.mean(off)
    return {"what": "window Record", "off_steps_per_s": off, "on_steps_per_s": on, "frames": frames,
            "steps_ratio": ratio, **gl}  # fmt: skip
