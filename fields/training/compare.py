"""The comparison's measures, headless: which kinds a comparison names (parse_kinds), its metric (Probe)
and a compared field (FieldRun). A comparison is a sweep of one scene (`fieldscope compare`:
fields/training/sweep.py, one run per kind, its config fitted to the parameter budget by
fields/training/budget.py, the runs one after the other by default); the window's Compare panel
trains its fields side by side (app/state/compare.py), built by the sweep's `build`.

The metric while training: PSNR for images on a fixed set of CURVE_PIXELS pixels (the same for every
field), else the scene's IoU or PSNR where it measures one, else the loss on a fixed batch; at the end
a run is evaluated as `fit` evaluates it (the scene's full evaluation: an image's every pixel)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.training.trainer import Trainer

if TYPE_CHECKING:
    from fieldscope.fields.scenes.base import Scene

#: Pixels of the fixed set the curves' PSNR is measured on.
CURVE_PIXELS = 1 << 15
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


@dataclass
class FieldRun:
    """One compared field: its kind, trainer and metric curve [(training seconds, metric)]."""

    kind: str
    trainer: Trainer
    curve: list[tuple[float, float]] = field(default_factory=list)
