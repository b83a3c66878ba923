"""GUI test set-up: a private Xvfb display (Mesa llvmpipe OpenGL) for the whole session, the one
OpenGL context every test shares (created before any DearPyGui viewport, as the app does), and
small fields with known answers (a fitted 2D image field, a fitted 3D sphere SDF)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.scenes.sphere import SphereScene
from fieldscope.fields.training.trainer import TrainConfig, Trainer


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display number (it tells us which through -displayfd)."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is missing: install the xvfb package (bash .ci/run does)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    return process, f":{number}"


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    process, name = start_xvfb()
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = name
    yield name
    if previous is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = previous
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def gl_context(display: str) -> Any:
    from fieldscope.app.render.context import create_context

    return create_context()


@pytest.fixture(scope="session")
def renderer(gl_context: Any) -> Any:
    from fieldscope.app.render.renderer import Renderer

    return Renderer(gl_context)


@pytest.fixture(scope="session")
def sphere_snapshot() -> Any:
    """A small 3D hash grid fitted to SphereScene (radius 0.3 around the cube's center)."""
    torch.manual_seed(0)
    config = HashGridConfig(
        dims=3, out_dims=1, levels=6, features=2, log2_table_size=14, base_resolution=4, growth=1.5, hidden_width=32
    )
    trainer = Trainer(configs.build_field(config), SphereScene(), TrainConfig(batch_size=4096, seed=0))
    for _ in range(120):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()


@pytest.fixture(scope="session")
def image_snapshot(astronaut_path: Path) -> Any:
    """A small 2D hash grid fitted briefly to the astronaut (hashed and dense levels)."""
    from fieldscope.fields.scenes import open_scene

    torch.manual_seed(0)
    scene = open_scene(astronaut_path)
    config = HashGridConfig(dims=2, out_dims=3, levels=8, log2_table_size=12, base_resolution=8, growth=1.6)
    trainer = Trainer(configs.build_field(config), scene, TrainConfig(batch_size=8192, seed=0))
    for _ in range(40):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()


@pytest.fixture(scope="session")
def app(gl_context: Any, tmp_path_factory: pytest.TempPathFactory, astronaut_path: Path) -> Iterator[Any]:
    """One window for the GUI tests (DearPyGui allows one per process), on the bundled scene. Every
    scene it opens waits at step 0 (start_paused): a test trains a known number of steps with
    train_steps, or says app.training.resume() when it only needs training to go on."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    from fieldscope.app.ui.app import App

    window = App(gl_context, view_size=(320, 240))
    window.start_paused = True
    window.open(astronaut_path)
    assert window.run_until(lambda: window.session is not None, timeout=120), window.status.message
    yield window
    window.close()


ASTRONAUT = "astronaut.png"


def open_fresh(app: Any, path: Path, timeout: float = 120.0) -> Any:
    """Open `path` in the window and wait until it is the current scene (a new session: a scene's
    new field from the seed, paused at step 0, or a saved model); its first snapshot."""
    old = app.session
    future = app.open(path)
    assert app.run_until(lambda: future.done() and app.session is not old, timeout), app.status.message
    if app.session.can_train:  # (a saved model shows its own step)
        assert app.snapshot().step == 0 and app.snapshot().state == "paused", app.snapshot().state
    return app.snapshot()


@pytest.fixture
def image_app(app: Any, astronaut_path: Path) -> Iterator[Any]:
    """The app on a new field of the bundled image (the default kind and seed, step 0, paused),
    the field view at its default camera and settings, quick refreshes of the view. Afterwards the
    trainer is paused and nothing the test started (comparison, flow, export) goes on."""
    app.view.refresh_interval = 0.2
    open_fresh(app, astronaut_path)
    app.views.set_mode("field")
    app.view_state.reset_camera()
    app.levels.set_schedule(False)
    app.levels.set_lod(app.levels.state.levels - 1)
    for level in range(app.levels.state.levels):
        app.levels.set_level(level, True)
    app.overlays.set_heatmap("none")
    app.overlays.show_points(False)
    app.overlays.set_level_strip(True)
    app.overlays.set_legend(True)
    yield app
    leave_quiet(app)


def leave_quiet(app: Any) -> None:
    """Stop what a test left going in the window: training, a comparison, a flow, a job."""
    if app.session is not None and app.session.can_train:
        app.training.pause()
    if app.compare.shown:
        app.compare.close()
    app.flow.stop()
    app.jobs.cancel()


def train_steps(app: Any, steps: int, timeout: float = 300.0) -> Any:
    """Train the window's (paused) field exactly `steps` steps, then wait until it has paused there
    and the view shows that snapshot at full resolution; the snapshot."""
    start = app.snapshot()
    assert start.state == "paused", start.state
    app.training.step(steps)

    def there() -> bool:
        snapshot = app.snapshot()
        return snapshot.step == start.step + steps and snapshot.state == "paused" and app.settled()

    assert app.run_until(there, timeout), (app.snapshot().step, app.snapshot().state, app.status.message)
    return app.snapshot()


def pause_and_settle(app: Any) -> Any:
    app.training.pause()
    assert app.run_until(lambda: app.snapshot().state == "paused" and app.settled(), 120)
    return app.snapshot()


def xdnd_drop(display_name: str, target: int, paths: list[Path], timeout: float = 30.0) -> bool:
    """Drop `paths` onto X11 window `target` the way a desktop file manager does (XDND version 5:
    enter, position, status, drop, then hand over text/uri-list through the XdndSelection).
    True when the target said it finished."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.protocol import event

    d = xdisplay.Display(display_name)
    atom = {
        name: d.intern_atom(name)
        for name in (
            "XdndAware",
            "XdndEnter",
            "XdndPosition",
            "XdndStatus",
            "XdndDrop",
            "XdndFinished",
            "XdndSelection",
            "XdndActionCopy",
            "text/uri-list",
        )
    }
    root = d.screen().root
    source = root.create_window(0, 0, 1, 1, 0, d.screen().root_depth)
    window = d.create_resource_object("window", target)
    aware = window.get_full_property(atom["XdndAware"], X.AnyPropertyType)
    assert aware is not None, "the target window does not accept drops (no XdndAware)"
    source.set_selection_owner(atom["XdndSelection"], X.CurrentTime)
    geometry = window.get_geometry()
    origin = window.translate_coords(root, 0, 0)
    x, y = -origin.x + geometry.width // 2, -origin.y + geometry.height // 2
    uris = "".join(f"file://{p.resolve()}\r\n" for p in paths).encode()

    def send(kind: str, data: list[int]) -> None:
        message = event.ClientMessage(window=window, client_type=atom[kind], data=(32, [source.id, *data]))
        window.send_event(message, event_mask=0)
        d.flush()

    send("XdndEnter", [5 << 24, atom["text/uri-list"], 0, 0])
    send("XdndPosition", [0, (x << 16) | y, X.CurrentTime, atom["XdndActionCopy"]])
    end = time.time() + timeout
    dropped = finished = False
    while time.time() < end and not finished:
        if not d.pending_events():
            time.sleep(0.01)
            continue
        ev = d.next_event()
        if ev.type == X.ClientMessage and ev.client_type == atom["XdndStatus"] and not dropped:
            assert ev.data[1][1] & 1, "the target refused the drop"
            send("XdndDrop", [0, X.CurrentTime, 0, 0])
            dropped = True
        elif ev.type == X.SelectionRequest:
            ev.requestor.change_property(ev.property, ev.target, 8, uris)
            notify = event.SelectionNotify(
                time=ev.time, requestor=ev.requestor, selection=ev.selection, target=ev.target, property=ev.property
            )
            ev.requestor.send_event(notify)
            d.flush()
        elif ev.type == X.ClientMessage and ev.client_type == atom["XdndFinished"]:
            finished = True
    d.close()
    return finished


@pytest.fixture(scope="session")
def drop_files(display: str) -> Any:
    return lambda target, paths: xdnd_drop(display, target, paths)
