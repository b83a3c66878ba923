"""`fieldscope bench points`: its per-level report on a tiny grid of the bundled image, a few steps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fieldscope.app.cli import main

TINY = ["--levels", "4", "--log2-table-size", "12", "--batch-size", "2048", "--steps", "4", "--checkpoints", "2"]


def bench_points(capsys: Any, *args: str) -> dict[str, Any]:
    assert main(["bench", "points", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_points_reports_every_lagrangian_level(astronaut_path, capsys):
    report = bench_points(
        capsys, str(astronaut_path), *TINY, "--against-hashgrid", "--option", "gaussian_buckets.init=uniform"
    )
    assert report["steps"] == 4 and report["size"] == [512, 512] and report["psnr"] > 5
    assert [row["level"] for row in report["levels"]] == [2, 3]
    for row in report["levels"]:
        assert row["points"] == 4096 * 4 and row["hashed"]
        for key in ("moved_one_cell", "never_moved", "pulled", "serving", "on_detail", "on_detail_at_start"):
            assert 0.0 <= row[key] <= 1.0, key
        assert 0.0 <= row["moved_median_cells"] <= row["moved_p90_cells"]
        assert row["on_detail_at_start"] == pytest.approx(0.10, abs=0.02)  # uniform points: the detail's share
        assert row["never_moved"] < 1.0 and row["pulled"] > 0
    assert [mark["step"] for mark in report["feature_scale"]] == [0, 2, 4]
    assert all(lv["values_rms"] > 0 and lv["output_rms"] > 0 for lv in report["feature_scale"][0]["levels"])
    grid = report["hashgrid"]
    assert grid["steps"] == 4 and grid["step_time_ratio"] > 0 and grid["psnr"] > 5


def test_bench_points_sees_vertex_initialised_points_serve_their_buckets(astronaut_path, capsys):
    one_step = [*TINY[:-4], "--steps", "1", "--checkpoints", "1"]  # one Adam step: <= lr N per axis
    report = bench_points(
        capsys, str(astronaut_path), *one_step, "--option", "init=vertex", "--option", "guidance=none"
    )
    for row in report["levels"]:
        assert row["serving"] > 0.9 and row["moved_p90_cells"] <= 512 * 1e-4 * 2**0.5 + 1e-3
        assert row["pulled"] == 0.0  # no guidance: no guidance gradient
