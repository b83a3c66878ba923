"""The GL renderer of the view (renderer.py: `Renderer.draw(snapshot, camera, view_options) -> RGBA
array`), the cameras (camera.py) and each kind's GL program (<kind>_gl.py)."""
