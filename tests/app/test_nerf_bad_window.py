"""Bad NeRF folders dropped on the window (cameras that do not see a common volume, a missing image,
images of different sizes): the status bar shows the one-line error naming the file, and the scene
that was open goes on training, the same session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.app.conftest import ASTRONAUT
from tests.fields.nerf_bad_folders import write_bad_folders


def test_a_bad_nerf_folder_keeps_the_current_scene_training(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    app.training.resume()
    session = app.session
    for folder, file, words in write_bad_folders(tmp_path).values():
        errors = len(app.status.errors)
        future = app.open(folder)
        assert app.run_until(lambda f=future, n=errors: f.done() and len(app.status.errors) > n, 60)
        message = app.status.message
        assert app.status.is_error and str(folder) in message and file in message and words in message, message
        assert f"{ASTRONAUT} is still training" in message
        assert app.session is session
    step = app.snapshot().step
    assert app.run_until(lambda: app.snapshot().step > step, 60)
