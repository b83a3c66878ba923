"""The window side of `fieldscope bench ui` (ui.py holds its arguments): the headless trainer's rate,
the paced main loop's frame times and the trainer's rate in the window, per view and per task. Its
imports load DearPyGui, ModernGL and Warp, so ui.py imports this module only when the benchmark runs."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from fieldscope.app.commands.bench import overlays
from fieldscope.app.commands.bench.scenes import write_scene
from fieldscope.app.options import DEFAULT_IMAGE
from fieldscope.app.render.camera import Camera3D
from fieldscope.app.render.context import gl_info
from fieldscope.app.state.session import new_session
from fieldscope.app.ui.app import ACTIVE_PERIOD, IDLE_PERIOD, App
from fieldscope.fields.config import FieldConfig
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.scenes.sphere import SphereScene
from fieldscope.fields.training.run import FieldOptions, field_config
from fieldscope.fields.warmup import start_background


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000.0
    return {"frames": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def steps_headless(scene: Scene, config: FieldConfig | None, seconds: float, warmup: float = 2.0) -> float:
    """Steps/s of the trainer thread with no window (config None: the scene's default field), after
    `warmup` seconds and its first steps (kernel loads, slow first steps such as NeRF's occupancy
    grid), over `seconds` or until it publishes a newer step, whichever is later."""
    session = new_session(scene, config=config)
    session.start()
    warm = time.perf_counter() + 120.0
    time.sleep(warmup)
    while session.latest().step < 2 and time.perf_counter() < warm:
        time.sleep(0.05)
    first, started = session.latest().step, time.perf_counter()
    while time.perf_counter() - started < seconds or session.latest().step == first:
        time.sleep(0.05)
    rate = (session.latest().step - first) / (time.perf_counter() - started)
    session.stop(wait=True)
    return rate


def run_window(app: App, seconds: float, move: bool) -> tuple[dict[str, float], float]:
    """Run the paced main loop for `seconds` (orbiting the camera every frame when `move`); frame
    times of the UI's work, and the trainer's steps/s meanwhile."""
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


def live_view(app: App, path: Path, seconds: float) -> dict[str, float]:
    """Open `path` in the running window and follow it, paced as App.run: seconds to the first
    picture after the scene is ready, seconds between pictures of newer snapshots (p95), the
    trainer's steps/s after a warm-up (2 s and 2 steps) over `seconds` or until it publishes a newer
    step, whichever is later, and frame times."""
    old = app.session
    app.open(path)
    if not app.run_until(lambda: app.session is not old, 600):
        raise RuntimeError(f"{path}: not opened in 600 s ({app.status.message})")
    ready = time.perf_counter()
    session, pictures, shown, first_step = app.session, [], None, None
    warm = ready + 2.0
    while (first_step is None and time.perf_counter() - ready < 600) or (
        first_step is not None
        and time.perf_counter() - first_step[1] < max(seconds, 600 * (app.snapshot().step == first_step[0]))
    ):  # `seconds`, or until a newer step (a rate of no steps says nothing on a loaded machine)
        begin = time.perf_counter()
        app.frame()
        picture = app.view.shown_snapshot
        if picture is not shown and picture is not None and picture.scene is app.snapshot().scene:
            shown = picture
            pictures.append(time.perf_counter())
        if first_step is None and begin >= warm and app.snapshot().step >= 2:
            first_step, app.frame_times = (app.snapshot().step, begin), deque(maxlen=5000)
        period = IDLE_PERIOD if app.idle() else ACTIVE_PERIOD
        time.sleep(max(0.0, period - (time.perf_counter() - begin)))
    if app.session is not session or first_step is None:
        raise RuntimeError(f"{path}: the trainer made no 2 steps in 600 s in the window")
    rate = (app.snapshot().step - first_step[0]) / (time.perf_counter() - first_step[1])
    gaps = np.diff(pictures) if len(pictures) > 1 else np.array([np.inf])
    frames = percentiles(list(app.frame_times))
    return {
        "window_steps_per_s": rate,
        "first_picture_s": pictures[0] - ready if pictures else float("inf"),
        "refresh_p95_s": float(np.percentile(gaps, 95)),
        "frame_p50_ms": frames["p50_ms"],
        "frame_p95_ms": frames["p95_ms"],
    }


def run_tasks(args: argparse.Namespace) -> dict[str, Any]:
    """Per task: its scene's trainer headless, the same scene opened in the window, and headless
    again; the window's rate is compared with the mean of the two headless ones (this VM's speed
    drifts by up to a quarter over minutes: one headless run long before the window skewed the
    ratio). While a headless run measures, the window's trainer is paused and no frame is drawn."""
    tasks = [t.strip() for t in args.task.split(",") if t.strip()]
    if args.path and len(args.path) != len(tasks):
        raise SystemExit(f"fieldscope bench ui: give one --path per task ({len(tasks)}), not {len(args.path)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="fieldscope-bench-ui-") as folder:
        paths = [Path(p) for p in args.path] or [write_scene(t, Path(folder) / t) for t in tasks]
        started = time.perf_counter()
        app = App(view_size=(800, 600))
        try:
            # The window warms the Warp kernels up in the background from its start (fields/warmup.py);
            # the tasks open once it is done, as a user's first folder dropped after that long would.
            start_background(app.opening.device).join()
            warmed = time.perf_counter() - started
            _say(args, f"kernels warmed up {warmed:.1f} s after the window started")
            for task, path in zip(tasks, paths, strict=True):
                before = headless_rate(args, path, task)
                live = live_view(app, path, args.seconds)
                app.training.pause()
                after = headless_rate(args, path, task)
                headless = 0.5 * (before + after)
                runs = {"headless_runs": [before, after]}
                results.append({"task": task, "headless_steps_per_s": headless, **live, **runs})
                _say(
                    args,
                    f"{task}: trainer {live['window_steps_per_s']:.2f} steps/s in the window, {headless:.2f} "
                    f"headless ({before:.2f} before, {after:.2f} after; "
                    f"{live['window_steps_per_s'] / headless if headless else float('nan'):.0%}); first picture "
                    f"{live['first_picture_s']:.2f} s after ready, refresh p95 {live['refresh_p95_s']:.2f} s; "
                    f"frame p50/p95 {live['frame_p50_ms']:.0f}/{live['frame_p95_ms']:.0f} ms",
                )
            gl = gl_info(app.renderer.ctx)
        finally:
            app.close()
    return {"results": results, "warmup_s": warmed, **gl}


def headless_rate(args: argparse.Namespace, path: Path, task: str) -> float:
    """The task's trainer's steps/s headless (steps_headless); 0 with --first-use (not measured)."""
    return 0.0 if args.first_use else steps_headless(open_scene(path, task), None, args.seconds, args.warmup)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """`bench ui` as its arguments ask: --overlay, --task, or the 2D and 3D views while training."""
    if args.overlay:
        return overlays.run(args)
    if args.task:
        return run_tasks(args)
    image = open_scene(DEFAULT_IMAGE)
    config_2d = field_config(image, FieldOptions())
    headless = steps_headless(image, config_2d, args.seconds, args.warmup)
    report: dict[str, Any] = {"headless_steps_per_s": headless}
    _say(args, f"headless trainer: {headless:.2f} steps/s")

    app = App(view_size=(800, 600))
    try:
        start_background(app.opening.device).join()  # the window's kernel warm-up: not part of the measure
        app.switch(new_session(image, config=config_2d))
        refreshed, started = app.view.shading_seconds, time.perf_counter()
        frames, rate = run_window(app, args.seconds, move=False)
        # the share of the window's time the view spent shading pictures (the run can overrun
        # args.seconds by a frame, so the share is of the time it took)
        share = (app.view.shading_seconds - refreshed) / (time.perf_counter() - started)
        report["view_2d_800x600"] = {**frames, "steps_per_s": rate, "refresh_share": share}
        _say(
            args,
            f"2D view 800x600 while training: frame p50 {frames['p50_ms']:.0f} ms, "
            f"p95 {frames['p95_ms']:.0f} ms; trainer {rate:.2f} steps/s ({rate / headless:.0%} of headless); "
            f"{share:.0%} of the time shading pictures",
        )

        config_3d = HashGridConfig(
            dims=3, out_dims=1, levels=12, log2_table_size=17, base_resolution=8, growth=1.3, hidden_width=32
        )
        app.switch(new_session(SphereScene(), config=config_3d))
        frames, rate = run_window(app, args.seconds, move=True)
        reduced = [-(-s // app.view.live_scale(app.snapshot(), app.views.options())) for s in app.view_state.size]
        report["view_3d_moving"] = {**frames, "steps_per_s": rate, "resolution": reduced}
        _say(
            args,
            f"3D view moving ({reduced[0]}x{reduced[1]} of 800x600) while training: frame p50 "
            f"{frames['p50_ms']:.0f} ms, p95 {frames['p95_ms']:.0f} ms; trainer {rate:.2f} steps/s",
        )
        report.update(gl_info(app.renderer.ctx))
    finally:
        app.close()
    report["window_over_headless_steps"] = report["view_2d_800x600"]["steps_per_s"] / headless
    return report


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, flush=True)
