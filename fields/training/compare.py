"""The comparison lab, headless: several field kinds on one scene at an equal parameter budget
(configs from fields/training/budget.py), trained with fields.run.build_run, step-interleaved in one thread.

Equal steps, not equal wall time: one step of each field in turn until the step count or the time
budget (seconds per field on average: the fields' training seconds added up reach the budget times
their number), so every field gets the same number of steps and the same samples per step, and the
load of a shared machine falls on all of them alike (a field timed alone in a quiet moment would
win by luck). Each field's own training seconds are recorded too: the curves plot the metric
against them, which shows the speed per step.

The metric: PSNR for images (on a fixed set of pixels while training, the same for every field,
and over the whole image at the end when it has at most FINAL_PIXELS, else over a fixed sample
of that many), else the scene's IoU or PSNR where it measures one, else the loss on a fixed batch."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.training.budget import budget_params, fit_budget
from fieldscope.fields.training.run import TrainOptions, build_run
from fieldscope.fields.training.trainer import Trainer

if TYPE_CHECKING:
    from fieldscope.fields.scenes.base import Scene

#: Pixels of the fixed set the curves' PSNR is measured on; images with more than FINAL_PIXELS are
#: measured at the end on a fixed sample of that many, smaller ones over every pixel.
CURVE_PIXELS = 1 << 15
FINAL_PIXELS = 1 << 18
#: Curve points per field over the run (the metric costs a forward pass, not counted as training).
CURVE_POINTS = 20
PROBE_SEED = 12345


def parse_kinds(text: str | Sequence[str], most: int | None = None) -> list[str]:
    """'hashgrid,fourier' -> ['hashgrid', 'fourier']; ConfigError naming an unknown or repeated
    kind, or more kinds than `most`."""
    kinds = [k.strip() for k in text.split(",")] if isinstance(text, str) else list(text)
    kinds = [k for k in kinds if k]
    if not kinds:
        raise ConfigError("name at least one field kind to compare")
    for kind in kinds:
        configs.config_class(kind)
    repeated = sorted({k for k in kinds if kinds.count(k) > 1})
    if repeated:
        raise ConfigError(f"field kind {repeated[0]} is named twice")
    if most is not None and len(kinds) > most:
        raise ConfigError(f"{len(kinds)} fields ({', '.join(kinds)}): at most {most} can be compared here")
    return kinds


class Probe:
    """The comparison metric of a scene (see the module docstring): name and value for a field."""

    def __init__(self, scene: Scene, pixels: int = CURVE_PIXELS) -> None:
        self.scene = scene
        facts = scene.describe()
        self.image = facts.get("task") == "image"
        generator = torch.Generator(device="cpu").manual_seed(PROBE_SEED)
        self.batch = scene.sample(pixels, generator)
        self.name = "psnr" if self.image else "loss"  # refined on first use: the scene's IoU or PSNR

    @torch.no_grad()
    def sample_psnr(self, model: Callable[[torch.Tensor], torch.Tensor]) -> float:
        """PSNR (peak 1) over the fixed pixels."""
        mse = float(torch.mean((model(self.batch.coords).double() - self.batch.targets.double()) ** 2))
        return -10.0 * math.log10(max(mse, 1e-30))

    def __call__(self, trainer: Trainer) -> tuple[str, float]:
        if self.image:
            return "psnr", self.sample_psnr(trainer.field)
        metrics = trainer.evaluate()
        for name in ("iou", "psnr"):
            if name in metrics:
                self.name = name
                return name, float(metrics[name])
        with torch.no_grad():
            loss, _ = self.scene.loss(trainer.field, self.batch)
        self.name = "loss"
        return "loss", float(loss)


def final_metric(scene: Scene, trainer: Trainer, probe: Probe, pixels: int = FINAL_PIXELS) -> tuple[str, float, str]:
    """(name, value, what it was measured on) at the end of the run."""
    facts = scene.describe()
    if probe.image:
        width, height = facts["size"][:2]
        if width * height <= pixels and not facts.get("streamed"):
            return "psnr", float(scene.evaluate(trainer.field)["psnr"]), f"all {width * height:,} pixels"
        final = Probe(scene, pixels)
        return "psnr", final.sample_psnr(trainer.field), f"a fixed sample of {pixels:,} pixels"
    name, value = probe(trainer)
    return name, value, "the scene's evaluation" if name != "loss" else "the loss on a fixed batch"


@dataclass
class FieldRun:
    """One compared field: its kind, trainer and metric curve [(training seconds, metric)]."""

    kind: str
    trainer: Trainer
    curve: list[tuple[float, float]] = field(default_factory=list)


def build_runs(
    scene: Scene, kinds: Sequence[str], params: int, train: TrainOptions | None = None, device: str = "cpu"
) -> list[FieldRun]:
    """A trainer per kind, its config fitted to `params` (ConfigError naming a kind that cannot)."""
    fitted = {kind: fit_budget(scene, kind, params) for kind in kinds}
    return [FieldRun(kind, build_run(scene, None, train, device, config=fitted[kind])) for kind in kinds]


def interleave(
    runs: Sequence[FieldRun],
    probe: Probe,
    time_budget: float | None,
    steps: int | None,
    on_probe: Callable[[Sequence[FieldRun]], None] | None = None,
) -> None:
    """Step every field in turn (one step each per round) until `steps` rounds or `time_budget`
    seconds of training per field on average (the fields' seconds added up reach time_budget times
    their number); the metric of each field every 1/CURVE_POINTS of the budget."""
    if time_budget is None and steps is None:
        raise ConfigError("a comparison needs --steps or --time-budget")
    if (time_budget is not None and time_budget <= 0) or (steps is not None and steps < 1):
        raise ConfigError("the time budget and the steps must be positive")

    def record() -> None:
        for run in runs:
            run.curve.append((run.trainer.elapsed, probe(run.trainer)[1]))
        if on_probe is not None:
            on_probe(runs)

    record()
    total = time_budget * len(runs) if time_budget is not None else None
    rounds, next_probe = 0, 1
    while True:
        for run in runs:
            run.trainer.step()
        rounds += 1
        spent = sum(run.trainer.elapsed for run in runs)
        done = (steps is not None and rounds >= steps) or (total is not None and spent >= total)
        progress = max(rounds / steps if steps else 0.0, spent / total if total else 0.0)
        if done or progress * CURVE_POINTS >= next_probe:
            next_probe = math.floor(progress * CURVE_POINTS) + 1
            if not done:
                record()
        if done:
            return


def compare(
    scene: Scene,
    kinds: Sequence[str],
    params: int,
    time_budget: float | None = None,
    steps: int | None = None,
    train: TrainOptions | None = None,
    device: str = "cpu",
    on_probe: Callable[[Sequence[FieldRun]], None] | None = None,
    pixels: tuple[int, int] = (CURVE_PIXELS, FINAL_PIXELS),
) -> tuple[dict[str, Any], list[FieldRun]]:
    """Run the comparison -> (the JSON report, the runs with their trained fields). `pixels`: the
    image pixels the curves and the final PSNR are measured on (see the module docstring)."""
    runs = build_runs(scene, parse_kinds(kinds), params, train, device)
    probe = Probe(scene, pixels[0])
    interleave(runs, probe, time_budget, steps, on_probe)
    results = []
    for run in runs:
        name, value, measured_on = final_metric(scene, run.trainer, probe, pixels[1])
        run.curve.append((run.trainer.elapsed, probe(run.trainer)[1]))
        config = run.trainer.field.config
        results.append(
            {
                "field": run.kind,
                "params": budget_params(config),
                "params_now": int(run.trainer.field.param_count()),
                "steps": run.trainer.step_count,
                "seconds": run.trainer.elapsed,
                name: value,
                "measured_on": measured_on,
                "curve": [[round(t, 4), v] for t, v in run.curve],
                "curve_metric": probe.name,
                "config": configs.to_dict(config),
            }
        )
    report = {
        "scene": scene.describe().get("name", ""),
        "params_target": params,
        "schedule": "step-interleaved: equal steps, one thread",
        "results": results,
    }
    return report, runs
