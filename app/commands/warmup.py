"""`fieldscope warmup`: compile the Warp kernels the default scenes need (fields/warmup.py) into the
kernel cache (WARP_CACHE_PATH, else Warp's), so that a first scene does not wait for them; for CI
and installs. Prints each module compiled or loaded, and the total time.

`--views` also draws each task's default view once, small, in an offscreen OpenGL context (it needs
a display), so that the GL driver's shader cache holds the view programs: on Mesa llvmpipe the
first draw of a NeRF view compiled for 81-125 s on a loaded 2-core machine with an empty cache
(Mesa's, in ~/.cache/mesa_shader_cache or MESA_SHADER_CACHE_DIR), 0.65 s cached. Measured after it
on an emptied Mesa cache: the window's first NeRF picture 3.9 s after the scene was ready (127 s
without); the first SDF picture still 60 s: the window's SDF draw does not yet hit what this one
cached (a shader variant to find)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldscope.app.options import add_device_option
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import build_run

if TYPE_CHECKING:
    from fieldscope.gpu.warmup import Loaded

#: The tasks whose default views --views draws (app/commands/bench/scenes.py writes a small scene of each).
VIEW_TASKS = ("image", "sdf", "volume", "nerf")


def add_parser(sub: Any) -> None:
    warmup = sub.add_parser("warmup", help="compile the Warp kernels the default scenes need (for CI and installs)")
    add_device_option(warmup)
    warmup.add_argument(
        "--views", action="store_true", help="also draw each task's default view once (needs a display): GL shaders"
    )
    warmup.set_defaults(run=cmd_warmup)


def cmd_warmup(args: argparse.Namespace) -> int:
    import warp as wp

    from fieldscope.fields.warmup import warm_up

    def say(loaded: Loaded) -> None:
        what = "compiled" if loaded.compiled else "loaded"
        print(f"{what:8} {loaded.seconds:6.2f} s  {loaded.module}", flush=True)

    started = time.perf_counter()
    done = warm_up(args.device, on_loaded=say)
    compiled = sum(loaded.compiled for loaded in done)
    print(
        f"warmup: {len(done)} Warp modules ready on {args.device} in {time.perf_counter() - started:.1f} s "
        f"({compiled} compiled, {len(done) - compiled} from the cache {wp.config.kernel_cache_dir})",
        flush=True,
    )
    if args.views:
        return warm_views(args.device)
    return 0


def warm_views(device: str) -> int:
    """Draw the default view of an untrained field on each of VIEW_TASKS' small scenes, 32x24 pixels
    in the default view mode; print the seconds of each draw. 2 without a display."""
    from fieldscope.app.commands.bench.scenes import write_scene
    from fieldscope.app.render.context import NoDisplayError, create_context
    from fieldscope.app.render.renderer import Renderer, ViewOptions, default_camera
    from fieldscope.app.state.view import default_mode

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
