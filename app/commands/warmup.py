"""`fieldscope warmup`: compile the Warp kernels the default scenes need (fields/warmup.py) into the
kernel cache (WARP_CACHE_PATH, else Warp's), so that a first scene does not wait for them; for CI
and installs. Prints each module compiled or loaded, and the total time."""

from __future__ import annotations

import argparse
import time
from typing import Any

from fieldscope.app.options import add_device_option


def add_parser(sub: Any) -> None:
    warmup = sub.add_parser("warmup", help="compile the Warp kernels the default scenes need (for CI and installs)")
    add_device_option(warmup)
    warmup.set_defaults(run=cmd_warmup)


def cmd_warmup(args: argparse.Namespace) -> int:
    import warp as wp

    from fieldscope.fields.warmup import warm_up
    from fieldscope.gpu.warmup import Loaded

    def say(loaded: Loaded) -> None:
        what = "compiled" if loaded.compiled else "loaded"
        print(f"{what:8} {loaded.seconds:6.2f} s  {loaded.module}", flush=True)

    started = time.perf_counter()
    done = warm_up(args.device, on_loaded=say)
    compiled = sum(loaded.compiled for loaded in done)
    print(
        f"warmup: {len(done)} Warp modules ready on {args.device} in {time.perf_counter() - started:.1f} s "
        f"({compiled} compiled, {len(done) - compiled} from the cache {wp.config.kernel_cache_dir})"
    )
    return 0
