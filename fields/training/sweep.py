"""Sweeps, whatever runs them: the grid of runs (kinds x scenes x parameter budgets x seeds), one run
(`run_one`: open the scene, fields.training.run.build_run, train, evaluate, serialise the snapshot)
and its row, and the serial engine (every run here, one after the other). The Ray engine is in
fields/training/ray_engine.py; the results folder (rows, resume, tables) in fields/training/sweep_folder.py.

A run is `fieldscope fit` with the same options: the same builder, the same seed, the same steps
(`trainer.step()` that many times), the same final `evaluate(full=True)`, the same snapshot, so its
parameters are fit's. With a parameter budget its config is fitted to it (fit_budget): `fieldscope compare`
is a sweep of one scene, a budgeted run per kind; the window's Compare panel builds its fields with `build`
(it steps them live side by side). While it trains,
its metric is measured CURVE_POINTS times on compare's fixed probe (fields/training/compare.py), a
forward pass that changes nothing; a time budget counts training seconds (`trainer.elapsed`)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.budget import budget_params, fit_budget
from fieldscope.fields.training.compare import CURVE_PIXELS, CURVE_POINTS, FieldRun, Probe
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run
from fieldscope.fields.training.trainer import Trainer

if TYPE_CHECKING:
    from fieldscope.fields.scenes.base import Scene

#: A setting's value (an int, a float, a bool or a string), as options parse them.
Value = int | float | bool | str
#: What a run hands back: its row and its snapshot file's bytes (None when it failed).
Outcome = tuple[dict[str, Any], bytes | None]
#: Called in the worker with the run before it starts (a user's set-up; tests inject faults with it).
Hook = Callable[["RunSpec"], None]


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: what `fieldscope fit` would be given. `params`: a parameter budget (the
    kind's config fitted to it, as `compare` does) or None (the kind's defaults and `settings`);
    `settings`: field settings ((name, value), ...); `scene_options` go to open_scene."""

    kind: str
    scene: str
    task: str | None = None
    params: int | None = None
    seed: int = 0
    steps: int | None = None
    time_budget: float | None = None
    settings: tuple[tuple[str, Value], ...] = ()
    max_resolution: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    scene_options: tuple[tuple[str, Value], ...] = ()
    device: str = "cpu"

    @property
    def run_id(self) -> str:
        """A readable name that differs whenever anything of the run does (a hash of all of it)."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.scene).name) or "scene"
        budget = f"p{self.params}" if self.params is not None else "default"
        return f"{stem}-{self.kind}-{budget}-s{self.seed}-{digest}"


def grid(
    kinds: Sequence[str],
    scenes: Sequence[str],
    params: Sequence[int | None] = (None,),
    seeds: Iterable[int] = (0,),
    settings: Callable[[str], dict[str, Value]] | None = None,
    **common: Any,
) -> list[RunSpec]:
    """Every combination, scene by scene, then budget, kind and seed; `settings(kind)` gives each
    kind's field settings; `common` are the other RunSpec fields (steps, lr, ...). ConfigError for
    an unknown kind, no kind or no scene, a run with neither steps nor a time budget, or a repeat."""
    if not kinds or not scenes:
        raise ConfigError("a sweep needs at least one field kind and one scene")
    for kind in kinds:
        configs.config_class(kind)  # an unknown kind: ConfigError naming the known ones
    if common.get("steps") is None and common.get("time_budget") is None:
        raise ConfigError("a sweep needs --steps or --time-budget")
    if (common.get("steps") or 1) < 1 or (common.get("time_budget") or 1) <= 0:
        raise ConfigError("the steps and the time budget must be positive")
    seeds = list(seeds)
    specs = [
        RunSpec(
            kind=kind,
            scene=str(Path(scene).resolve()),
            params=budget,
            seed=seed,
            settings=tuple(sorted((settings(kind) if settings else {}).items())),
            **common,
        )
        for scene in scenes
        for budget in params
        for kind in kinds
        for seed in seeds
    ]
    ids = [spec.run_id for spec in specs]
    if len(set(ids)) != len(ids):
        raise ConfigError("the sweep names a run twice (a repeated kind, scene, budget or seed)")
    return specs


def base_row(spec: RunSpec) -> dict[str, Any]:
    """The row of a run before it ran: what it is (its outcome's columns empty)."""
    return {
        "run_id": spec.run_id,
        "kind": spec.kind,
        "scene": Path(spec.scene).name,
        "scene_path": spec.scene,
        "task": spec.task or "",
        "params_target": spec.params,
        "seed": spec.seed,
        "steps_planned": spec.steps,
        "time_budget": spec.time_budget,
        "params": None,
        "steps": None,
        "seconds": None,
        "metric": "",
        "value": None,
        "wall": None,
        "host": "",
        "started_at": None,
        "ended_at": None,
        "error": "",
        "snapshot": "",
        "metrics": {},
        "curve": [],
        "curve_metric": "",
        "config": {},
    }


def error_row(spec: RunSpec, message: str) -> dict[str, Any]:
    """The row of a run that failed with `message`."""
    return {**base_row(spec), "error": message}


def describe_error(error: BaseException) -> str:
    """One line: fieldscope's own errors as they read; anything else with its type and where it
    was raised (the last frame of the traceback)."""
    if isinstance(error, FieldscopeError):
        return str(error)
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


@dataclass
class Trained:
    """A run trained: its scene, its trainer with its curve (FieldRun), the probe and the final metrics."""

    scene: Scene
    run: FieldRun
    probe: Probe
    metrics: dict[str, float]


def open_spec_scene(spec: RunSpec) -> Scene:
    """The run's scene, opened as `fit` opens it (an unknown scene option: ConfigError)."""
    try:
        return open_scene(spec.scene, spec.task, device=spec.device, **dict(spec.scene_options))
    except TypeError as error:  # an unknown scene option (as `fit` says it)
        raise ConfigError(f"{spec.scene}: {error}") from None


def build(spec: RunSpec, scene: Scene) -> Trainer:
    """The run's trainer on `scene`, from fields.training.run.build_run (`fit`'s builder): its config
    fitted to `spec.params` when it has a budget, else the kind's defaults and settings; its run
    planned (schedules that end with the run) when it has steps or a time budget."""
    options = TrainOptions(lr=spec.lr, batch_size=spec.batch_size, seed=spec.seed)
    if spec.params is not None:
        config = fit_budget(scene, spec.kind, spec.params, dict(spec.settings))
        trainer = build_run(scene, None, options, spec.device, config=config)
    else:
        trainer = build_run(
            scene, FieldOptions(spec.kind, dict(spec.settings), spec.max_resolution), options, spec.device
        )
    if spec.steps is not None or spec.time_budget is not None:
        trainer.plan_run(spec.steps, spec.time_budget)
    return trainer


def train(spec: RunSpec, scene: Scene | None = None) -> Trained:
    """Open the scene (unless given), build the run, train it for its steps or its seconds of
    training, measuring the probe's metric every 1/CURVE_POINTS of the way, evaluate it (errors raise)."""
    if spec.steps is None and spec.time_budget is None:
        raise ConfigError("a run needs --steps or --time-budget")
    scene = open_spec_scene(spec) if scene is None else scene
    trainer = build(spec, scene)
    probe = Probe(scene, probe_pixels(scene))
    run = FieldRun(spec.kind, trainer)

    def record() -> None:
        run.curve.append((trainer.elapsed, probe(trainer)[1]))

    record()
    steps, next_probe = 0, 1
    while True:
        trainer.step()
        steps += 1
        if (spec.steps is not None and steps >= spec.steps) or (
            spec.time_budget is not None and trainer.elapsed >= spec.time_budget
        ):
            break
        progress = max(steps / spec.steps if spec.steps else 0.0, trainer.elapsed / (spec.time_budget or math.inf))
        if progress * CURVE_POINTS >= next_probe:
            next_probe = math.floor(progress * CURVE_POINTS) + 1
            record()
    metrics = trainer.evaluate(full=True)
    record()
    trainer.publish("stopped")
    return Trained(scene, run, probe, metrics)


def run_one(spec: RunSpec) -> Outcome:
    """`train` the run -> (row, snapshot bytes). Any error is caught and becomes the row's `error`
    (a sweep's other runs go on)."""
    started = time.perf_counter()
    row = base_row(spec)
    row.update(host=f"{socket.gethostname()}:{os.getpid()}", started_at=time.time())
    try:
        trained = train(spec)
        trainer, curve, metrics = trained.run.trainer, trained.run.curve, trained.metrics
        data = snapshots.to_bytes(trainer.latest())
    except Exception as error:
        row.update(error=describe_error(error), wall=time.perf_counter() - started, ended_at=time.time())
        return row, None
    name = next((m for m in ("psnr", "iou") if m in metrics), trained.probe.name)
    row.update(
        params=int(trainer.field.param_count()),
        steps=trainer.step_count,
        seconds=trainer.elapsed,
        metric=name,
        value=float(metrics[name]) if name in metrics else curve[-1][1],
        metrics={k: float(v) for k, v in metrics.items()},
        curve=[[round(t, 4), v] for t, v in curve],
        curve_metric=trained.probe.name,
        config=configs.to_dict(trainer.field.config),
        wall=time.perf_counter() - started,
        ended_at=time.time(),
    )
    if spec.params is not None:
        row["params_budgeted"] = budget_params(trainer.field.config)
    return row, data


def probe_pixels(scene: Scene) -> int:
    """The curve's probe: compare's CURVE_PIXELS, or fewer when an image has fewer pixels."""
    facts = scene.describe()
    if facts.get("task") == "image" and facts.get("size"):
        return min(CURVE_PIXELS, int(facts["size"][0]) * int(facts["size"][1]))
    return CURVE_PIXELS


def run_in_worker(spec: RunSpec, threads: int | None, hook: Hook | None = None) -> Outcome:
    """What a worker does with a run: use `threads` torch threads (None: as many as now), call `hook`, run it."""
    if threads is not None:
        torch.set_num_threads(max(1, threads))
    if hook is not None:
        hook(spec)
    return run_one(spec)


def run_serial(
    specs: Sequence[RunSpec],
    deliver: Callable[[RunSpec, Outcome], None],
    threads: int | None = 1,
    hook: Hook | None = None,
) -> None:
    """The serial engine: every run here, one after the other (`deliver` gets each outcome), with
    `threads` torch threads (None: as many as now); torch's thread count is restored afterwards."""
    before = torch.get_num_threads()
    try:
        for spec in specs:
            deliver(spec, run_in_worker(spec, threads, hook))
    finally:
        torch.set_num_threads(before)
