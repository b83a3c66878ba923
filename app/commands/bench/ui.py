"""`fieldscope bench ui`: how fast the window is while it trains, on this machine's OpenGL (Mesa
llvmpipe without a GPU): UI frame times (p50, p95) of the 2D view at 800x600 and of the 3D view
while the camera moves (reduced interactive resolution), and training steps/s with the window
open against headless, in the same process.

With `--task image,sdf,nerf,volume`: per task, a scene opened in the running window (one the bench
writes, app/commands/bench/scenes.py, or `--path`): the trainer's steps/s headless and in the window, the
seconds from the scene being ready to its first picture, the 95th percentile of the seconds
between pictures of newer snapshots, and the UI frame times."""

from __future__ import annotations

import argparse
from typing import Any

from fieldscope.app.options import Subparsers


def add_parser(which: Subparsers) -> argparse.ArgumentParser:
    ui = which.add_parser("ui", help="UI frame times while training (2D and 3D) and the trainer's cost of the window")
    ui.add_argument("--json", action="store_true")
    ui.add_argument("--seconds", type=float, default=20.0, help="seconds per measurement (default 20)")
    ui.add_argument("--warmup", type=float, default=2.0, help="seconds of training before measuring (default 2)")
    ui.add_argument(
        "--overlay",
        action="store_true",
        help="instead: full draws of the view with each inside overlay on against none, while training",
    )
    ui.add_argument("--rounds", type=int, default=15, help="with --overlay: draws of each overlay (default 15)")
    ui.add_argument(
        "--task", help="instead: the live view per task, comma-separated (image, sdf, occupancy, volume, nerf)"
    )
    ui.add_argument(
        "--path", action="append", default=[], help="with --task: each task's scene, in order (default: written)"
    )
    ui.add_argument(
        "--first-use",
        action="store_true",
        help="with --task: no headless runs, so that the window's trainer is the first to train each task",
    )
    return ui


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark chosen by the arguments (see ui_window)."""
    from fieldscope.app.commands.bench import ui_window  # lazy: DearPyGui, ModernGL and Warp, not at --help

    return ui_window.run(args)
