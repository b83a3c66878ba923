"""The command line end to end: fit, render, bench, and one-line errors that write nothing."""

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.cli import main
from fieldscope.fields import snapshot as snapshots

SMALL = ["--levels", "8", "--log2-table-size", "14", "--batch-size", "4096", "--quiet"]


def cli_json(*args: str) -> dict:
    """Run `python -m app.cli ARGS` in a fresh process and parse what it prints as JSON."""
    result = subprocess.run(
        [sys.executable, "-m", "fieldscope.app.cli", *args], capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(result.stdout)


def test_fit_then_render_at_any_size(tmp_path, astronaut_path, capsys):
    model = tmp_path / "astro.fsnap"
    assert main(["fit", str(astronaut_path), "--steps", "40", "--out", str(model), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "final PSNR" in out and "parameters" in out
    snapshot = snapshots.load(model)
    assert snapshot.step == 40 and snapshot.config.levels == 8 and snapshot.config.log2_table_size == 14
    assert snapshot.psnr > 20.0
    assert snapshot.scene["size"] == [512, 512]

    png = tmp_path / "big.png"
    assert main(["render", str(model), "--out", str(png), "--width", "700"]) == 0
    image = iio.imread(png)
    assert image.shape == (700, 700, 3) and image.dtype == np.uint8
    reference = iio.imread(astronaut_path).astype(np.float64)
    native = tmp_path / "native.png"
    assert main(["render", str(model), "--out", str(native)]) == 0
    mse = np.mean((iio.imread(native).astype(np.float64) - reference) ** 2) / 255.0**2
    assert 10 * np.log10(1 / mse) > 20.0


def test_time_budget_stops_the_fit(tmp_path, astronaut_path):
    """With a budget and no step count the fit ends, having trained (how closely the budget is kept
    is a timing: bench fit's seconds against its --time-budget)."""
    model = tmp_path / "m.fsnap"
    assert main(["fit", str(astronaut_path), "--time-budget", "0.5", "--out", str(model), *SMALL]) == 0
    snapshot = snapshots.load(model)
    assert snapshot.step >= 1 and snapshot.elapsed > 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{tmp}/missing.png"], "missing.png: no such file"),
        (["fit", "{tmp}/empty.png"], "empty.png: the file is empty"),
        (["fit", "{tmp}/text.png"], "text.png: not a readable image"),
        (["fit", "{tmp}/cut.png"], "cut.png"),
        (["fit", "{astro}", "--memory-budget", "0.0001"], "over the memory budget"),
        (["fit", "{astro}", "--log2-table-size", "9"], "table size must be 2^k"),
        (["fit", "{astro}", "--levels", "0"], "levels (L) must be between 1 and 32"),
        (["fit", "{astro}", "--field", "nonsense"], "unknown field kind"),
        (["fit", "{astro}", "--option", "colour=3"], "no setting(s) colour"),
    ],
)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, astronaut_path, capsys, args, message):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    data = astronaut_path.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 3])
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(tmp=tmp_path, astro=astronaut_path) for a in args]
    code = main([*argv, "--out", str(tmp_path / "out.fsnap"), "--steps", "2", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("fieldscope: error: ") and message in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_render_of_a_damaged_snapshot_fails_cleanly(tmp_path, capsys):
    bad = tmp_path / "bad.fsnap"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    assert main(["render", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "bad.fsnap" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_bench_encoding_json_has_the_documented_shape():
    report = cli_json("bench", "encoding", "--json", "--points", "4096", "--repeats", "1", "--field", "hashgrid")
    assert report["config"]["points"] == 4096 and report["config"]["levels"] == 16
    rows = {(r["dims"], r["impl"]) for r in report["results"]}
    assert rows == {(2, "warp"), (2, "torch"), (3, "warp"), (3, "torch")}
    for r in report["results"]:
        assert r["forward_points_per_s"] > 0 and r["forward_backward_points_per_s"] > 0


def test_bench_fit_json_reports_both_implementations():
    rows = cli_json(
        "bench",
        "fit",
        "--json",
        "--time-budget",
        "2",
        "--levels",
        "8",
        "--log2-table-size",
        "14",
        "--batch-size",
        "4096",
    )["results"]
    assert [r["impl"] for r in rows] == ["warp", "torch"]
    for r in rows:
        assert set(r) >= {"impl", "field", "params", "seconds_to_30db", "seconds_to_35db", "final_psnr"}
        assert r["params"] == rows[0]["params"]


def test_fit_and_render_the_gaussian_bucket_field(tmp_path, astronaut_path):
    model = tmp_path / "g.fsnap"
    args = ["fit", str(astronaut_path), "--field", "gaussian_buckets", "--steps", "30", "--out", str(model), *SMALL]
    assert main([*args, "--option", "points_per_bucket=2"]) == 0
    snapshot = snapshots.load(model)
    assert snapshot.config.kind == "gaussian_buckets" and snapshot.config.points_per_bucket == 2
    assert snapshot.psnr > 15.0
    png = tmp_path / "g.png"
    assert main(["render", str(model), "--out", str(png), "--width", "64"]) == 0
    assert iio.imread(png).shape == (64, 64, 3)


@pytest.mark.parametrize(
    ("option", "message"),
    [("points_per_bucket=0", "points per bucket"), ("lagrangian_levels=9", "Lagrangian levels"),
     ("sigma_end=80", "must not grow")],
)  # fmt: skip
def test_bad_gaussian_bucket_settings_write_nothing(tmp_path, astronaut_path, capsys, option, message):
    out = tmp_path / "x.fsnap"
    code = main(["fit", str(astronaut_path), "--field", "gaussian_buckets", "--option", option, "--out", str(out),
                 *SMALL])  # fmt: skip
    assert code == 2 and message in capsys.readouterr().err and not out.exists()


def test_bench_budget_paper_regime_pairs_the_papers_table_sizes_and_plots(tmp_path):
    image = tmp_path / "small.png"
    iio.imwrite(image, (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8))
    plot = tmp_path / "pareto.png"
    args = ["--regime", "paper", "--image", str(image), "--steps", "3", "--seconds", "0.2", "--pareto", "12"]
    rows = cli_json("bench", "budget", "--json", *args, "--batch-size", "512", "--plot", str(plot))["results"]
    pairs = {(r["field"], r["log2_table_size"], r["budget"]) for r in rows}
    assert pairs == {
        *((f, k, b) for f, k in (("hashgrid", 19), ("gaussian_buckets", 17), ("gaussian_buckets", 18))
          for b in ("steps", "seconds")),
        ("hashgrid", 12, "steps"), ("gaussian_buckets", 12, "steps"),
    }  # fmt: skip
    for r in rows:
        assert r["max_resolution"] == 32 and r["image"] == "small.png"  # N_max = W/2
        if r["field"] == "hashgrid":
            assert r["params_without_means"] == r["params"]
            continue
        assert r["params_without_means"] < r["params"] and len(r["points"]) == 2  # K=4, L~=2
        if r["budget"] == "steps":
            assert r["steps"] == 3 and r["sigma_cells_at_end"] == pytest.approx(5.0)  # the schedule ran its course
    picture = iio.imread(plot)
    assert picture.shape == (480, 720, 3)
    for colour in ((31, 119, 180), (214, 39, 40)):  # a series of each kind is drawn
        assert (picture == colour).all(axis=-1).sum() > 50
    command = [sys.executable, "-m", "fieldscope.app.cli", "bench", "budget", "--regime", "paper"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "--regime paper needs --image" in result.stderr


def test_bench_budget_json_lists_params_and_psnr_per_field():
    rows = cli_json("bench", "budget", "--json", "--steps", "3", "--log2-table-sizes", "10,11", "--batch-size", "1024")[
        "results"
    ]
    assert {(r["field"], r["log2_table_size"]) for r in rows} == {
        (f, k) for f in ("hashgrid", "gaussian_buckets") for k in (10, 11)
    }
    for r in rows:
        assert r["image"] == "astronaut.png" and r["steps"] == 3 and r["params"] > 0 and r["psnr"] > 0


MINER = ["--field", "laplacian_blocks", "--scales", "3", "--option", "learning_rate=3e-3", "--quiet"]


def test_fit_and_render_a_laplacian_blocks_field(tmp_path, astronaut_path, capsys):
    model = tmp_path / "miner.fsnap"
    assert main(["fit", str(astronaut_path), "--steps", "60", "--out", str(model), *MINER]) == 0
    assert "final PSNR" in capsys.readouterr().out
    snapshot = snapshots.load(model, kind="laplacian_blocks")
    assert snapshot.config.scales == 3 and snapshot.config.size == (512, 512)
    assert snapshot.step == 60 and snapshot.psnr > 15.0
    assert snapshot.params["weights"].shape[0] > 0 and "status" in snapshot.params
    png = tmp_path / "miner.png"
    assert main(["render", str(model), "--out", str(png), "--width", "300"]) == 0
    image = iio.imread(png)
    assert image.shape == (300, 300, 3)
    reference = iio.imread(astronaut_path)[::2, ::2].astype(np.float64)
    small = tmp_path / "half.png"
    assert main(["render", str(model), "--out", str(small), "--width", "256"]) == 0
    mse = np.mean((iio.imread(small).astype(np.float64) - reference) ** 2) / 255.0**2
    assert 10 * np.log10(1 / mse) > 15.0


def test_laplacian_blocks_bad_settings_are_one_line_errors(tmp_path, astronaut_path, capsys):
    argv = ["fit", str(astronaut_path), "--out", str(tmp_path / "m.fsnap"), "--field", "laplacian_blocks", "--quiet"]
    assert main([*argv, "--scales", "12"]) == 2
    assert "12 scales is too many for a 512x512 signal" in capsys.readouterr().err
    assert main([*argv, "--block-size", "1"]) == 2
    assert "block size must be between 2 and 256" in capsys.readouterr().err
    assert not (tmp_path / "m.fsnap").exists()


def test_a_big_test_image_streams_through_fit_and_a_big_render_streams_out(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FIELDSCOPE_CACHE", str(tmp_path / "cache"))
    big = tmp_path / "big.tif"
    assert main(["make-test-image", "--megapixels", "2", str(big)]) == 0
    assert "test image" in capsys.readouterr().out
    assert iio.improps(big).shape[:2] == (1225, 1633)
    model = tmp_path / "big.fsnap"
    argv = ["fit", str(big), "--steps", "20", "--out", str(model), "--memory-budget", "0.03", *SMALL]
    assert main(argv) == 0
    assert "converting" in capsys.readouterr().err
    snapshot = snapshots.load(model)
    assert snapshot.scene["streamed"] and snapshot.scene["size"] == [1633, 1225]
    png = tmp_path / "wide.png"
    monkeypatch.setattr("fieldscope.app.commands.render.WHOLE_RENDER_PIXELS", 1000)
    assert main(["render", str(model), "--out", str(png), "--width", "900"]) == 0
    assert iio.imread(png).shape == (675, 900, 3)
    assert main(["render", str(model), "--out", str(tmp_path / "wide.jpg"), "--width", "900"]) == 2
    assert "written in parts only as PNG" in capsys.readouterr().err
    assert main(["make-test-image", "--megapixels", "1", str(tmp_path / "x.png")]) == 2


def test_bench_fit_compares_kinds_in_one_process():
    rows = cli_json(
        "bench",
        "fit",
        "--json",
        "--field",
        "laplacian_blocks,hashgrid",
        "--impl",
        "warp",
        "--match-params",
        "--targets",
        "20,30",
        "--time-budget",
        "3",
        "--levels",
        "8",
        "--option",
        "laplacian_blocks.scales=3",
    )["results"]
    assert [r["field"] for r in rows] == ["laplacian_blocks", "hashgrid"]
    miner, grid = rows
    assert miner["config"]["scales"] == 3 and grid["config"]["levels"] == 8
    assert [s["scale"] for s in miner["scales"]] == [2, 1, 0]
    assert sum(s["params"] for s in miner["scales"]) == miner["params"]
    assert 0.25 < grid["params"] / miner["params"] < 4.0
