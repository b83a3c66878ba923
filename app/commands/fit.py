"""`fieldscope fit`: train a field on a scene, headless, and save it (with --timelapse, a video of
the training as it goes)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from fieldscope.app.commands import command_parser, timelapse
from fieldscope.app.commands.frames_out import headline_metric
from fieldscope.app.options import (
    Subparsers,
    add_device_option,
    add_field_options,
    add_scene_options,
    add_train_options,
    field_options,
    metric_summary,
    scene_options,
    scene_summary,
    train_options,
)
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.scenes import TASKS, open_scene
from fieldscope.fields.training.run import build_run


def add_parser(sub: Subparsers) -> None:
    fit = command_parser(sub, "fit")
    fit.add_argument("path", help="the scene: an image, a mesh, a volume (.npy, NIfTI) or a NeRF folder")
    fit.add_argument("--task", choices=sorted(TASKS), help="what to fit (default: from the path; meshes: sdf)")
    add_scene_options(fit)
    fit.add_argument("--out", required=True, help="snapshot file to write")
    budget = fit.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="number of steps (default 1000)")
    budget.add_argument("--time-budget", type=float, metavar="SECONDS", help="train for this long instead")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    add_field_options(fit)
    add_train_options(fit)
    timelapse.add_options(fit)
    add_device_option(fit)
    fit.set_defaults(run=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    if args.steps is None and args.time_budget is None:
        args.steps = 1000
    out = Path(args.out)
    if not out.parent.is_dir():
        raise FieldscopeError(f"{out}: the folder {out.parent} does not exist")
    try:
        scene = open_scene(args.path, task=args.task, device=args.device, **scene_options(args))
    except TypeError as error:  # an unknown scene option
        raise ConfigError(f"{args.path}: {error}") from None
    facts = scene.describe()
    trainer = build_run(scene, field_options(args), train_options(args), args.device)
    trainer.plan_run(args.steps, args.time_budget)
    field, config = trainer.field, trainer.field.config
    print(
        f"fitting {scene.name} ({scene_summary(facts)}) with a {config.kind} field "
        f"of {field.param_count():,} parameters"
        + (" (it grows while training)" if config.capabilities.grows_while_training else ""),
        file=sys.stderr,
    )
    bar = tqdm(
        total=args.steps if args.steps else None, unit="step", disable=args.quiet, file=sys.stderr, mininterval=0.5
    )
    started = time.perf_counter()
    last_eval, eval_cost = -math.inf, 0.0
    headline = headline_metric(scene.task)
    recorder = timelapse.start(args, trainer, headline)  # None without --timelapse
    try:
        while True:
            if recorder is not None:
                recorder.record()
            loss = trainer.step()
            bar.update(1)
            now = time.perf_counter()
            done = (
                (args.steps and trainer.step_count >= args.steps)
                or (args.time_budget and now - started >= args.time_budget)
                or trainer.strategy.finished
            )
            # evaluate every 2 s, but spend at most a tenth of the time on it (3D scenes are slow to score)
            if now - last_eval >= max(2.0, 10.0 * eval_cost) and not done:
                trainer.evaluate()
                last_eval = time.perf_counter()
                eval_cost = last_eval - now
            bar.set_postfix({"loss": f"{loss:.2e}", headline: f"{trainer.metrics.get(headline, math.nan):.4g}"})
            if done:
                break
    except BaseException as error:
        bar.close()
        if recorder is not None:
            recorder.sink.discard()
        if not isinstance(error, KeyboardInterrupt):
            raise
        print("interrupted: nothing written", file=sys.stderr)
        return 130
    bar.close()
    trainer.evaluate(full=True)
    if recorder is not None:
        print(recorder.finish(), file=sys.stderr)
    trainer.publish("stopped")
    snapshots.save(out, trainer.latest())
    print(
        f"final {metric_summary(trainer.metrics)}, {field.param_count():,} parameters, {trainer.step_count} steps "
        f"in {trainer.elapsed:.1f} s of training -> {out}"
    )
    return 0
