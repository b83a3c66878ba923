"""Scenes: what a field is trained on. One file per scene kind; `open_scene` picks one by path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fields.errors import InputError
from fields.scenes.base import Batch, Scene
from fields.scenes.image import IMAGE_SUFFIXES, ImageScene, load_image

__all__ = ["TASKS", "Batch", "ImageScene", "Scene", "detect_task", "load_image", "open_scene"]

#: task name -> function(path, **options) -> Scene. Each scene file's task is listed here.
TASKS: dict[str, Callable[..., Any]] = {"image": ImageScene.from_file}


def detect_task(path: str | Path) -> str:
    """The task a path holds, from what it is (an image file, ...)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    kinds = ", ".join(sorted(IMAGE_SUFFIXES))
    raise InputError(f"{path}: not a scene fieldscope can open (supported: images {kinds})")


def open_scene(path: str | Path, task: str | None = None, **options: Any) -> Scene:
    """Open the scene at `path` as `task` (default: detected from the path)."""
    task = task or detect_task(path)
    if task not in TASKS:
        raise InputError(f"{path}: unknown task {task!r} (known: {', '.join(TASKS)})")
    return TASKS[task](path, **options)
