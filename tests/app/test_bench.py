"""`fieldscope bench curve | render | ui | collisions | record`, each run tiny in a fresh process: what it
prints is one JSON object with the documented keys and sane values (finite, positive, shares and
ratios in range). The speeds themselves are the benchmarks' business, never asserted here."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

from fieldscope.app.cli import main

SMALL_GRID = ["--levels", "4", "--log2-table-size", "12"]


def bench_json(*args: str) -> dict[str, Any]:
    """Run `fieldscope bench ARGS --json` in a fresh process (the GL benches make their own GL
    context, bench ui its own window: one per process) and parse what it prints."""
    result = subprocess.run(
        [sys.executable, "-m", "fieldscope.app.cli", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def bench_here(capsys: Any, *args: str) -> dict[str, Any]:
    """The same in this process (no GL): `fieldscope bench ARGS --json`'s JSON."""
    assert main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def share(value: Any) -> bool:
    return isinstance(value, int | float) and 0.0 <= value <= 1.0


def test_bench_curve_scores_each_checkpoint(astronaut_path, capsys):
    report = bench_here(capsys, "curve", str(astronaut_path), "--checkpoints", "0.05,0.1", *SMALL_GRID)
    assert set(report) >= {"scene", "task", "field", "params", "setup_seconds", "batch_size", "results"}
    assert report["scene"] == "astronaut.png" and report["task"] == "image"
    assert report["field"]["levels"] == 4 and report["field"]["log2_table_size"] == 12
    assert positive(report["params"]) and positive(report["setup_seconds"]) and positive(report["batch_size"])
    rows = report["results"]
    assert len(rows) == 2
    for row, checkpoint in zip(rows, (0.05, 0.1), strict=True):
        assert row["seconds"] >= checkpoint and row["steps"] >= 1 and positive(row["psnr"])
    assert rows[1]["steps"] >= rows[0]["steps"] and rows[1]["seconds"] >= rows[0]["seconds"]
    assert rows[-1]["params"] == report["params"]  # a hash grid's count does not change


def test_bench_record_compares_steps_with_and_without_a_timelapse(astronaut_path, capsys):
    args = ["--path", str(astronaut_path), "--seconds", "1", "--rounds", "1", "--every", "1", "--size", "16x16"]
    report = bench_here(capsys, "record", *args, "--share", "1")
    assert report["what"] == "fit --timelapse" and positive(report["steps_ratio"])
    (plain,), (recorded,) = report["plain"], report["recorded"]
    assert plain["frames"] == 0 and recorded["frames"] == recorded["steps"] >= 1  # a frame before every step
    assert recorded["skipped"] == 0 and share(report["drawing_share"]) and report["drawing_share"] > 0
    assert len(report["load_average"]) == 3


def test_bench_collisions_table_has_shares_per_level(capsys):
    report = bench_here(capsys, "collisions", *SMALL_GRID)
    assert set(report) >= {"image", "config", "levels"}
    levels = report["levels"]
    assert [row["level"] for row in levels] == [0, 1, 2, 3]
    for row in levels:
        assert set(row) >= {"resolution", "hashed", "vertices", "entries", "colliding_entries", "vertices_sharing",
                            "max_per_entry", "expected"}  # fmt: skip
        assert positive(row["resolution"]) and positive(row["vertices"]) and positive(row["entries"])
        assert row["entries"] <= 2**12
        assert share(row["colliding_entries"]) and share(row["vertices_sharing"])
        if not row["hashed"]:  # a dense level gives each vertex its own entry
            assert row["colliding_entries"] == 0 and row["vertices_sharing"] == 0
    assert levels[-1]["hashed"] and levels[-1]["vertices"] > levels[-1]["entries"]
    assert levels[-1]["colliding_entries"] > 0


def test_bench_render_reports_frames_per_second(display):
    report = bench_json("render", "--frames", "1", "--steps", "1", "--width", "64", "--height", "48")
    assert set(report) >= {"width", "height", "frames", "median_ms", "fps", "gl_vendor", "gl_renderer", "gl_version"}
    assert (report["width"], report["height"], report["frames"]) == (64, 48, 1)
    assert positive(report["median_ms"]) and positive(report["fps"])
    assert math.isclose(report["fps"], 1000.0 / report["median_ms"], rel_tol=1e-9)
    assert all(isinstance(report[k], str) and report[k] for k in ("gl_vendor", "gl_renderer", "gl_version"))


def test_bench_ui_reports_frame_times_and_training_rates(display):
    """Keys as of today; others may be added (bench ui grows a --task)."""
    report = bench_json("ui", "--seconds", "0.5", "--warmup", "0.5")
    assert set(report) >= {"headless_steps_per_s", "view_2d_800x600", "view_3d_moving", "window_over_headless_steps"}
    assert positive(report["headless_steps_per_s"])
    for name in ("view_2d_800x600", "view_3d_moving"):
        view = report[name]
        assert set(view) >= {"frames", "p50_ms", "p95_ms", "steps_per_s"}
        assert view["frames"] >= 1 and positive(view["p50_ms"]) and view["p95_ms"] >= view["p50_ms"]
        assert math.isfinite(view["steps_per_s"]) and view["steps_per_s"] >= 0
    assert share(report["view_2d_800x600"]["refresh_share"])
    low, high = report["view_3d_moving"]["resolution"]
    assert 0 < low < 800 and 0 < high < 600  # the reduced interactive resolution
    ratio = report["window_over_headless_steps"]
    assert math.isfinite(ratio) and ratio >= 0


def test_bench_ui_per_task_measures_the_live_view_between_two_headless_runs(display):
    report = bench_json("ui", "--task", "image", "--seconds", "1", "--warmup", "0.5")
    (result,) = report["results"]
    assert result["task"] == "image"
    before, after = result["headless_runs"]
    assert positive(before) and positive(after)
    assert math.isclose(result["headless_steps_per_s"], 0.5 * (before + after))
    assert positive(result["window_steps_per_s"]) and 0 <= result["first_picture_s"] < 60
    assert positive(result["refresh_p95_s"]) and result["frame_p95_ms"] >= result["frame_p50_ms"] > 0


def test_bench_flow_picks_the_dense_crop_with_texture_in_both_directions() -> None:
    import numpy as np

    from fieldscope.app.commands.bench.flow import structure, textured_crop

    yy, xx = np.meshgrid(np.arange(40.0), np.arange(40.0), indexing="ij")
    edge = np.repeat(np.sin((xx + yy) / 3.0)[..., None], 3, axis=2)  # one direction: the aperture problem
    blobs = np.repeat((np.sin(xx / 3.0) * np.cos(yy / 4.0))[..., None], 3, axis=2)
    assert structure(edge) < 0.01 * structure(blobs)
    candidates = [("edge", edge, 5, 5), ("blobs", blobs, 5, 5)]
    assert textured_crop(candidates, 30)[0] == "blobs"
