"""The GL renderer of the view: `Renderer.draw(snapshot, camera, view_options) -> RGBA array`."""

from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.renderer import Renderer, ViewOptions, default_camera

__all__ = ["Camera2D", "Camera3D", "Renderer", "ViewOptions", "default_camera"]
