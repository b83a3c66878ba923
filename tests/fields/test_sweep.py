"""Sweeps on a local Ray of 2 workers (started once for the module, shut down after it): a sweep's
runs are `fit`'s (same parameters), the results folder parses and plots, a second run resumes with
nothing to do, a worker killed mid-run has its run retried, a bad scene is an error row."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from fieldscope.app.cli import main
from fieldscope.app.commands.bench.sweep import timeline
from fieldscope.app.state.compare import CompareSession
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training import ray_engine
from fieldscope.fields.training.budget import budget_params
from fieldscope.fields.training.run import TrainOptions
from fieldscope.fields.training.sweep import RunSpec, grid, run_serial
from fieldscope.fields.training.sweep_folder import Progress, SweepFolder, read_csv

ray = pytest.importorskip("ray")

STEPS = 12
#: The sweep's options; fit gets the same ones (the grid flags apply to the hash grid only).
TRAIN = ["--steps", str(STEPS), "--batch-size", "256", "--seed", "3"]
GRID = ["--levels", "4", "--log2-table-size", "12"]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 CPUs for the module's tests, as `fieldscope sweep --local-cpus 2` starts it."""
    assert ray_engine.connect(ray_engine.RayOptions(local_cpus=2))
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> list[str]:
    """Two tiny images (24 x 20), a smooth pattern and its mirror."""
    folder = tmp_path_factory.mktemp("scenes")
    y, x = np.mgrid[0:20, 0:24] / 24.0
    pixels = np.stack([np.sin(7 * x), np.cos(5 * y), x * y], axis=-1) * 0.5 + 0.5
    paths = []
    for name, image in (("one.png", pixels), ("two.png", pixels[:, ::-1])):
        iio.imwrite(folder / name, (image * 255).astype(np.uint8))
        paths.append(str(folder / name))
    return paths


def sweep(out: Path, scene_paths: list[str], *extra: str) -> int:
    return main(
        ["sweep", "--fields", "hashgrid,mlp", "--scenes", *scene_paths, "--out", str(out), *TRAIN, *GRID, *extra]
    )


def test_a_sweep_is_fits_reports_and_resumes(local_ray, scenes, tmp_path, capsys) -> None:
    out = tmp_path / "sweep"
    assert sweep(out, scenes) == 0
    rows = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["scene"], r["kind"]) for r in rows] == [
        ("one.png", "hashgrid"),
        ("one.png", "mlp"),
        ("two.png", "hashgrid"),
        ("two.png", "mlp"),
    ]
    assert len({r["host"] for r in rows}) == 2  # two workers ran them
    for row in rows:
        assert row["error"] == "" and row["steps"] == STEPS and row["seed"] == 3 and row["metric"] == "psnr"
        swept = snapshots.load(out / row["snapshot"])
        fitted = tmp_path / f"{row['run_id']}.fsnap"
        flags = GRID if row["kind"] == "hashgrid" else []
        argv = ["fit", row["scene_path"], "--field", row["kind"], "--out", str(fitted), "--quiet", *TRAIN, *flags]
        assert main(argv) == 0
        fit = snapshots.load(fitted)
        assert swept.config == fit.config and swept.step == fit.step == STEPS
        assert sorted(swept.params) == sorted(fit.params)
        for name, array in fit.params.items():
            np.testing.assert_allclose(swept.params[name], array, rtol=1e-5, atol=1e-6, err_msg=name)
        assert row["value"] == pytest.approx(fit.metrics["psnr"], abs=1e-3)
        assert row["params"] == snapshots.field_from(fit).param_count()

    # the files parse and plot
    table = read_csv(out / "results.csv")
    assert [r["run_id"] for r in table] == [r["run_id"] for r in rows]
    assert table[0]["value"] == rows[0]["value"] and table[0]["curve"] == rows[0]["curve"]
    assert len(rows[0]["curve"]) >= 10 and rows[0]["curve"][-1][1] > rows[0]["curve"][0][1]  # it learned
    markdown = (out / "results.md").read_text()
    assert "## one.png" in markdown and "## two.png" in markdown and markdown.count("| hashgrid |") == 2
    for name in ("curves.png", "pareto.png"):
        picture = np.asarray(Image.open(out / name).convert("RGB"))
        assert picture.shape[0] >= 2 * 400  # a plot per scene
        coloured = (picture.max(axis=-1).astype(int) - picture.min(axis=-1)) > 60
        assert coloured.sum() > 200  # lines or dots in colour, not a blank canvas

    # the same sweep again: nothing to run, nothing rewritten
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    capsys.readouterr()
    assert sweep(out, scenes) == 0
    assert "sweep of 4 runs (4 finished before)" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == stamps


def kill_first_attempt(spec: RunSpec) -> None:
    """The workers' hook: the first run to take the marker file (next to its scene) SIGKILLs its own
    worker process, after writing the process's id next to it."""
    marker = Path(spec.scene).parent / "kill-once"
    try:
        marker.unlink()
    except FileNotFoundError:
        return
    (marker.parent / "killed").write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_has_its_run_retried(local_ray, scenes, tmp_path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    paths = [str(folder / Path(path).name) for path in scenes]
    for source, copy in zip(scenes, paths, strict=True):
        Path(copy).write_bytes(Path(source).read_bytes())
    (folder / "kill-once").touch()
    specs = grid(["hashgrid", "mlp"], paths, steps=STEPS, batch_size=256)
    rows: list[dict] = []
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the hook travels to the workers by value
    ray_engine.run_on_ray(
        specs, lambda spec, outcome: rows.append(outcome[0]), ray_engine.RayOptions(), kill_first_attempt
    )
    assert sorted(r["run_id"] for r in rows) == sorted(spec.run_id for spec in specs)  # every run once
    assert all(r["error"] == "" and r["steps"] == STEPS for r in rows)
    killed = (folder / "killed").read_text()  # a worker was killed ...
    assert not (folder / "kill-once").exists()
    assert all(not r["host"].endswith(f":{killed}") for r in rows)  # ... and its run finished elsewhere


def test_a_bad_scene_is_an_error_row_and_the_others_go_on(local_ray, scenes, tmp_path, capsys) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    out = tmp_path / "sweep"
    assert sweep(out, [scenes[0], str(bad)]) == 1
    table = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["scene"], r["kind"]) for r in table] == [
        ("one.png", "hashgrid"),
        ("one.png", "mlp"),
        ("broken.png", "hashgrid"),
        ("broken.png", "mlp"),
    ]
    assert all(r["error"] == "" and r["steps"] == STEPS and r["snapshot"] for r in table[:2])
    assert all("broken.png: not a readable image" in r["error"] and r["snapshot"] == "" for r in table[2:])
    assert "2 failed" in capsys.readouterr().err
    folder = SweepFolder(out)  # resuming runs the failed runs again (their scene may be fixed by then)
    assert [spec.run_id for spec in folder.pending(folder.specs())] == [r["run_id"] for r in table[2:]]


def test_ray_missing_or_an_unreachable_cluster_is_one_line(scenes, tmp_path, capsys, monkeypatch) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    assert sweep(tmp_path / "a", scenes, "--address", f"127.0.0.1:{port}") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"fieldscope: error: cannot join the Ray cluster at 127.0.0.1:{port}")
    monkeypatch.setattr(ray_engine, "ray", None)
    with pytest.raises(FieldscopeError, match="needs Ray, which is not installed here: pip install ray"):
        ray_engine.connect(ray_engine.RayOptions())


def test_a_spec_file_sets_the_sweep_and_the_command_line_wins(scenes, tmp_path) -> None:
    """Serial (no Ray): the spec's kinds, scene, seeds and per-kind settings; --steps over its steps."""
    spec = tmp_path / "sweep.toml"
    out = tmp_path / "out"
    spec.write_text(
        f'fields = ["hashgrid"]\nscenes = ["{scenes[0]}"]\nseeds = 2\nsteps = 50\nbatch_size = 128\nout = "{out}"\n'
        '[settings]\n"hashgrid.interpolation" = "smoothstep"\nlevels = 3\n"mlp.hidden_width" = 8\n'
    )
    assert main(["sweep", str(spec), "--steps", "2", "--serial"]) == 0
    rows = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["kind"], r["seed"], r["steps"]) for r in rows] == [("hashgrid", 0, 2), ("hashgrid", 1, 2)]
    assert all(r["config"]["interpolation"] == "smoothstep" and r["config"]["levels"] == 3 for r in rows)
    spec.write_text(spec.read_text().replace("seeds = 2", "seeds = 2\ncolour = 1"))
    assert main(["sweep", str(spec), "--serial"]) == 2  # an unknown setting: one line


def test_a_comparison_on_ray_is_the_comparison_here(local_ray, scenes, tmp_path, capsys) -> None:
    """`compare --workers 2` runs the same runs on Ray (the module's local Ray) as `compare` here."""
    argv = ["compare", scenes[0], "--fields", "hashgrid,mlp", "--params", "3000", *TRAIN]
    assert main([*argv, "--workers", "2", "--report", str(tmp_path / "ray"), "--json"]) == 0
    on_ray = json.loads(capsys.readouterr().out)["runs"]
    assert main([*argv, "--report", str(tmp_path / "here"), "--json"]) == 0
    here = json.loads(capsys.readouterr().out)["runs"]
    assert len({r["host"] for r in on_ray}) == 2 and all(r["host"] == here[0]["host"] for r in here)
    for ray_row, row in zip(on_ray, here, strict=True):
        assert ray_row["run_id"] == row["run_id"] and ray_row["config"] == row["config"]
        assert ray_row["params"] == row["params"] and ray_row["steps"] == row["steps"] == STEPS
        assert ray_row["value"] == pytest.approx(row["value"], abs=1e-3)


def test_a_budgeted_run_is_the_windows_comparison(scenes) -> None:
    """With a parameter budget a run's config and trained parameters are those of the window's Compare
    panel after the same steps (its fields built by the sweep's `build`, stepped side by side)."""
    kinds, budget = ["hashgrid", "mlp"], 8000
    session = CompareSession(open_scene(scenes[0]), kinds, budget, TrainOptions(batch_size=256, seed=3))
    for _ in range(STEPS):
        session.step_round()
    outcomes: list = []
    specs = grid(kinds, [scenes[0]], [budget], [3], steps=STEPS, batch_size=256)
    run_serial(specs, lambda spec, outcome: outcomes.append(outcome))
    for (row, data), run in zip(outcomes, session.runs, strict=True):
        swept = snapshots.from_bytes(Path(row["run_id"]), data)
        assert row["params_budgeted"] == budget_params(run.trainer.field.config)
        assert swept.config == run.trainer.field.config and swept.step == run.trainer.step_count == STEPS
        for name, array in run.trainer.field.state().items():
            np.testing.assert_allclose(swept.params[name], array, rtol=1e-5, atol=1e-6, err_msg=name)


def test_progress_and_the_engines_timeline_from_rows() -> None:
    """The progress line's counts and estimate; bench sweep's split of a Ray sweep's time (made-up rows)."""
    now = [0.0]
    progress = Progress(total=6, skipped=1, slots=2, clock=lambda: now[0])
    progress.finished({"error": "", "wall": 10.0})
    progress.finished({"error": "bad scene", "wall": 2.0})
    assert progress.line() == "3/6 done (1 from before) (1 failed), 2 running, about 12 s left"
    rows = [
        {"host": "a:1", "submitted_at": 100.0, "started_at": 105.0, "ended_at": 115.0, "delivered_at": 115.5},
        {"host": "a:1", "submitted_at": 100.0, "started_at": 115.25, "ended_at": 125.0, "delivered_at": 125.5},
        {"host": "b:2", "submitted_at": 100.0, "started_at": 106.0, "ended_at": 116.0, "delivered_at": 116.5},
    ]
    assert timeline(rows) == {"first_start_seconds": 5.0, "gap_between_runs_seconds": 0.25, "gather_seconds": 0.5}
