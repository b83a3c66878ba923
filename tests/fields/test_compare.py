"""The comparison lab, headless (fields/training/compare.py, `fieldscope compare`): step-interleaved runs give
every field the same number of steps, the report has its documented shape, bad input is one line."""

from __future__ import annotations

import json

import pytest

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training import compare as compare_module
from fieldscope.fields.training.budget import TOLERANCE
from fieldscope.fields.training.compare import compare, parse_kinds
from fieldscope.fields.training.run import TrainOptions

KINDS = ["hashgrid", "fourier", "mlp"]
#: Curve and final PSNR on a few fixed pixels (the whole image takes seconds per field here).
PIXELS = (1024, 4096)


@pytest.fixture(scope="module")
def astronaut(astronaut_path):
    return open_scene(astronaut_path)


def test_equal_steps_when_stopped_by_steps(astronaut) -> None:
    report, runs = compare(astronaut, KINDS, 20_000, steps=6, train=TrainOptions(batch_size=1024), pixels=PIXELS)
    assert [row["steps"] for row in report["results"]] == [6, 6, 6]
    assert report["scene"] == "astronaut.png" and report["params_target"] == 20_000
    for row, kind in zip(report["results"], KINDS, strict=True):
        assert row["field"] == kind
        assert abs(row["params"] - 20_000) <= TOLERANCE * 20_000
        assert row["params"] == runs[KINDS.index(kind)].trainer.field.param_count()
        assert 0 < row["psnr"] < 60 and row["measured_on"] == "a fixed sample of 4,096 pixels"
        times = [t for t, _ in row["curve"]]
        assert (
            len(row["curve"]) >= 3 and times == sorted(times) and times[-1] == pytest.approx(row["seconds"], abs=1e-4)
        )
    json.dumps(report)  # plain JSON


def test_equal_steps_when_stopped_by_the_time_budget(astronaut, monkeypatch) -> None:
    """Steps of known cost on a clock the test drives (1/64, 1/32 and 3/64 s: exact in binary)."""
    now = [0.0]
    real_build_runs = compare_module.build_runs

    def build_runs(*args, **kwargs):
        runs = real_build_runs(*args, **kwargs)
        for cost, run in zip((1 / 64, 1 / 32, 3 / 64), runs, strict=True):
            run.trainer.clock = lambda: now[0]
            run.trainer.strategy.step = timed_step(run.trainer.strategy.step, cost, now)
        return runs

    monkeypatch.setattr(compare_module, "build_runs", build_runs)
    report, runs = compare(
        astronaut, KINDS, 20_000, time_budget=0.5, train=TrainOptions(batch_size=1024), pixels=PIXELS
    )
    # 0.5 s per field on average: 1.5 s of the three fields' seconds, 6/64 s a round
    assert [row["steps"] for row in report["results"]] == [16, 16, 16]
    assert [run.trainer.elapsed for run in runs] == [16 / 64, 16 / 32, 16 * 3 / 64]
    assert [row["seconds"] for row in report["results"]] == [0.25, 0.5, 0.75]


def timed_step(step, cost: float, now: list[float]):
    """`step`, taking `cost` seconds on the clock `now[0]`."""

    def timed():
        result = step()
        now[0] += cost
        return result

    return timed


def test_training_improves_every_field(astronaut) -> None:
    report, _ = compare(
        astronaut, ["hashgrid", "mlp"], 20_000, steps=30, train=TrainOptions(batch_size=2048), pixels=PIXELS
    )
    for row in report["results"]:
        assert row["curve"][-1][1] > row["curve"][0][1] + 0.5, row["field"]


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


def test_compare_needs_a_stop(astronaut) -> None:
    with pytest.raises(ConfigError, match="--steps or --time-budget"):
        compare(astronaut, ["mlp"], 20_000)


def test_command_line_json_and_report(tmp_path, astronaut_path, capsys) -> None:
    from fieldscope.app.cli import main

    out = tmp_path / "report"
    argv = ["compare", str(astronaut_path), "--fields", "hashgrid,mlp", "--params", "20000", "--steps", "2"]
    assert main([*argv, "--batch-size", "1024", "--json", "--report", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["field"] for row in report["results"]] == ["hashgrid", "mlp"]
    assert {"params", "steps", "seconds", "psnr", "curve"} <= set(report["results"][0])
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "pictures.png", "results.json", "results.md"]
    assert "| hashgrid |" in (out / "results.md").read_text()
    from PIL import Image

    with Image.open(out / "pictures.png") as pictures:
        assert pictures.width > 2 * 256  # two pictures side by side


@pytest.mark.parametrize(
    "args, words",
    [
        (["--fields", "hashgrid,nope"], "unknown field kind 'nope'"),
        (["--fields", "gaussian_buckets", "--params", "3000"], "no gaussian_buckets config has 3,000 parameters"),
    ],
)
def test_command_line_bad_input_is_one_line(capsys, astronaut_path, args, words) -> None:
    from fieldscope.app.cli import main

    code = main(["compare", str(astronaut_path), "--steps", "1", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("fieldscope: error: ") and words in err[-1]
