"""The Compare panel in the window (under Xvfb): three kinds train side by side, the view splits
into tiles that each show the renderer's picture of their own field under the view's camera, the
inside overlays draw in the tiles whose fields have them, bad choices are one line in the panel and
the status bar."""

from __future__ import annotations

from dataclasses import replace
from functools import partialmethod
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np
import pytest

from fieldscope.app.render.camera import Camera2D
from fieldscope.app.state.compare import CompareSession, tile_grid, tile_options
from fieldscope.app.ui.panels.compare import ComparePanel

KINDS = ["hashgrid", "fourier", "mlp"]


def panel_of(app: Any) -> ComparePanel:
    return next(p for p in app.window.panels if isinstance(p, ComparePanel))


def train_side_by_side(app: Any, kinds: list[str], params: int, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Start a comparison that trains every field 3 steps and stops; the final snapshots."""
    monkeypatch.setattr(CompareSession, "start", partialmethod(CompareSession.start, rounds=3))
    panel = panel_of(app)
    panel.choose(kinds, params)
    assert panel.start(), app.status.message
    session = panel.comparison.session
    assert app.views.compare is session and app.views.shown() is app.tiles
    assert app.run_until(lambda: not session.running, timeout=300)
    panel.stop()
    snapshots = session.snapshots()
    assert [s.step for s in snapshots] == [3] * len(kinds) and session.error == ""
    return snapshots


def settled_tiles(app: Any, snapshots: list[Any], camera: Any) -> np.ndarray:
    """The view's picture once it shows every tile of these snapshots at full resolution."""
    app.view_state.camera = camera  # what pan and zoom in the view set

    def drawn() -> bool:
        shown = app.tiles.shown
        return app.tiles.complete and shown[1] == camera and list(shown[0].snapshots) == snapshots

    assert app.run_until(drawn, timeout=120)
    return app.tiles.image.copy()


def assert_tiles_are_their_fields(app: Any, snapshots: list[Any], camera: Any, picture: np.ndarray) -> list[Any]:
    height, width = picture.shape[:2]
    expected = []
    for snapshot, (x, y, w, h) in zip(snapshots, tile_grid(len(snapshots), width, height), strict=True):
        expected.append(app.renderer.draw(snapshot, camera, tile_options(app.views.options(), w, h)))
        assert np.abs(picture[y : y + h, x : x + w] - expected[-1]).max() <= 1e-6
    return expected


def test_three_fields_side_by_side_in_the_view_under_one_camera(
    image_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, panel = image_app, panel_of(image_app)
    try:
        # small fields: llvmpipe shades every weight per pixel
        snapshots = train_side_by_side(app, KINDS, 5_000, monkeypatch)
        kinds = panel.comparison.session.kinds  # in the kinds' registration order
        assert sorted(kinds) == sorted(KINDS) and [s.config.kind for s in snapshots] == kinds
        assert len({s.step for s in snapshots}) == 1  # equal steps
        pictures = []
        for camera in (Camera2D(), Camera2D(center=(0.4, 0.6), zoom=2.5)):
            pictures.append(settled_tiles(app, snapshots, camera))
            assert_tiles_are_their_fields(app, snapshots, camera, pictures[-1])
        assert np.abs(pictures[1] - pictures[0]).max() > 0.05  # the camera moved all tiles
        labels = [dpg.get_value(item) for item in app.window.tile_labels if dpg.is_item_shown(item)]
        assert len(labels) == 3 and all(text.startswith(kind) for kind, text in zip(kinds, labels, strict=True))
    finally:
        panel.close()  # its tiles would cover the view in later tests' screenshots
        assert not dpg.is_item_shown(panel.results) and app.views.shown() is app.view
        app.frame()  # the window takes the labels off the view in its next frame
        assert not any(dpg.is_item_shown(item) for item in app.window.tile_labels)
        app.view_state.reset_camera()


def test_inside_overlays_draw_in_the_tiles_of_fields_that_have_them(
    image_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, panel = image_app, panel_of(image_app)
    try:
        snapshots = train_side_by_side(app, ["hashgrid", "gaussian_buckets"], 40_000, monkeypatch)
        assert app.overlays.lagrangian_levels()  # the Gaussian tile's levels, though the scene's field has none
        assert app.overlays.show_points(True) and app.overlays.set_heatmap("contribution", 3)
        camera = Camera2D()
        picture = settled_tiles(app, snapshots, camera)
        with_overlays = assert_tiles_are_their_fields(app, snapshots, camera, picture)
        height, width = picture.shape[:2]
        for snapshot, (_, _, w, h), shown in zip(snapshots, tile_grid(2, width, height), with_overlays, strict=True):
            bare = replace(tile_options(app.views.options(), w, h), heatmap="none", points=())
            plain = app.renderer.draw(snapshot, camera, bare)
            assert np.abs(shown - plain).max() > 0.1, snapshot.config.kind  # heatmap / points are in it
    finally:
        app.overlays.show_points(False)
        app.overlays.set_heatmap("none")
        panel.close()
        app.view_state.reset_camera()


def test_the_ntk_panel_shows_the_paper_spectra_at_the_current_step(
    image_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, panel = image_app, panel_of(image_app)
    try:
        train_side_by_side(app, KINDS, 5_000, monkeypatch)
        kinds = panel.comparison.session.kinds
        assert panel.start_ntk() and "at step 3" in app.status.message
        job = panel.comparison.ntk
        assert app.run_until(lambda: panel._painted_ntk is job, timeout=300), job.error  # painted off the UI thread
        results = job.results()
        assert [row["field"] for row in results] == kinds and all(row["step"] == 3 for row in results)
        expected = []
        for row in results:
            expected.append((row["field"], row["eigenvalues"]))
            if row["has_grid_term"]:
                expected.append((f"{row['field']} no grid", row["eigenvalues_without_grid_term"]))
        assert [label for label, _ in expected].count("hashgrid no grid") == 1 and len(expected) == 4
        assert [dpg.get_item_label(series) for series in panel.ntk_series] == [label for label, _ in expected]
        for series, (_, values) in zip(panel.ntk_series, expected, strict=True):
            assert dpg.get_value(series)[1] == pytest.approx([v for v in values if v > 0])
        assert dpg.get_item_label(panel.ntk_plot) == "NTK eigenvalues at step 3"
        assert "NTK spectra at step 3" in app.status.message
    finally:
        panel.close()
        app.view_state.reset_camera()


def test_bad_choices_are_one_line(image_app: Any) -> None:
    app, panel = image_app, panel_of(image_app)
    panel.choose(["hashgrid", "gaussian_buckets", "laplacian_blocks", "fourier", "mlp"], 20_000)
    assert not panel.start()
    assert "at most 4" in app.status.message and "\n" not in app.status.message
    panel.choose(["gaussian_buckets", "mlp"], 3_000)
    assert not panel.start()
    assert "no gaussian_buckets config has 3,000 parameters" in app.status.message
