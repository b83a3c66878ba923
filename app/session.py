"""What the window shows and trains: a scene, a field and its trainer (or a saved model to look at),
opened from a path. Headless: no DearPyGui or OpenGL here, so it runs in a worker thread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import InputError
from fieldscope.fields.paths import path_problem
from fieldscope.fields.run import FieldOptions, TrainOptions, build_run
from fieldscope.fields.scenes import detect_task, open_scene
from fieldscope.fields.scenes.image import IMAGE_SUFFIXES
from fieldscope.fields.train import Snapshot, Trainer

SNAPSHOT_SUFFIX = ".fsnap"


@dataclass
class Session:
    """A scene with its trainer, or a saved snapshot on its own (view only: `trainer` is None)."""

    name: str
    source: Path | None
    scene: Any = None
    trainer: Trainer | None = None
    fixed: Snapshot | None = None
    device: str = "cpu"

    def latest(self) -> Snapshot:
        if self.trainer is not None:
            return self.trainer.latest()
        assert self.fixed is not None
        return self.fixed

    @property
    def can_train(self) -> bool:
        return self.trainer is not None

    @property
    def running(self) -> bool:
        """True while its trainer thread runs (it may finish a step after a stop)."""
        return self.trainer is not None and self.trainer.running

    def start(self, paused: bool = False) -> None:
        if self.trainer is not None:
            self.trainer.start(paused=paused)

    def stop(self, wait: bool = False) -> None:
        """Stop the trainer thread (without waiting for the step it is in, unless `wait`)."""
        if self.trainer is not None:
            if wait:
                self.trainer.stop()
            else:
                from fieldscope.fields.train import Stop

                self.trainer.send(Stop())

    def ground_truth(self) -> np.ndarray | None:
        """The target image (H, W, C) float32 of an image scene, for the view's truth and error modes."""
        pixels = getattr(self.scene, "pixels", None)
        return pixels.cpu().numpy() if isinstance(pixels, torch.Tensor) else None


def check_openable(path: Path) -> None:
    """Clear messages for folders that are not scenes before the scene registry sees them."""
    problem = path_problem(path, folder_ok=True)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    if path.is_dir():
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        if not entries:
            raise InputError(f"{path}: the folder is empty")
        has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in entries) or any(
            (path / split).is_dir() for split in ("train", "images")
        )
        has_transforms = any(p.name.startswith("transforms") and p.suffix == ".json" for p in entries)
        if has_images and not has_transforms:
            raise InputError(
                f"{path}: looks like a NeRF data set (images) but has no transforms.json or "
                "transforms_train.json with the camera poses"
            )


def new_session(
    scene: Any,
    field: FieldOptions | None = None,
    train: TrainOptions | None = None,
    source: Path | None = None,
    config: Any = None,
    device: str = "cpu",
) -> Session:
    """A trainer (not started) on `device`, built as `fit` builds it: fields.run.build_run;
    `config` replaces the one the field options describe."""
    trainer = build_run(scene, field, train, device, config=config)
    return Session(scene.name, source, scene=scene, trainer=trainer, device=device)


def open_path(
    path: str | Path,
    task: str | None = None,
    current: Session | None = None,
    kind: str = "hashgrid",
    device: str = "cpu",
) -> Session:
    """Open a scene (image, ... any task of the scene registry) to train with the default field of
    `kind`, or a saved model: on the current scene when it fits it (training goes on from the
    snapshot), else on its own; trained on `device`. Raises FieldscopeError with a message for the
    status bar."""
    path = Path(path).expanduser()
    if path.suffix.lower() == SNAPSHOT_SUFFIX:
        return open_snapshot(path, current)
    check_openable(path)
    scene = open_scene(path, task or detect_task(path), device=device)
    return new_session(scene, FieldOptions(kind=kind), source=path, device=device)


def open_snapshot(path: Path, current: Session | None = None) -> Session:
    """A saved model: trained further on the current scene when task and shapes agree, else shown."""
    snapshot = snapshots.load(path)
    scene = current.scene if current is not None else None
    if scene is not None and _fits(snapshot, scene):
        field = snapshots.field_from(snapshot).to(current.device)
        trainer = Trainer(field, scene, snapshot.train)
        trainer.step_count, trainer.elapsed = snapshot.step, snapshot.elapsed
        trainer.metrics.update(snapshot.metrics)
        trainer.publish("paused")
        return Session(scene.name, path, scene=scene, trainer=trainer, device=current.device)
    return Session(path.name, path, fixed=snapshot)


def _fits(snapshot: Snapshot, scene: Any) -> bool:
    facts = scene.describe()
    return (
        snapshot.config.dims == scene.dims
        and snapshot.config.out_dims == scene.out_dims
        and snapshot.scene.get("task") == facts.get("task")
        and snapshot.scene.get("size") == facts.get("size")
    )


def memory_bytes(param_count: int) -> dict[str, int]:
    """Bytes of the parameters (float32), and with Adam's two moments and the gradient."""
    return {"parameters": 4 * param_count, "training": 16 * param_count}


def describe_scene(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(label, value) rows for the Scene panel from a snapshot's scene facts."""
    facts = dict(snapshot.scene)
    rows = [("task", str(facts.get("task", "?")))]
    if "size" in facts:
        rows.append(("size", " x ".join(str(v) for v in facts["size"])))
    if "channels" in facts:
        rows.append(("channels", str(facts["channels"])))
    if "bounds" in facts:
        rows.append(("bounds", "  ".join(f"[{', '.join(f'{v:g}' for v in b)}]" for b in facts["bounds"])))
    for key, value in facts.items():
        if key not in ("name", "task", "size", "channels", "bounds", "extent"):
            rows.append((key, f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)))
    return rows
