"""`fieldscope bench flow --protocol paper` at tiny sizes: its JSON shape, the images it takes (the
bundled one, a folder's, each file once, none too small), the table beside the paper's Table 2."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np

from fieldscope.app.cli import main
from fieldscope.app.commands.bench import flow_paper
from fieldscope.app.options import DEFAULT_IMAGE
from fieldscope.fields.analysis.flow_paper import ESTIMATES, PAPER_EPE
from fieldscope.fields.pixels import write_image


def test_bench_flow_paper_json_has_every_k_and_estimate_beside_the_paper(tmp_path, capsys):
    rng = np.random.default_rng(0)
    write_image(tmp_path / "noise.png", rng.random((210, 230, 3)).astype(np.float32))
    write_image(tmp_path / "small.png", rng.random((120, 300, 3)).astype(np.float32))  # under 2 x (50 + 50)
    shutil.copy(DEFAULT_IMAGE, tmp_path / "same_as_bundled.png")
    args = ["--images", str(tmp_path), "--count", "3", "--fit-steps", "2", "--batch-size", "256",
            "--flow-steps", "2", "--points", "8", "--max-side", "256"]  # fmt: skip
    assert main(["bench", "flow", "--protocol", "paper", *args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    results = report["results"]
    assert [(r["k"], r["estimate"]) for r in results] == [(k, e) for k in (1, 2) for e in ESTIMATES]
    for row in results:
        assert math.isfinite(row["epe"]) and row["epe"] >= 0 and row["count"] == 3
    assert {(r["k"], r["estimate"]): r["epe"] for r in report["paper"]["results"]} == {
        (k, e): PAPER_EPE[k][e] for k in (1, 2) for e in ESTIMATES
    }
    names = [image["name"] for image in report["images"]]
    assert names == [DEFAULT_IMAGE.name, "noise.png"]  # the copy of the bundled image once, small.png left out
    assert report["images"][0]["width"] == 256 and report["images"][1]["width"] == 230
    assert [(f["image"], f["k"]) for f in report["fits"]] == [(n, k) for n in names for k in (1, 2)]
    assert all(math.isfinite(f["psnr"]) for f in report["fits"])
    by_image = {(r["image"], r["k"], r["estimate"]): r for r in report["by_image"]}
    assert set(by_image) == {(n, k, e) for n in names for k in (1, 2) for e in ESTIMATES}
    assert by_image[(DEFAULT_IMAGE.name, 1, "image")]["count"] == 2  # pairs 0 and 2 (the images in turn)
    pairs = report["pairs"]
    assert len(pairs) == 3 * 2 * 3 and {p["image"] for p in pairs} == set(names)
    for pair in pairs:
        assert math.hypot(*pair["shift"]) <= 50.0
    mean = next(r for r in results if r["k"] == 2 and r["estimate"] == "patch")["epe"]
    assert math.isclose(mean, np.mean([p["epe"] for p in pairs if p["k"] == 2 and p["estimate"] == "patch"]))
    assert "3 pairs over 2 images" in report["scaling"]
    text = flow_paper.table(report)
    assert "4.2565" in text and "2.9412" in text and "36.4531" in text
    assert f"{mean:11.4f}" in text.splitlines()[4]  # the k = 2 row
