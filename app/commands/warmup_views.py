"""`fieldscope warmup --views`: draw each task's default view once, small, in an offscreen OpenGL
context, so that the GL driver's shader cache holds the view programs (see app/commands/warmup.py)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from fieldscope.app.commands.bench.scenes import write_scene
from fieldscope.app.render.context import NoDisplayError, create_context
from fieldscope.app.render.renderer import Renderer, ViewOptions, default_camera
from fieldscope.app.state.view import default_mode
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import build_run

#: The tasks whose default views --views draws (app/commands/bench/scenes.py writes a small scene of each).
VIEW_TASKS = ("image", "sdf", "volume", "nerf")


def warm_views(device: str) -> int:
    """Draw the default view of an untrained field on each of VIEW_TASKS' small scenes, 32x24 pixels
    in the default view mode; print the seconds of each draw. 2 without a display."""
    try:
        renderer = Renderer(create_context())
    except NoDisplayError as error:
        print(f"fieldscope: warmup --views: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fieldscope-warmup-") as folder:
        for task in VIEW_TASKS:
            scene = open_scene(write_scene(task, Path(folder) / task), task, device=device)
            trainer = build_run(scene, device=device)
            trainer.publish("paused")
            snapshot = trainer.latest()
            options = ViewOptions(width=32, height=24, mode=default_mode(snapshot), legend=False)
            started = time.perf_counter()
            renderer.draw(snapshot, default_camera(snapshot), options)
            print(f"view     {time.perf_counter() - started:6.2f} s  {task} ({options.mode})", flush=True)
    renderer.release()
    return 0
