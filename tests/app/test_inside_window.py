"""The Inside panel in the real window under Xvfb: each view turns on through the App's methods (what
the panel's callbacks call), the screen shows what the test predicts (heatmap colours from a
brute-force collision count, dots of the level's colour at the projected means, the level strip),
the panel's statistics agree, the view exports as a PNG with its legends, and each view turns off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import imageio.v3 as iio
import numpy as np

from fieldscope.app.render import overlays
from fieldscope.app.render.colormaps import inferno, level_colour
from fieldscope.app.render.renderer import image_size
from fieldscope.app.state import collisions
from fieldscope.app.ui.panels.inside import InsidePanel
from fieldscope.fields.kinds.hashgrid import layout_of
from fieldscope.fields.pixels import to_uint8
from tests.app.conftest import train_steps
from tests.app.test_inside import brute_force_counts, cell_corner_rows


def screen_view(app: Any, path: Path) -> np.ndarray:
    """The view as the screen shows it (int RGB (H, W, 3)), after the view has settled."""
    assert app.run_until(app.settled, 60)
    shot = iio.imread(app.window.screenshot(path))[..., :3]
    x, y, w, h = app.window.view_rect()
    return shot[y : y + h, x : x + w].astype(int)


def offscreen(app: Any) -> np.ndarray:
    """What the renderer draws for the view's current options (int RGB)."""
    picture = app.renderer.draw(app.snapshot(), app.view_state.camera, app.views.options())
    return to_uint8(picture[..., :3]).astype(int)


def panel(app: Any) -> InsidePanel:
    return next(p for p in app.window.panels if isinstance(p, InsidePanel))


def wait_for_text(app: Any, item: int, words: str, timeout: float = 60.0) -> str:
    assert app.run_until(lambda: words in dpg.get_value(item), timeout), dpg.get_value(item)
    return dpg.get_value(item)


@contextmanager
def trained_field(app: Any, settings: dict[str, Any]) -> Iterator[Any]:
    """The app with another new field on the bundled image, trained 2 steps and paused; afterwards
    the inside views off."""
    try:
        assert app.training.restart_field(settings)
        yield train_steps(app, 2)
    finally:
        app.overlays.set_heatmap("none")
        app.overlays.show_points(False)
        app.overlays.set_sigma_circles(True)
        app.overlays.set_legend(True)


def test_collision_heatmap_shows_the_brute_force_counts_its_statistics_and_exports(
    image_app: Any, tmp_path: Path
) -> None:
    app = image_app
    # the default field keeps every level of the bundled image dense: a small table makes collisions
    with trained_field(app, {"log2_table_size": 12}) as snapshot:
        check_collision_view(app, snapshot, level=7, tmp_path=tmp_path)  # N = 80: 6561 vertices into 4096


def check_collision_view(app: Any, snapshot: Any, level: int, tmp_path: Path) -> None:
    config, layout = snapshot.config, layout_of(snapshot.config)
    assert layout.hashed[level] and collisions.level_key(config, level).interactive
    plain = screen_view(app, tmp_path / "plain.png")
    app.overlays.set_legend(False)
    app.overlays.set_heat_opacity(1.0)
    assert app.overlays.set_heatmap("collisions", level)
    shown = screen_view(app, tmp_path / "collisions.png")
    # prediction: the most vertices sharing an entry with a corner of each pixel's cell, coloured
    # by inferno from 1 to the level's most, mixed over the field's picture
    n, table = layout.resolution[level], config.table_size
    counts = brute_force_counts(2, n, True, table)
    coords = app.view_state.camera.field_coords(*app.view_state.size, image_size(snapshot))
    inside = np.all((coords > 0.0) & (coords < 1.0), axis=-1)
    value = counts[cell_corner_rows(coords[inside], n, True, table)].max(axis=1)
    t = np.clip((value - 1) / max(counts.max() - 1, 1), 0, 1)[:, None]
    alpha = 0.25 + 0.75 * t
    expected = (1 - alpha) * plain[inside] + alpha * 255 * inferno(t[:, 0])
    error = np.abs(shown[inside] - expected).max(axis=1)
    assert np.mean(error <= 4) > 0.99
    assert value.max() >= 2 and np.abs(shown - plain).max() > 60
    # the panel: the share of colliding entries and the histogram of the brute-force count
    share = f"{100 * np.mean(counts >= 2):.1f}%"
    text = wait_for_text(app, panel(app).heat_text, "colliding entries")
    assert f"colliding entries {share}" in text and f"N={n}" in text
    x, heights = dpg.get_value(panel(app).hist)[:2]
    histogram = np.bincount(counts)
    assert list(np.round(heights).astype(int)) == list(histogram[1:]) and x[0] == 1
    # with its legend, on screen and as an exported PNG, as the renderer draws it
    app.overlays.set_legend(True)
    with_legend = screen_view(app, tmp_path / "legend.png")
    assert np.percentile(np.abs(with_legend - offscreen(app)), 99) <= 3
    assert np.abs(with_legend - shown).max() > 100  # the colour bar is there
    app.exports.folder = tmp_path  # what the Export panel's folder box sets
    assert panel(app).export()
    app.jobs.run_to_end()
    saved = Path(app.status.message.split(" -> ")[-1])
    assert saved == tmp_path / f"astronaut-collisions-level{level}-step{snapshot.step}.png" and saved.exists()
    assert np.percentile(np.abs(iio.imread(saved)[..., :3].astype(int) - offscreen(app)), 99) <= 1
    assert [p.name for p in tmp_path.iterdir() if "astronaut" in p.name] == [saved.name]  # no temporary left
    # off again
    app.overlays.set_heatmap("none")
    assert np.abs(screen_view(app, tmp_path / "off.png") - plain).max() <= 2


def test_level_strip_and_contribution_map_turn_on_and_off(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    train_steps(app, 3)
    plain = screen_view(app, tmp_path / "plain.png")
    app.levels.set_lod(3)  # levels 0..3 on, the rest past the cut: the strip shows in the bottom left
    strip = screen_view(app, tmp_path / "strip.png")
    corner = strip[-60:, :160].reshape(-1, 3)
    for level in range(4):
        colour = np.round(255 * level_colour(level)).astype(int)
        assert (np.abs(corner - colour).max(axis=1) <= 2).sum() >= 16, level
    caption = wait_for_text(app, panel(app).levels_text, "LOD cut after level 3")
    assert f"4 of {app.levels.state.levels} levels on" in caption
    app.overlays.set_level_strip(False)
    no_strip = screen_view(app, tmp_path / "no_strip.png")
    assert np.abs(no_strip[-60:, :160] - strip[-60:, :160]).max() > 100
    assert np.percentile(np.abs(no_strip - offscreen(app)), 99) <= 3
    app.levels.set_lod(app.levels.state.levels - 1)
    app.overlays.set_level_strip(True)
    # a level's contribution: the renderer's heatmap (checked against torch in test_inside)
    assert app.overlays.set_heatmap("contribution", 2)
    shown = screen_view(app, tmp_path / "contribution.png")
    assert np.percentile(np.abs(shown - offscreen(app)), 99) <= 3 and np.abs(shown - plain).max() > 60
    dpg.set_value(panel(app).contrib_box, True)
    assert app.run_until(lambda: len(dpg.get_value(panel(app).contrib)[1]) == app.levels.state.levels, 30)
    assert min(dpg.get_value(panel(app).contrib)[1]) > 0.0
    dpg.set_value(panel(app).contrib_box, False)
    app.overlays.set_heatmap("none")
    assert np.abs(screen_view(app, tmp_path / "off.png") - plain).max() <= 2


def test_views_a_field_cannot_show_say_why_in_the_status_bar(image_app: Any) -> None:
    app = image_app
    assert not app.overlays.set_heatmap("points_per_vertex", 1)
    assert app.status.is_error and "no Lagrangian points" in app.status.message
    assert not app.overlays.show_points(True)
    assert app.status.is_error and "hashgrid fields have no Lagrangian points" in app.status.message
    assert not app.overlays.set_heatmap("voronoi")
    assert "unknown heatmap" in app.status.message
    app.overlays.set_heatmap("none")


def test_lagrangian_points_turn_on_at_the_projected_means_and_off(
    image_app: Any, tmp_path: Path
) -> None:
    app = image_app
    settings = {"kind": "gaussian_buckets", "levels": 4, "lagrangian_levels": 1, "points_per_bucket": 1}
    settings |= {"log2_table_size": 10, "base_resolution": 4, "growth": 2.0}  # level 3: 1024 points
    settings |= {"means_lr": 0.02}  # 0.64 cells of level 3 a step: the points visibly move in 2 steps
    with trained_field(app, settings) as snapshot:
        assert app.overlays.lagrangian_levels() == [3]
        plain = screen_view(app, tmp_path / "plain.png")
        app.overlays.set_sigma_circles(False)
        app.overlays.set_legend(False)
        assert app.overlays.show_points(True, 3)
        shown = screen_view(app, tmp_path / "points.png")
        # a dot of level 3's colour at each projected mean in view
        means = np.asarray(snapshot.params["encoding.lagrangian.means"])
        width, height = app.view_state.size
        origin, axis_x, axis_y = app.view_state.camera.mapping(width, height, image_size(snapshot))
        pixels = (means - origin) / np.array([axis_x[0], axis_y[1]]) * np.array([width, height])
        in_view = np.all((pixels > 4) & (pixels < np.array([width, height]) - 4), axis=1)
        apart = np.sort(np.linalg.norm(pixels[:, None] - pixels[None], axis=-1), axis=1)[:, 1] >= 6
        assert in_view.sum() > 500 and (in_view & apart).sum() > 100
        cols, rows = np.floor(pixels[in_view & apart]).astype(int).T
        # each dot coloured by how far its point moved, in cells of level 3 (N = 32)
        start = np.asarray(snapshot.params["encoding.lagrangian.start"])
        moved = np.linalg.norm(means - start, axis=1) * 32
        colour = np.round(255 * overlays.moved_colours(moved[in_view & apart])).astype(int)
        assert np.mean(np.abs(shown[rows, cols] - colour).max(axis=1) <= 3) > 0.95
        assert np.mean(np.abs(plain[rows, cols] - colour).max(axis=1) <= 3) < 0.2
        assert moved.max() > 0.5 and np.ptp(colour) > 30  # the points moved, by different amounts
        # with the starting positions shown, grey dots where the points started (under the moved ones)
        app.view_state.change(points_start=True)
        starts = screen_view(app, tmp_path / "starts.png")
        first = (start - origin) / np.array([axis_x[0], axis_y[1]]) * np.array([width, height])
        gone = in_view & apart & (np.linalg.norm(first - pixels, axis=1) >= 4)
        gone &= np.all((first > 4) & (first < np.array([width, height]) - 4), axis=1)
        scols, srows = np.floor(first[gone]).astype(int).T
        grey = np.round(255 * np.array(overlays.START_COLOUR)).astype(int)
        assert gone.sum() > 8  # (the window trains 2 steps or a few more)
        assert np.mean(np.abs(starts[srows, scols] - grey).max(axis=1) <= 3) > 0.6  # some under moved dots
        assert np.mean(np.abs(shown[srows, scols] - grey).max(axis=1) <= 3) < 0.2
        app.view_state.change(points_start=False)
        # the panel counts them, and its density histogram covers every cell of its grid
        inside_domain = np.all((means >= 0) & (means <= 1), axis=1)
        # (waits for the statistics of this snapshot: the worker may still show an earlier step's)
        text = wait_for_text(app, panel(app).point_text, f"{100 * (1 - inside_domain.mean()):.1f}% outside")
        assert f"level 3: {len(means):,} points" in text
        density = dpg.get_value(panel(app).density_series[0])
        assert sum(density[1]) == 32**2
        assert sum(k * c for k, c in zip(density[0], density[1], strict=True)) == inside_domain.sum()
        # the sharing of colliding buckets, beside the collision heatmap of the Lagrangian level
        assert app.overlays.set_heatmap("collisions", 3)
        assert "of the points serve a vertex of their bucket" in wait_for_text(app, panel(app).heat_text, "serve")
        assert app.overlays.set_heatmap("points_per_vertex", 3)
        heat = screen_view(app, tmp_path / "points_per_vertex.png")
        assert np.percentile(np.abs(heat - offscreen(app)), 99) <= 3
        app.overlays.set_heatmap("none")
        app.overlays.show_points(False)
        assert np.abs(screen_view(app, tmp_path / "off.png") - plain).max() <= 2


def test_laplacian_blocks_turn_on_with_their_states_hover_and_turn_off(
    image_app: Any, tmp_path: Path
) -> None:
    from fieldscope.app.state import blocks
    from fieldscope.fields import snapshot as snapshots

    app = image_app
    settings = {"kind": "laplacian_blocks", "scales": 3, "block_size": 32, "target_mse": 1e-3}
    with trained_field(app, settings) as snapshot:
        app.overlays.set_legend(False)
        plain = screen_view(app, tmp_path / "plain.png")
        assert app.blocks.show(0)  # the coarsest level: 4 x 4 blocks of 128 pixels
        shown = screen_view(app, tmp_path / "blocks.png")
        report = snapshots.field_from(snapshot).inspect()
        grid = report["blocks"][0]
        width, height = app.view_state.size
        origin, axis_x, axis_y = app.view_state.camera.mapping(width, height, image_size(snapshot))
        centres = []
        for iy, ix in np.ndindex(grid["status"].shape):
            centre = (np.array([ix, iy]) + 0.5) / np.array(grid["status"].shape[::-1])
            pixel = (centre - origin) / np.array([axis_x[0], axis_y[1]]) * np.array([width, height])
            col, row = np.floor(pixel).astype(int)
            rgba = blocks.STATE_COLOURS[grid["status"][iy, ix]]
            expected = 255 * rgba[:3] * rgba[3] + (1 - rgba[3]) * plain[row, col]
            assert np.abs(shown[row, col] - expected).max() <= 3, (ix, iy, grid["status"][iy, ix])
            centres.append(((col + 0.5, row + 0.5), (ix, iy)))
        assert (grid["status"] != 0).any() and np.abs(shown - plain).max() > 60
        # hovering over a block says its state and residual error in the status bar
        (pointer, index) = centres[5]
        app.blocks.hover(pointer)
        state = blocks.STATUS_NAMES[grid["status"][index[1], index[0]]]
        assert app.status.message.startswith(f"level 0 (scale 2) block ({index[0]}, {index[1]}): ")
        assert state.replace("_", " ") in app.status.message and not app.status.is_error
        error = grid["error"][index[1], index[0]]
        assert (f"{error:.3g}" in app.status.message) if error >= 0 else ("not measured" in app.status.message)
        # the panel's plot of active blocks against time, from every snapshot seen
        assert app.current.history.active_blocks[-1] == tuple(line["active"] for line in report["levels"])
        # with the key, and off again
        app.overlays.set_legend(True)
        assert np.percentile(np.abs(screen_view(app, tmp_path / "key.png") - offscreen(app)), 99) <= 3
        app.overlays.set_legend(False)
        app.blocks.show(None)
        assert np.abs(screen_view(app, tmp_path / "off.png") - plain).max() <= 2
