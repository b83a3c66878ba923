"""A sweep's results folder in the window (under Xvfb): dropped on it, the Compare panel shows its
table (the rows of results.json) and its curves (a plot per scene); a row opens its run's snapshot
in the view; a folder that is not a sweep, or a broken results.json, is one status line and the
scene stays. The sweep is made here with `fieldscope sweep --serial` (no Ray) on two tiny images; a
comparison's report folder (`fieldscope compare --report`) opens the same way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.cli import main
from fieldscope.app.state.current import Current
from fieldscope.app.state.status import Status
from fieldscope.app.state.sweep_view import COLUMNS, SweepView, read_sweep
from fieldscope.app.ui.panels.compare import ComparePanel
from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import InputError

STEPS = 6


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hashgrid and mlp on two 24 x 20 images (a pattern and its mirror), STEPS steps each, one after the other."""
    folder = tmp_path_factory.mktemp("sweep")
    y, x = np.mgrid[0:20, 0:24] / 24.0
    pixels = np.stack([np.sin(7 * x), np.cos(5 * y), x * y], axis=-1) * 0.5 + 0.5
    scenes = []
    for name, image in (("one.png", pixels), ("two.png", pixels[:, ::-1])):
        iio.imwrite(folder / name, (image * 255).astype(np.uint8))
        scenes.append(str(folder / name))
    out = folder / "results"
    argv = ["sweep", "--serial", "--fields", "hashgrid,mlp", "--scenes", *scenes, "--out", str(out)]
    assert main([*argv, "--steps", str(STEPS), "--batch-size", "256", "--levels", "4", "--log2-table-size", "12"]) == 0
    return out


def panel_of(app: Any) -> ComparePanel:
    return next(p for p in app.window.panels if isinstance(p, ComparePanel))


def rows_of(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "results.json").read_text())["runs"]


def settle_open(app: Any) -> None:
    """Run frames until the open in progress has arrived (taken by a frame)."""
    assert app.run_until(lambda: not app.opening.opening, 120)
    app.frame()


@pytest.fixture
def sweep_app(image_app: Any) -> Iterator[Any]:
    """The window on the bundled image; afterwards the Compare header is closed and the panels'
    column scrolled back to its top (opening a sweep scrolls it to the sweep: later tests' plots
    above would be out of sight, and an unseen plot keeps its old axis limits)."""
    yield image_app
    header = panel_of(image_app).header
    dpg.set_value(header, False)
    dpg.set_y_scroll(dpg.get_item_parent(header), 0.0)
    for _ in range(2):
        image_app.frame()


def test_a_dropped_sweep_shows_its_table_and_curves_and_a_row_opens_its_snapshot(
    sweep_app: Any, sweep_dir: Path
) -> None:
    app, panel = sweep_app, panel_of(sweep_app)
    rows = rows_of(sweep_dir)
    assert [(r["scene"], r["kind"]) for r in rows] == [
        ("one.png", "hashgrid"), ("one.png", "mlp"), ("two.png", "hashgrid"), ("two.png", "mlp")
    ]  # fmt: skip
    scene = app.session
    app.opening.drop([str(sweep_dir)])  # as a file manager's drop arrives
    app.frame()
    settle_open(app)
    assert app.sweep.results is not None and app.session is scene  # the scene stays: a sweep goes to the panel
    assert f"sweep {sweep_dir}: 4 runs" in app.status.message and not app.status.is_error
    assert app.run_until(lambda: len(panel.sweep.rows) == 4, 30)  # painted at the panels' next refresh
    assert dpg.get_value(panel.header) and dpg.is_item_shown(panel.sweep.group)  # the header opened on it

    cells = panel.sweep.cells()
    assert [dpg.get_item_label(column) for column in dpg.get_item_children(dpg.get_item_parent(
        dpg.get_item_parent(panel.sweep.rows[0][0])), 0)] == list(COLUMNS)  # fmt: skip
    for row, shown in zip(rows, cells, strict=True):
        assert shown[:4] == [row["kind"], row["scene"], f"{row['params']:,}", f"psnr {row['value']:.4g}"]
        assert shown[4:] == [f"{row['seconds']:.1f}", str(STEPS), str(row["seed"]), ""] and row["steps"] == STEPS

    # a plot per scene, a line per run: its curve from results.json
    assert [dpg.get_item_label(plot) for plot in panel.sweep.plots] == [
        "one.png: psnr vs seconds", "two.png: psnr vs seconds"
    ]  # fmt: skip
    for series, group in zip(panel.sweep.series, (rows[:2], rows[2:]), strict=True):
        assert [dpg.get_item_label(s) for s in series] == ["hashgrid", "mlp"]
        for line, row in zip(series, group, strict=True):
            xs, ys = dpg.get_value(line)[:2]
            assert xs == pytest.approx([t for t, _ in row["curve"]])
            assert ys == pytest.approx([v for _, v in row["curve"]])

    # a row opens its snapshot, as opening the .fsnap does
    row = rows[2]
    assert panel.sweep.choose(2)
    assert app.run_until(lambda: app.session.source == sweep_dir / row["snapshot"], 120), app.status.message
    snapshot = app.snapshot()
    assert snapshot.config == configs.from_dict(row["config"]) and snapshot.step == STEPS
    assert snapshots.field_from(snapshot).param_count() == row["params"]
    assert app.run_until(app.settled, 120)
    assert app.view.shown_snapshot is snapshot  # the view draws that run's field
    assert app.run_until(lambda: dpg.get_value(panel.sweep.rows[2][0]), 30)  # the chosen row is marked
    assert not any(dpg.get_value(r[0]) for i, r in enumerate(panel.sweep.rows) if i != 2)
    assert app.sweep.results.root == sweep_dir  # the table stays for the next choice


@pytest.fixture(scope="module")
def compare_dir(sweep_dir: Path) -> Path:
    """`fieldscope compare --report` of hashgrid and mlp on the sweep's first image, STEPS steps each."""
    out = sweep_dir.parent / "compared"
    argv = ["compare", str(sweep_dir.parent / "one.png"), "--fields", "hashgrid,mlp", "--params", "3000"]
    assert main([*argv, "--steps", str(STEPS), "--batch-size", "256", "--report", str(out)]) == 0
    return out


def test_a_comparisons_report_opens_as_a_sweep(sweep_app: Any, compare_dir: Path) -> None:
    app, panel = sweep_app, panel_of(sweep_app)
    rows = rows_of(compare_dir)
    assert [(r["scene"], r["kind"], r["params_target"]) for r in rows] == [
        ("one.png", "hashgrid", 3000),
        ("one.png", "mlp", 3000),
    ]
    app.open(compare_dir)  # as the Scene panel's path box (and `fieldscope view DIR`) opens it
    settle_open(app)
    assert f"sweep {compare_dir}: 2 runs" in app.status.message and not app.status.is_error
    assert app.run_until(lambda: len(panel.sweep.rows) == 2, 30)
    assert [cells[:3] for cells in panel.sweep.cells()] == [[r["kind"], "one.png", f"{r['params']:,}"] for r in rows]
    assert [dpg.get_item_label(plot) for plot in panel.sweep.plots] == ["one.png: psnr vs seconds"]
    assert [dpg.get_item_label(s) for s in panel.sweep.series[0]] == ["hashgrid 3k", "mlp 3k"]
    assert panel.sweep.choose(1)  # the mlp's field opens in the view
    assert app.run_until(lambda: app.session.source == compare_dir / rows[1]["snapshot"], 120), app.status.message
    assert app.snapshot().config == configs.from_dict(rows[1]["config"]) and app.snapshot().step == STEPS


def write_folder(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_a_bad_folder_is_one_status_line_and_the_scene_stays(image_app: Any, tmp_path: Path) -> None:
    app = image_app
    scene, shown = app.session, app.sweep.results
    cases = {
        "broken": ({"sweep.json": "{}", "results.json": '{"runs": [{"kind"'}, "results.json: not valid JSON ("),
        "no-runs": ({"results.json": '{"rows": []}'}, 'results.json: not a sweep\'s results (no "runs" list)'),
        "short-row": ({"results.json": '{"runs": [{"kind": "mlp"}]}'}, "results.json: run 1 has no run_id, scene"),
        "unfinished": ({"sweep.json": '{"runs": []}'}, "results.json: missing (the sweep has not finished"),
        "notes": ({"notes.txt": "hello"}, ": a folder but neither a NeRF data set"),
    }
    for name, (files, expected) in cases.items():
        folder = write_folder(tmp_path / name, files)
        app.open(folder)  # as the Scene panel's path box opens it
        settle_open(app)
        message = app.status.message
        assert app.status.is_error and message.startswith(str(folder)) and expected in message, message
        assert "\n" not in message
        assert app.session is scene and app.sweep.results is shown, name


def test_reading_a_sweep_without_the_window(sweep_dir: Path, tmp_path: Path) -> None:
    results = read_sweep(sweep_dir)
    assert [row["run_id"] for row in results.rows] == [row["run_id"] for row in rows_of(sweep_dir)]
    assert [scene for scene, _, _ in results.plots()] == ["one.png", "two.png"]
    assert results.snapshot(0) == sweep_dir / results.rows[0]["snapshot"] and results.snapshot(0).is_file()
    failed = write_folder(tmp_path / "failed", {})
    row = {**results.rows[0], "error": "InputError: bad scene", "snapshot": "", "curve": [], "value": None}
    (failed / "results.json").write_text(json.dumps({"runs": [row]}))
    again = read_sweep(failed)
    assert again.snapshot(0) is None and again.cells()[0][3] == "" and again.cells()[0][-1] == "InputError: bad scene"
    assert again.plots() == []  # no finished run: no plot (as in curves.png)
    status, opened = Status(), []
    view = SweepView(Current(), status, opened.append)
    view.show(again)  # no scene in the window yet, no run to open
    assert opened == [] and "1 runs (1 failed)" in status.message
    assert not view.choose(0) and status.is_error
    assert status.message == f"{row['run_id']}: nothing to view (InputError: bad scene)"
    view.show(results)  # no scene yet: its first finished run opens
    assert opened == [results.snapshot(0)] and view.chosen == 0
    with pytest.raises(InputError, match="not a sweep's folder"):
        read_sweep(write_folder(tmp_path / "empty", {}))
