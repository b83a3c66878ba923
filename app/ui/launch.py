"""Starting the window from the command line (`fieldscope`, `fieldscope view PATH`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fieldscope.app.render.context import NoDisplayError, create_context, has_display
from fieldscope.app.state import export
from fieldscope.app.ui.start_camera import CameraChoice, parse_camera, start_camera
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.pixels import write_image

if TYPE_CHECKING:  # the window (DearPyGui) loads only when one opens: `fieldscope --help` stays quick
    from fieldscope.app.ui.app import App

HEADLESS_HINT = (
    "the window needs a display; train and render headless instead with "
    "`fieldscope fit IMAGE --out MODEL.fsnap` and `fieldscope render MODEL.fsnap --out IMAGE.png`"
)


def launch(
    path: Path,
    task: str | None = None,
    seconds: float | None = None,
    screenshot: Path | None = None,
    view_size: tuple[int, int] | None = None,
    kind: str = "hashgrid",
    camera: str | None = None,
    view_screenshot: Path | None = None,
    device: str = "cpu",
) -> int:
    """Open the window on `path` and run until it is closed (or `seconds` pass). `camera`: the
    view's camera (start_camera.parse_camera), set once the scene is open; `view_screenshot`: save
    the picture the view last displayed when the window closes. Without a display, or with a camera
    the scene cannot take: one line saying so, exit code 2."""
    choice = parse_camera(camera) if camera is not None else None  # malformed: before any window
    if not has_display():
        print(f"fieldscope: no display (DISPLAY is not set): {HEADLESS_HINT}", file=sys.stderr)
        return 2
    try:
        ctx = create_context()  # before the viewport is shown
    except NoDisplayError as error:
        print(f"fieldscope: {error}: {HEADLESS_HINT}", file=sys.stderr)
        return 2
    from fieldscope.app.ui.app import App  # lazy: DearPyGui and the panels load only when a window opens

    app = App(ctx, view_size=view_size, device=device)
    started = time.perf_counter()
    try:
        app.open(path, task, kind)
        if choice is not None:
            set_camera(app, choice)
        app.run(None if seconds is None else max(0.0, seconds - (time.perf_counter() - started)))
        if screenshot is not None:
            app.window.screenshot(screenshot)
    except KeyboardInterrupt:
        pass
    except FieldscopeError as error:
        print(f"fieldscope: error: {error}", file=sys.stderr)
        return 2
    finally:
        if view_screenshot is not None:
            save_view_picture(app, view_screenshot)
        app.close()
    return 0


def set_camera(app: App, choice: CameraChoice) -> None:
    """Wait for the scene to open, then start the view at `choice`'s camera (FieldscopeError if it cannot)."""
    if not app.wait_for_scene():
        raise FieldscopeError(app.status.message or "the scene did not open")
    app.view_state.set_camera(start_camera(choice, app.snapshot()))


def save_view_picture(app: App, path: Path) -> None:
    """The picture the view last displayed (2D: the scene's part) as an image file, written atomically."""
    if app.view.shown is None:
        print(f"fieldscope: {path} not written: the view had displayed no picture yet", file=sys.stderr)
        return
    write_image(export.check_target(path, export.IMAGE_SUFFIXES), app.views.picture())
    print(f"view picture -> {path}")
