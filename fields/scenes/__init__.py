"""Scenes: what a field is trained on. One file per scene kind; `open_scene` picks one by path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldscope.fields.errors import InputError
from fieldscope.fields.paths import path_problem
from fieldscope.fields.scenes.base import Batch, Scene
from fieldscope.fields.scenes.image import IMAGE_SUFFIXES, ImageScene, load_image
from fieldscope.fields.scenes.mesh_header import check_mesh_file

__all__ = ["TASKS", "Batch", "ImageScene", "Scene", "detect_task", "load_image", "open_scene"]

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb")
VOLUME_SUFFIXES = (".npy", ".nii", ".nii.gz")
NERF_FILES = ("transforms_train.json", "transforms.json")


def _sdf(path: str | Path, **options: Any) -> Scene:
    check_mesh_file(path)  # at once, before the mesh readers' slow imports
    from fieldscope.fields.scenes.sdf import SdfScene  # lazy: loads Warp and trimesh (and mesh.py imports this package)

    return SdfScene.from_file(path, **options)


def _occupancy(path: str | Path, **options: Any) -> Scene:
    check_mesh_file(path)
    from fieldscope.fields.scenes.occupancy import OccupancyScene  # lazy: loads Warp and trimesh

    return OccupancyScene.from_file(path, **options)


def _volume(path: str | Path, **options: Any) -> Scene:
    from fieldscope.fields.scenes.volume import VolumeScene  # lazy: NIfTI reading loads nibabel

    return VolumeScene.from_file(path, **options)


def _nerf(path: str | Path, **options: Any) -> Scene:
    from fieldscope.fields.scenes.nerf import NerfScene  # lazy: loads Warp (the ray marcher)

    return NerfScene.from_path(path, **options)


def _surface(path: str | Path, **options: Any) -> Scene:
    from fieldscope.fields.scenes.surface import SurfaceScene  # lazy: loads Warp (the ray marcher)

    return SurfaceScene.from_path(path, **options)


#: task name -> function(path, **options) -> Scene. Each scene file's task is listed here.
TASKS: dict[str, Callable[..., Scene]] = {
    "image": ImageScene.from_file,
    "sdf": _sdf,
    "occupancy": _occupancy,
    "volume": _volume,
    "nerf": _nerf,
    "surface": _surface,
}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def detect_task(path: str | Path) -> str:
    """The task a path holds, from what it is: an image, a mesh (as an SDF; `occupancy` on
    request), a volume (.npy, NIfTI), or a NeRF data set (a folder with transforms_train.json or
    transforms.json, or such a file)."""
    path = Path(path)
    problem = path_problem(path, folder_ok=True)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    suffix = _suffix(path)
    if path.is_dir():
        if any((path / name).is_file() for name in NERF_FILES):
            return "nerf"
        raise InputError(f"{path}: a folder but not a NeRF data set (it has no {' or '.join(NERF_FILES)})")
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in MESH_SUFFIXES:
        return "sdf"
    if suffix in VOLUME_SUFFIXES:
        return "volume"
    if suffix == ".json" and path.name.startswith("transforms"):
        return "nerf"
    kinds = ", ".join(sorted(IMAGE_SUFFIXES))
    raise InputError(
        f"{path}: not a scene fieldscope can open (supported: images {kinds}; meshes {', '.join(MESH_SUFFIXES)}; "
        f"volumes {', '.join(VOLUME_SUFFIXES)}; NeRF folders with {' or '.join(NERF_FILES)})"
    )


def open_scene(path: str | Path, task: str | None = None, **options: Any) -> Scene:
    """Open the scene at `path` as `task` (default: detected from the path)."""
    task = task or detect_task(path)
    if task not in TASKS:
        raise InputError(f"{path}: unknown task {task!r} (known: {', '.join(TASKS)})")
    return TASKS[task](path, **options)
