"""`fieldscope compare` is a sweep of one scene (app/commands/compare.py): its rows are `fieldscope sweep`'s
of the same options (same runs, parameters and metric), its --report folder is the sweep's results
folder with compare's pictures, --time-budget gives each run its own training seconds, one run after
the other; the kinds a comparison names are checked (fields/training/compare.py), bad input is one line."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fieldscope.app.cli import main
from fieldscope.app.commands.sweep_report import markdown
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.training import sweep as sweep_module
from fieldscope.fields.training.budget import TOLERANCE
from fieldscope.fields.training.compare import parse_kinds

#: The comparison's options, the same for `compare` and `sweep` (a budget, a seed, fixed steps).
OPTIONS = ["--fields", "hashgrid,mlp", "--params", "8000", "--steps", "6", "--batch-size", "256", "--seed", "3"]
#: What differs between two runs of the same spec: when and where they ran, how long they took.
TIMING = ("seconds", "wall", "host", "started_at", "ended_at", "curve", "value", "metrics")


def rows_of(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "results.json").read_text())["runs"]


def without(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def test_a_comparison_is_a_sweep_of_one_scene(astronaut_path: Path, tmp_path: Path, capsys) -> None:
    compared_dir, swept_dir = tmp_path / "compare", tmp_path / "sweep"
    assert main(["compare", str(astronaut_path), *OPTIONS, "--report", str(compared_dir)]) == 0
    table = capsys.readouterr().out
    assert main(["sweep", "--serial", "--scenes", str(astronaut_path), *OPTIONS, "--out", str(swept_dir)]) == 0
    compared, swept = rows_of(compared_dir), rows_of(swept_dir)
    assert [(r["kind"], r["scene"], r["steps"], r["seed"]) for r in compared] == [
        ("hashgrid", "astronaut.png", 6, 3),
        ("mlp", "astronaut.png", 6, 3),
    ]
    for ours, theirs in zip(compared, swept, strict=True):
        assert {k: v for k, v in ours.items() if k not in TIMING} == {
            k: v for k, v in theirs.items() if k not in TIMING
        }
        assert ours["error"] == "" and ours["metric"] == "psnr" and ours["curve_metric"] == "psnr"
        assert abs(ours["params_budgeted"] - 8000) <= TOLERANCE * 8000
        # the same metric (thread counts differ: float sums may differ in the last bits)
        assert ours["value"] == pytest.approx(theirs["value"], abs=1e-3) and 0 < ours["value"] < 60
        assert [v for _, v in ours["curve"]] == pytest.approx([v for _, v in theirs["curve"]], abs=1e-3)
        assert len(ours["curve"]) >= 3 and ours["curve"][-1][0] == pytest.approx(ours["seconds"], abs=1e-4)
        mine, fitted = snapshots.load(compared_dir / ours["snapshot"]), snapshots.load(swept_dir / theirs["snapshot"])
        assert mine.config == fitted.config and mine.step == fitted.step == 6
        for name, array in fitted.params.items():
            np.testing.assert_allclose(mine.params[name], array, rtol=1e-4, atol=1e-5, err_msg=name)

    # the sweep's results folder, and compare's pictures
    names = {p.name for p in compared_dir.iterdir()}
    assert names == {p.name for p in swept_dir.iterdir()} | {"pictures.png"}
    assert {"sweep.json", "runs", "snapshots", "results.csv", "curves.png", "pareto.png"} <= names
    with Image.open(compared_dir / "pictures.png") as pictures:
        assert pictures.width > 2 * 256  # two pictures side by side
    markdown = (compared_dir / "results.md").read_text()
    assert markdown.strip() == table.strip()
    assert markdown.startswith("Budget 8,000 parameters per field; each field 6 steps, one run per field")
    assert "| hashgrid | 8,000 |" in markdown and "| mlp | 8,000 |" in markdown

    # the same comparison again: nothing to run (as a sweep resumes)
    stamps = {p.name: p.stat().st_mtime_ns for p in (compared_dir / "runs").iterdir()}
    capsys.readouterr()
    assert main(["compare", str(astronaut_path), *OPTIONS, "--report", str(compared_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert "sweep of 2 runs (2 finished before)" in captured.err
    assert json.loads(captured.out) == {"runs": rows_of(compared_dir)}
    assert {p.name: p.stat().st_mtime_ns for p in (compared_dir / "runs").iterdir()} == stamps


def test_a_time_budget_gives_each_run_its_seconds(astronaut_path: Path, monkeypatch, capsys) -> None:
    """Steps of known cost on a clock the test drives (1/64, 1/32 and 3/64 s: exact in binary)."""
    now = [0.0]
    costs = {"hashgrid": 1 / 64, "fourier": 1 / 32, "mlp": 3 / 64}
    real_build = sweep_module.build

    def build(spec, scene):
        trainer = real_build(spec, scene)
        trainer.clock = lambda: now[0]
        trainer.strategy.step = timed_step(trainer.strategy.step, costs[spec.kind], now)
        return trainer

    monkeypatch.setattr(sweep_module, "build", build)
    argv = ["compare", str(astronaut_path), "--fields", "hashgrid,fourier,mlp", "--params", "20000"]
    assert main([*argv, "--time-budget", "0.5", "--batch-size", "1024", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    # each run trains until its own 0.5 s are spent: 32 steps of 1/64 s, 16 of 1/32 s, 11 of 3/64 s
    assert [row["steps"] for row in rows] == [32, 16, 11]
    assert [row["seconds"] for row in rows] == [0.5, 0.5, 33 / 64]
    assert all(row["time_budget"] == 0.5 and row["steps_planned"] is None for row in rows)
    for first, second in itertools.pairwise(rows):  # one after the other, not interleaved
        assert first["ended_at"] <= second["started_at"]


def timed_step(step, cost: float, now: list[float]):
    """`step`, taking `cost` seconds on the clock `now[0]`."""

    def timed():
        result = step()
        now[0] += cost
        return result

    return timed


@pytest.mark.parametrize(
    "text, most, words",
    [
        ("hashgrid,nonsense", None, "unknown field kind 'nonsense'"),
        ("hashgrid,fourier,mlp,gaussian_buckets,laplacian_blocks", 4, "5 fields"),
        ("mlp,mlp", None, "mlp is named twice"),
        ("", None, "at least one"),
    ],
)
def test_bad_kind_lists_name_the_problem(text: str, most, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_kinds(text, most)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--fields", "hashgrid,nope"], "unknown field kind 'nope'"),
        (["--fields", "gaussian_buckets", "--params", "3000"], "no gaussian_buckets config has 3,000 parameters"),
    ],
)
def test_command_line_bad_input_is_one_line(capsys, astronaut_path, args, words) -> None:
    code = main(["compare", str(astronaut_path), "--steps", "1", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("fieldscope: error: ") and words in err[-1]


def test_the_table_gives_a_growing_fields_budgeted_count() -> None:
    """Laplacian blocks grow while they train: the table shows their parameters now and as budgeted."""
    row = {"kind": "laplacian_blocks", "scene": "a.png", "params_target": 300_000, "seed": 0, "steps": 30}
    row |= {"seconds": 0.2, "metric": "psnr", "value": 15.67, "host": "vm:1", "error": ""}
    grown = {**row, "kind": "hashgrid", "params": 287_617, "params_budgeted": 287_617}
    table = markdown([{**row, "params": 3_508, "params_budgeted": 298_180}, grown])
    assert "| laplacian_blocks | 300,000 | 3,508 (budgeted 298,180) | 0 | 30 | 0.2 | 15.67 | vm:1 |  |" in table
    assert "| hashgrid | 300,000 | 287,617 | 0 |" in table
