"""The comparison lab's view (app/state/compare.py) under Xvfb: three fields train side by side in
one thread, every tile shows its own field (the renderer's picture of that field's snapshot), the
one camera moves all tiles, and the NTK job and plots work from the session's snapshots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fieldscope.app.commands.plots import plot_lines
from fieldscope.app.commands.sweep_report import curves_plot, markdown
from fieldscope.app.render.camera import Camera2D
from fieldscope.app.render.renderer import ViewOptions
from fieldscope.app.state.compare import CompareSession, NtkJob, draw_tiles, tile_grid
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.training.run import TrainOptions

KINDS = ["hashgrid", "fourier", "mlp"]


@pytest.fixture(scope="module")
def session(astronaut_path: Any) -> Any:
    from fieldscope.fields.scenes import open_scene

    session = CompareSession(open_scene(astronaut_path), KINDS, 20_000, TrainOptions(batch_size=1024))
    for _ in range(3):  # 3 steps of each field, in this thread (the owner while none is started)
        session.step_round()
        session.publish()
    return session


def test_three_fields_train_side_by_side(session: Any) -> None:
    snapshots = session.snapshots()
    assert [s.config.kind for s in snapshots] == KINDS
    steps = [run.trainer.step_count for run in session.runs]
    assert steps == [3, 3, 3]  # interleaved: equal steps
    assert all(len(curve) >= 2 for curve in session.curves())
    labels = session.labels()
    for label, kind, count in zip(labels, KINDS, session.counts(), strict=True):
        assert label.startswith(kind) and f"{count:,} params" in label and "dB" in label
        assert abs(count - 20_000) <= 2_000
    rows = session.rows()  # the sweep's rows: the panel's table is the sweep's
    assert [row["kind"] for row in rows] == KINDS and [row["steps"] for row in rows] == [3, 3, 3]
    assert [row["params_budgeted"] for row in rows] == session.counts()
    assert [row["curve"] for row in rows] == [[list(p) for p in curve] for curve in session.curves()]
    assert "| hashgrid | 20,000 |" in markdown(rows)


def test_each_tile_shows_its_own_field_and_the_camera_moves_all(renderer: Any, session: Any) -> None:
    snapshots = session.snapshots()
    options = ViewOptions(width=72, height=48, mode="field")  # small: MLP tiles cost per pixel on llvmpipe
    before_camera, after_camera = Camera2D(), Camera2D(center=(0.35, 0.6), zoom=2.0)
    before, tiles = draw_tiles(renderer, snapshots, before_camera, options)
    after, _ = draw_tiles(renderer, snapshots, after_camera, options)
    assert tiles == tile_grid(3, 72, 48) == [(0, 0, 36, 24), (36, 0, 36, 24), (0, 24, 36, 24)]
    pictures = []
    for snapshot, (x, y, w, h) in zip(snapshots, tiles, strict=True):
        tile_options = ViewOptions(width=w, height=h, mode="field")
        for view, camera in ((before, before_camera), (after, after_camera)):
            expected = renderer.draw(snapshot, camera, tile_options)
            assert np.abs(view[y : y + h, x : x + w] - expected).max() <= 1e-6
        assert np.abs(after[y : y + h, x : x + w] - before[y : y + h, x : x + w]).max() > 0.05  # it moved
        pictures.append(before[y : y + h, x : x + w])
    for i in range(3):
        for j in range(i):
            assert np.abs(pictures[i] - pictures[j]).max() > 0.05  # three different fields


def test_at_most_four_and_at_least_two(astronaut_path: Any) -> None:
    from fieldscope.fields.scenes import open_scene

    scene = open_scene(astronaut_path)
    with pytest.raises(ConfigError, match="5 fields"):
        CompareSession(scene, "hashgrid,gaussian_buckets,laplacian_blocks,fourier,mlp", 20_000)
    with pytest.raises(ConfigError, match="2 to 4"):
        CompareSession(scene, "mlp", 20_000)


def plot_spectra(results: Sequence[dict[str, Any]]) -> Image.Image:
    """NTK eigenvalues (descending) against their index on log axes, one line per field."""
    series = [[(i + 1, v) for i, v in enumerate(row["eigenvalues"]) if v > 0] for row in results]
    labels = [row["field"] for row in results]
    return plot_lines(series, labels, "NTK eigenvalues (log-log)", "index", log=True)


def test_ntk_job_and_plots(session: Any) -> None:
    job = NtkJob(session.snapshots(), points=24, count=16)  # a 5 x 5 lattice, spectra resampled to 16
    job.thread.join(120)
    results = job.results()
    assert job.error == "" and results is not None
    assert [row["field"] for row in results] == KINDS
    assert [row["has_grid_term"] for row in results] == [True, False, False]  # only the hash grid's table
    for row in results:
        assert row["step"] == 3
        whole, bare = row["eigenvalues"], row["eigenvalues_without_grid_term"]
        assert len(whole) == len(bare) == 16 and whole == sorted(whole, reverse=True)
        assert row["min_eigenvalue"] == whole[-1] <= row["max_eigenvalue"] == whole[0]
        if row["has_grid_term"]:
            assert whole[-1] > bare[-1] and whole != bare  # the grid term raises the spectrum (Weyl)
        else:
            assert whole == bare
    spectra = np.asarray(plot_spectra(results))
    curves = np.asarray(curves_plot(session.rows()))
    for picture in (spectra, curves):
        coloured = (np.abs(picture.astype(int) - picture.mean(axis=2, keepdims=True)) > 40).any(axis=2)
        assert coloured.sum() > 100  # coloured lines drawn
    assert not math.isnan(results[0]["condition_number"])
