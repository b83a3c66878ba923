"""The window trains and shows a Laplacian-block field (MINER): the kind chosen in the Field panel,
its scales as the Levels panel's levels, the screen showing the renderer's picture (under Xvfb)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.ui.panels.field import FieldPanel
from fieldscope.app.ui.panels.levels import LevelsPanel
from tests.app.test_app import pause_and_settle, psnr, screen_shows_the_renderer, torch_view, write_gradient


def panel(app: Any, kind: type) -> Any:
    return next(p for p in app.window.panels if isinstance(p, kind))


@pytest.fixture(scope="module")
def blocks_app(app: Any, astronaut_path: Path) -> Iterator[Any]:
    """The app on the bundled image with the field kind switched to laplacian_blocks in the Field
    panel (once for this module's tests, in order); afterwards the image is opened again with the
    default field (for the other tests)."""
    app.view.refresh_interval = 0.2
    if app.session is None or app.session.scene is None or app.session.name != astronaut_path.name:
        app.open(astronaut_path)
        assert app.run_until(lambda: app.session.name == astronaut_path.name, 120), app.status.message
    app.view_state.reset_camera()
    app.views.set_mode("field")
    app.levels.set_schedule(False)
    fields = panel(app, FieldPanel)
    dpg.set_value(fields.kind, "laplacian_blocks")
    fields.restart()
    assert app.snapshot().config.kind == "laplacian_blocks", app.status.message
    # the panel now edits this kind's settings: coarse scales end sooner, for a quicker test
    dpg.set_value(fields.inputs["max_epochs"], 40)
    fields.restart()
    assert app.snapshot().config.max_epochs == 40, app.status.message
    yield app
    app.open(astronaut_path)
    assert app.run_until(lambda: app.snapshot().config.kind == "hashgrid", 120), app.status.message


def test_trains_a_laplacian_block_field_and_the_screen_shows_it(
    blocks_app: Any, astronaut_path: Path, tmp_path: Path
) -> None:
    app = blocks_app
    config = app.snapshot().config
    assert config.size == (512, 512)
    assert app.levels.state.levels == config.scales == 4
    labels = [dpg.get_item_label(box) for box in panel(app, LevelsPanel).boxes]
    assert "scale 3: 2x2 blocks of 256" in labels[0] and "scale 0: 16x16 blocks of 32" in labels[3]
    assert app.run_until(lambda: app.snapshot().metrics.get("psnr", 0.0) > 20.0, 240), app.snapshot().metrics
    snapshot = pause_and_settle(app)
    assert (snapshot.params["slots"] >= 0).sum() >= 4  # blocks have MLPs
    on_screen = screen_shows_the_renderer(app, snapshot, tmp_path)
    # which is the torch field, and resembles the target image
    expected, inside = torch_view(app, snapshot, snapshot.level_mask)
    assert psnr(on_screen[inside] / 255.0, expected[inside]) > 35.0
    target = iio.imread(astronaut_path)[..., :3] / 255.0
    coords = app.view_state.camera.field_coords(320, 240, (512, 512))
    rows, cols = ((coords[..., ::-1] * 512).astype(int).clip(0, 511)).transpose(2, 0, 1)
    assert psnr(on_screen[inside] / 255.0, target[rows, cols][inside]) > 19.0


def test_the_level_of_detail_slider_shows_coarser_scales(blocks_app: Any) -> None:
    app = blocks_app
    app.training.resume()
    # finer scales have started (the coarsest one has 4 blocks)
    assert app.run_until(lambda: (app.snapshot().params["slots"] >= 0).sum() > 4, 240), app.snapshot().metrics
    pause_and_settle(app)
    before = app.view.image.copy()
    app.overlays.set_level_strip(False)  # the strip (shown once a level is off) would cover part of the view
    app.levels.set_lod(0)  # the coarsest scale only
    mask = (True, False, False, False)
    assert app.levels.mask() == mask
    assert app.run_until(lambda: app.snapshot().level_mask == mask and app.settled(), 60)
    expected, inside = torch_view(app, app.snapshot(), mask)
    shown = app.view.image[..., :3]
    assert np.abs(shown[inside] - expected[inside]).max() <= 1e-3
    assert np.abs(shown - before[..., :3]).max() > 0.05  # the cut is visible
    app.levels.set_lod(3)


def test_the_blocks_take_the_size_of_the_scene(blocks_app: Any, tmp_path: Path) -> None:
    app = blocks_app
    app.open(write_gradient(tmp_path / "gradient.png"))
    assert app.run_until(lambda: app.session.name == "gradient.png", 120), app.status.message
    assert app.snapshot().config.kind == "hashgrid"  # opening a scene trains the default kind
    assert app.training.restart_field({"kind": "laplacian_blocks"}), app.status.message
    config = app.snapshot().config
    assert config.size == (64, 48)  # (x, y) samples of the image, not the config's default
    assert app.run_until(lambda: app.snapshot().step >= 2, 120), app.status.message
