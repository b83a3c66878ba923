"""What the window shows and trains: a scene, a field and its trainer (or a saved model to look at),
opened from a path. Headless: no DearPyGui or OpenGL here, so it runs in a worker thread."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.config import FieldConfig
from fieldscope.fields.errors import InputError
from fieldscope.fields.paths import path_problem
from fieldscope.fields.scenes import NERF_FILES, detect_task, open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.scenes.image import IMAGE_SUFFIXES
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run
from fieldscope.fields.training.trainer import Snapshot, Stop, Trainer

SNAPSHOT_SUFFIX = ".fsnap"

#: Seconds between messages while closing waits for a trainer step.
STOP_NOTICE = 5.0


@dataclass
class Session:
    """A scene with its trainer, or a saved snapshot on its own (view only: `trainer` is None)."""

    name: str
    source: Path | None
    scene: Scene | None = None
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

    def stop(self, wait: bool = False, say: Callable[[str], None] | None = None) -> None:
        """Stop the trainer thread (without waiting for the step it is in, unless `wait`). Waiting
        lasts as long as the step does (a process that exits while the thread runs aborts in
        native code); every STOP_NOTICE seconds of it is told to `say`."""
        if self.trainer is None:
            return
        self.trainer.send(Stop())
        started = time.perf_counter()
        while wait and self.trainer.running:
            self.trainer.stop(timeout=STOP_NOTICE)
            if self.trainer.running and say is not None:
                say(f"waiting for the trainer to finish its step ({time.perf_counter() - started:.0f} s so far)")

    def ground_truth(self) -> np.ndarray | None:
        """The target image (H, W, C) float32 of an image scene, for the view's truth and error modes."""
        pixels = getattr(self.scene, "pixels", None)
        return pixels.cpu().numpy() if isinstance(pixels, torch.Tensor) else None


def check_openable(path: Path) -> None:
    """Clear messages for folders that are not scenes (nor sweeps: the window opens those too, see
    app/state/sweep_view.py) before the scene registry sees them."""
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
        if not any((path / name).is_file() for name in NERF_FILES):
            raise InputError(
                f"{path}: a folder but neither a NeRF data set (no {' or '.join(NERF_FILES)}) nor a sweep's "
                "results (no results.json)"
            )


def new_session(
    scene: Scene,
    field: FieldOptions | None = None,
    train: TrainOptions | None = None,
    source: Path | None = None,
    config: FieldConfig | None = None,
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


def _fits(snapshot: Snapshot, scene: Scene) -> bool:
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


def _size(value: Any) -> str:
    return " x ".join(str(int(v)) for v in value)


def _views(value: Any) -> str:
    return ", ".join(f"{value[k]:,} {k}" for k in ("train", "test") if k in value)


def _value_range(value: Any) -> str:
    return f"{value[0]:.4g} to {value[1]:.4g}"


#: The scene facts the Scene panel shows, in order, each as (label, formatter of the value); other
#: facts are shown only when they are short scalars (never matrices, camera lists or configs).
SCENE_ROWS: dict[str, tuple[str, Any]] = {
    "size": ("size", _size),
    "channels": ("channels", str),
    "views": ("views", _views),
    "faces": ("triangles", lambda v: f"{int(v):,}"),
    "vertices": ("vertices", lambda v: f"{int(v):,}"),
    "value_range": ("value range", _value_range),
    "level": ("iso-level", lambda v: f"{v:.4g}"),
}
#: Facts for the program, not for a person.
HIDDEN_FACTS = {"name", "task", "bounds", "extent", "inside_is_low", "unit_from_world", "world_from_unit", "head"}
LONGEST_VALUE = 60


def world_box(world_from_unit: Any) -> str:
    """The unit cube's extent in the scene's own coordinates (a similarity, (4, 4)), per axis."""
    matrix = np.asarray(world_from_unit, dtype=np.float64)
    corners = np.array([[x, y, z, 1.0] for x in (0, 1) for y in (0, 1) for z in (0, 1)]) @ matrix.T
    low, high = corners[:, :3].min(axis=0), corners[:, :3].max(axis=0)
    return "  ".join(f"{axis} {lo:.3g}..{hi:.3g}" for axis, lo, hi in zip("xyz", low, high, strict=True))


def _scalar(value: Any) -> str | None:
    """A short scalar as text, else None (lists, dicts, long strings are not for people)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, int | str) and len(str(value)) <= LONGEST_VALUE:
        return str(value)
    return None


def describe_scene(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(label, value) rows a person reads for the Scene panel, from a snapshot's scene facts: task,
    size, view counts, triangles, value range, the cube's box in world units, ...; never matrices
    or long lists."""
    facts = dict(snapshot.scene)
    rows = [("task", str(facts.get("task", "?")))]
    for key, (label, formatted) in SCENE_ROWS.items():
        if key in facts:
            try:
                rows.append((label, formatted(facts[key])))
            except (TypeError, ValueError, KeyError, IndexError):
                continue  # a fact of another shape than expected (an older snapshot): not shown
    if "world_from_unit" in facts:
        rows.append(("world box", world_box(facts["world_from_unit"])))
    if "test_views" in facts and "views" not in facts:
        rows.append(("test views", str(len(facts["test_views"]))))
    for key, value in facts.items():
        text = _scalar(value)
        if key not in SCENE_ROWS and key not in HIDDEN_FACTS and key != "test_views" and text is not None:
            rows.append((key.replace("_", " "), text))
    return rows
