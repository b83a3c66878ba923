"""`fieldscope bench record`: what drawing a video while training costs the trainer, as a ratio of
training steps in the same seconds with and without it, in one process. Default: `fit --timelapse`
(the fit loop, a frame every --every, the frames drawn as --mode/--overlay ask) against the same
loop without; rounds alternate (plain, recorded, plain, ...) so that a machine whose speed drifts
skews both alike. With --window: the window's Record toggle (the 2D view at 800x600 while the
bundled image trains; needs a display) on against off. The issue's goal: at least 0.9."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fieldscope.app.commands import looks
from fieldscope.app.commands.frames_out import headline_metric
from fieldscope.app.commands.timelapse import Timelapse
from fieldscope.app.options import DEFAULT_IMAGE, Subparsers, add_device_option
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run


def add_parser(which: Subparsers) -> argparse.ArgumentParser:
    record = which.add_parser("record", help="training steps with a time-lapse (or the window's Record) vs without")
    record.add_argument("--json", action="store_true")
    record.add_argument("--path", default=str(DEFAULT_IMAGE), help="scene to train (default: the bundled image)")
    record.add_argument("--seconds", type=float, default=20.0, help="seconds of training per round (default 20)")
    record.add_argument("--rounds", type=int, default=2, help="rounds of each, alternating (default 2)")
    record.add_argument("--every", default="50", help="a frame every N steps or Ns (default 50, as fit)")
    record.add_argument("--size", default=None, metavar="WxH", help="frame size (default: fit --timelapse's)")
    record.add_argument("--share", type=float, help="fit's --timelapse-share (default: fit's)")
    record.add_argument("--window", action="store_true", help="instead: the window's Record toggle, on vs off")
    group = record.add_argument_group("how the frames look (as fit --timelapse)")
    looks.add_options(group)
    add_device_option(record)
    return record


def timelapse_args(args: argparse.Namespace, out: Path) -> argparse.Namespace:
    """The options `fit --timelapse` would have: a video into `out`."""
    share = {} if args.share is None else {"timelapse_share": args.share}
    return argparse.Namespace(
        timelapse=str(out), every=args.every, camera=None, timelapse_size=args.size, timelapse_fps=10.0,
        device=args.device, mode=args.mode, overlay=args.overlay, lod=args.lod, **share,
    )  # fmt: skip


def fit_round(args: argparse.Namespace, out: Path | None) -> dict[str, float]:
    """Train a new run of the scene for args.seconds of wall-clock time as `fit` does (with a
    time-lapse into `out` when given); its steps and the seconds its frames took."""

    scene = open_scene(args.path, device=args.device)
    trainer = build_run(scene, FieldOptions(), TrainOptions(), args.device)
    trainer.step()  # kernel loads and first-step costs: not part of the round
    recorder = Timelapse(timelapse_args(args, out), trainer, headline_metric(scene.task)) if out else None
    first, started = trainer.step_count, time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        if recorder is not None:
            recorder.record()
        trainer.step()
    seconds = time.perf_counter() - started
    row = {"steps": trainer.step_count - first, "seconds": seconds, "frames": 0, "drawing_s": 0.0, "skipped": 0}
    if recorder is not None:
        recorder.sink.discard()
        row.update(frames=recorder.sink.count, drawing_s=recorder.drawing, skipped=recorder.skipped)
    return row


def run_fit(args: argparse.Namespace) -> dict[str, Any]:
    plain, recorded = [], []
    with tempfile.TemporaryDirectory(prefix="fieldscope-bench-record-") as folder:
        for i in range(args.rounds):
            plain.append(fit_round(args, None))
            recorded.append(fit_round(args, Path(folder) / f"round{i}.mp4"))
            last = recorded[-1]
            say(
                args,
                f"round {i + 1}: {plain[-1]['steps']} steps plain, {last['steps']} with the time-lapse "
                f"({last['frames']} frames, {last['drawing_s']:.1f} s drawing, {last['skipped']} skipped)",
            )
    rate = statistics.mean(r["steps"] / r["seconds"] for r in plain)
    with_video = statistics.mean(r["steps"] / r["seconds"] for r in recorded)
    share = statistics.mean(r["drawing_s"] / r["seconds"] for r in recorded)
    say(args, f"drawing took {share:.1%} of the recorded rounds' time")
    return {
        "what": "fit --timelapse",
        "plain": plain,
        "recorded": recorded,
        "steps_ratio": with_video / rate,
        "drawing_share": share,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.window:
        from fieldscope.app.commands.bench import record_window  # DearPyGui, ModernGL: only with --window

        report = record_window.run_window(args, lambda text: say(args, text))
    else:
        report = run_fit(args)
    report["load_average"] = os.getloadavg()
    say(args, f"{report['what']}: {report['steps_ratio']:.3f} of the steps without it "
               f"(load average {report['load_average'][0]:.2f}: a shared machine, weak evidence)")  # fmt: skip
    return report


def say(args: argparse.Namespace, text: str) -> None:
    """Print `text` unless the report is JSON."""
    if not args.json:
        print(text, flush=True)
