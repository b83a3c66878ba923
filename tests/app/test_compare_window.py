"""The Compare panel in the window (under Xvfb): three kinds train side by side, each tile of the
Compare window shows the renderer's picture of its own field, the view's camera moves every tile,
bad choices are one line in the panel and the status bar."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np

from fieldscope.app.compare_view import tile_grid
from fieldscope.app.render import Camera2D
from fieldscope.app.ui.panels.compare import TILES_SIZE, ComparePanel

KINDS = ["hashgrid", "fourier", "mlp"]


def panel_of(app: Any) -> ComparePanel:
    return next(p for p in app.window.panels if isinstance(p, ComparePanel))


def test_three_fields_side_by_side_under_one_camera(image_app: Any) -> None:
    app, panel = image_app, panel_of(image_app)
    panel.choose(KINDS, 5_000)  # small fields: llvmpipe shades every weight per pixel
    try:
        assert panel.start(), app.status.message
        assert app.run_until(lambda: min(s.step for s in panel.session.snapshots()) >= 3, timeout=180)
        panel.stop()
        snapshots = panel.session.snapshots()
        kinds = panel.session.kinds  # in the kinds' registration order
        assert sorted(kinds) == sorted(KINDS) and [s.config.kind for s in snapshots] == kinds
        assert len({s.step for s in snapshots}) == 1  # equal steps
        for camera in (Camera2D(), Camera2D(center=(0.4, 0.6), zoom=2.5)):
            app.view_state.camera = camera  # what pan and zoom in the view set
            panel.refresh(app.snapshot())
            panel._last_draw = 0.0
            picture = panel.draw(snapshots)
            options = replace(app.view_options(), level_mask=None, points=(), level_states=(), legend=False)
            tiles = tile_grid(3, *TILES_SIZE)
            for snapshot, (x, y, w, h) in zip(snapshots, tiles, strict=True):
                expected = app.renderer.draw(snapshot, camera, replace(options, width=w, height=h))
                assert np.abs(picture[y : y + h, x : x + w] - expected).max() <= 1e-6
            if camera.zoom == 1.0:
                first = picture.copy()
        assert np.abs(picture - first).max() > 0.05  # the camera moved all tiles
        assert all(text.startswith(kind) for kind, text in zip(kinds, panel.session.labels(), strict=True))
    finally:
        panel.close()  # its window would cover the view in later tests' screenshots
        assert not dpg.is_item_shown(panel.window)
        app.view_state.reset_camera()


def test_bad_choices_are_one_line(image_app: Any) -> None:
    app, panel = image_app, panel_of(image_app)
    panel.choose(["hashgrid", "gaussian_buckets", "laplacian_blocks", "fourier", "mlp"], 20_000)
    assert not panel.start()
    assert "at most 4" in app.status.message and "\n" not in app.status.message
    panel.choose(["gaussian_buckets", "mlp"], 3_000)
    assert not panel.start()
    assert "no gaussian_buckets config has 3,000 parameters" in app.status.message
