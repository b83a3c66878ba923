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
import time
from typing import TYPE_CHECKING

import warp as wp

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers, add_device_option

if TYPE_CHECKING:
    from fieldscope.gpu.warmup import Loaded


def add_parser(sub: Subparsers) -> None:
    warmup = command_parser(sub, "warmup")
    add_device_option(warmup)
    warmup.add_argument(
        "--views", action="store_true", help="also draw each task's default view once (needs a display): GL shaders"
    )
    warmup.set_defaults(run=cmd_warmup)


def cmd_warmup(args: argparse.Namespace) -> int:
    from fieldscope.fields.warmup import warm_up  # lazy: imports every kind's modules, not for --help

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
        from fieldscope.app.commands import warmup_views  # lazy: ModernGL and the GL renderer, only for --views

        return warmup_views.warm_views(args.device)
    return 0
