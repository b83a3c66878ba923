"""The GL renderer of the view: `Renderer.draw(snapshot, camera, view_options) -> RGBA array`."""

from app.render.camera import Camera2D, Camera3D
from app.render.renderer import Renderer, ViewOptions, default_camera

__all__ = ["Camera2D", "Camera3D", "Renderer", "ViewOptions", "default_camera"]
