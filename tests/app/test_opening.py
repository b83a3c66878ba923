"""Opening scenes in the window: the latest drop wins over one still opening, and replaced scenes
(their trainer thread, field, scene and GL programs) are let go."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest

from .conftest import ASTRONAUT


def write_image(path: Path, size: int) -> Path:
    """A small gradient image, `size` pixels square (each size gets its own field config)."""
    x = np.linspace(0, 255, size, dtype=np.uint8)
    iio.imwrite(path, np.stack(np.broadcast_arrays(x[None, :], x[:, None], 90), axis=-1).astype(np.uint8))
    return path


def test_a_drop_while_another_opens_replaces_it(
    image_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldscope.app.state import opening as opening_module

    app = image_app
    first, second, third = (write_image(tmp_path / f"{name}.png", 24 + 8 * i) for i, name in
                            enumerate(("first", "second", "third")))  # fmt: skip
    release, started = threading.Event(), threading.Event()
    real_open_path = opening_module.open_path

    def slow_first(path: Any, *args: Any) -> Any:
        if Path(path) == first:
            started.set()
            assert release.wait(60)
        return real_open_path(path, *args)

    monkeypatch.setattr(opening_module, "open_path", slow_first)
    shown: list[str] = []
    real_switch = app.switch
    monkeypatch.setattr(app, "switch", lambda session, **kw: (shown.append(session.name), real_switch(session, **kw)))
    try:
        app.opening.drop([str(first)])
        app.frame()
        assert started.wait(30)  # first is opening (held), second waits behind it, third replaces second
        app.opening.drop([str(second)])
        app.frame()
        assert app.status.message.endswith(f"(replaces {first}, which was still opening)")
        app.opening.drop([str(third)])
        app.frame()
        assert app.status.message.endswith(f"(replaces {second}, which was still opening)")
        assert not app.status.is_error
    finally:
        release.set()
    assert app.run_until(lambda: app.session.name == "third.png", 120), app.status.message
    assert shown == ["third.png"]  # neither replaced scene was ever switched to
    assert app.opening.recent[0] == str(third)


def test_replaced_scenes_their_trainers_and_programs_are_freed(image_app: Any, tmp_path: Path) -> None:
    from fieldscope.app.render.renderer import PROGRAMS_KEPT

    app = image_app
    astronaut = app.session.source
    held: list[weakref.ref] = []
    for size in (16, 20, 24, 28, 32, 36):  # six configs: more programs than the renderer keeps
        path = write_image(tmp_path / f"g{size}.png", size)
        app.open(path)
        assert app.run_until(lambda p=path: app.session.source == p, 120), app.status.message
        held += [weakref.ref(app.session.trainer), weakref.ref(app.session.scene), weakref.ref(app.session)]
    app.open(astronaut)
    assert app.run_until(lambda: app.session.name == ASTRONAUT, 120)
    assert app.run_until(lambda: not app.opening.retired, 60), "old trainer threads did not end"
    gc.collect()
    assert [ref for ref in held if ref() is not None] == []
    trainers = [t for t in threading.enumerate() if t.name == "fieldscope-trainer"]
    assert trainers == [app.session.trainer._thread]
    assert len(app.renderer._programs) <= PROGRAMS_KEPT


def test_before_any_scene_the_status_bar_shows_why_an_open_failed(
    image_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dearpygui.dearpygui as dpg

    app = image_app
    os.mkfifo(tmp_path / "pipe.png")
    monkeypatch.setattr(app.current, "session", None)  # a window opened on nothing (or on a bad path)
    future = app.open(tmp_path / "pipe.png")
    assert dpg.get_value(app.window.status_bar.text).startswith(f"opening {tmp_path / 'pipe.png'}")
    assert app.run_until(lambda: future.done() and app.status.is_error, 60)
    shown = dpg.get_value(app.window.status_bar.text)
    assert shown == f"{tmp_path / 'pipe.png'}: is a FIFO (named pipe), not a file fieldscope can read"
