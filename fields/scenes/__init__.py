"""Scenes: what a field is trained on. One file per scene kind; `open_scene` picks by path."""

from fields.scenes.base import Batch, Scene
from fields.scenes.image import ImageScene, load_image

__all__ = ["Batch", "ImageScene", "Scene", "load_image", "open_scene"]


def open_scene(path: str, **options: object) -> Scene:
    """Open the scene at `path` (for now every scene is an image)."""
    return ImageScene.from_file(path, **options)  # type: ignore[arg-type]
