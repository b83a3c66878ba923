"""Starting the window from the command line (`fieldscope`, `fieldscope view PATH`)."""

from __future__ import annotations

import sys
from pathlib import Path

from fieldscope.app.render.context import NoDisplayError, create_context, has_display

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
    device: str = "cpu",
) -> int:
    """Open the window on `path` and run until it is closed (or `seconds` pass). Without a display:
    one line saying so, exit code 2."""
    if not has_display():
        print(f"fieldscope: no display (DISPLAY is not set): {HEADLESS_HINT}", file=sys.stderr)
        return 2
    try:
        ctx = create_context()  # before the viewport is shown
    except NoDisplayError as error:
        print(f"fieldscope: {error}: {HEADLESS_HINT}", file=sys.stderr)
        return 2
    from fieldscope.app.ui.app import App

    app = App(ctx, view_size=view_size, device=device)
    try:
        app.open(path, task, kind)
        app.run(seconds)
        if screenshot is not None:
            app.window.screenshot(screenshot)
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    return 0
