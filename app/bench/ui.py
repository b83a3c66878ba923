"""`fieldscope bench ui`: how fast the window is while it trains, on this machine's OpenGL (Mesa
llvmpipe without a GPU): UI frame times (p50, p95) of the 2D view at 800x600 and of the 3D view
while the camera moves (reduced interactive resolution), and training steps/s with the window
open against headless, in the same process."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def add_parser(which: Any) -> Any:
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
    return ui


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000.0
    return {"frames": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def steps_headless(scene: Any, config: Any, seconds: float, warmup: float = 2.0) -> float:
    """Steps/s of the trainer thread with no window, after `warmup` seconds and its first step
    (kernel loads), over `seconds` or until it publishes a newer step, whichever is later."""
    from fieldscope.app.session import new_session

    session = new_session(scene, config=config)
    session.start()
    time.sleep(warmup)
    while session.latest().step < 1:
        time.sleep(0.05)
    first, started = session.latest().step, time.perf_counter()
    while time.perf_counter() - started < seconds or session.latest().step == first:
        time.sleep(0.05)
    rate = (session.latest().step - first) / (time.perf_counter() - started)
    session.stop(wait=True)
    return rate


def run_window(app: Any, seconds: float, move: bool) -> tuple[dict[str, float], float]:
    """Run the paced main loop for `seconds` (orbiting the camera every frame when `move`); frame
    times of the UI's work, and the trainer's steps/s meanwhile."""
    from fieldscope.app.render.camera import Camera3D
    from fieldscope.app.ui.app import ACTIVE_PERIOD, IDLE_PERIOD

    app.run_until(lambda: app.snapshot().step >= 2, 120)
    app.frame_times.clear()
    first, started = app.snapshot().step, time.perf_counter()
    while time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        if move and isinstance(app.view_state.camera, Camera3D):
            app.view_state.set_camera(app.view_state.camera.orbit(2.0, 0.0))
        app.frame()
        period = IDLE_PERIOD if app.idle() else ACTIVE_PERIOD
        time.sleep(max(0.0, period - (time.perf_counter() - begin)))
    rate = (app.snapshot().step - first) / (time.perf_counter() - started)
    return percentiles(list(app.frame_times)), rate


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.overlay:
        from fieldscope.app.bench import overlays

        return overlays.run(args)
    from fieldscope.app.options import DEFAULT_IMAGE
    from fieldscope.app.session import new_session
    from fieldscope.app.ui.app import App
    from fieldscope.fields.hashgrid import HashGridConfig
    from fieldscope.fields.run import FieldOptions, field_config
    from fieldscope.fields.scenes import open_scene
    from fieldscope.fields.scenes.sphere import SphereScene

    image = open_scene(DEFAULT_IMAGE)
    config_2d = field_config(image, FieldOptions())
    headless = steps_headless(image, config_2d, args.seconds, args.warmup)
    report: dict[str, Any] = {"headless_steps_per_s": headless}
    _say(args, f"headless trainer: {headless:.2f} steps/s")

    app = App(view_size=(800, 600))
    try:
        app.switch(new_session(image, config=config_2d))
        refreshed = app.view.refresh_seconds
        frames, rate = run_window(app, args.seconds, move=False)
        # the share of the time the view spent shading pictures of new snapshots (at most its refresh_duty)
        share = (app.view.refresh_seconds - refreshed) / args.seconds
        report["view_2d_800x600"] = {**frames, "steps_per_s": rate, "refresh_share": share}
        _say(
            args,
            f"2D view 800x600 while training: frame p50 {frames['p50_ms']:.0f} ms, "
            f"p95 {frames['p95_ms']:.0f} ms; trainer {rate:.2f} steps/s ({rate / headless:.0%} of headless); "
            f"{share:.0%} of the time on refreshes (at most {app.view.refresh_duty:.0%})",
        )

        config_3d = HashGridConfig(
            dims=3, out_dims=1, levels=12, log2_table_size=17, base_resolution=8, growth=1.3, hidden_width=32
        )
        app.switch(new_session(SphereScene(), config=config_3d))
        frames, rate = run_window(app, args.seconds, move=True)
        reduced = [-(-s // app.view.reduce[3]) for s in app.view_state.size]
        report["view_3d_moving"] = {**frames, "steps_per_s": rate, "resolution": reduced}
        _say(
            args,
            f"3D view moving ({reduced[0]}x{reduced[1]} of 800x600) while training: frame p50 "
            f"{frames['p50_ms']:.0f} ms, p95 {frames['p95_ms']:.0f} ms; trainer {rate:.2f} steps/s",
        )
    finally:
        app.close()
    report["window_over_headless_steps"] = report["view_2d_800x600"]["steps_per_s"] / headless
    return report


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, flush=True)
