"""`fieldscope flow` end to end on a small synthetic pair, and its one-line errors that write nothing."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.cli import main


def stripes(width, height, shift=(0.0, 0.0)):
    """A smooth RGB pattern, sampled at pixel centres moved by `shift` (B(x) = A(x + shift))."""
    yy, xx = np.meshgrid(np.arange(height) + 0.5 + shift[1], np.arange(width) + 0.5 + shift[0], indexing="ij")
    r = 0.5 + 0.4 * np.sin(xx / 5.0 + yy / 9.0)
    g = 0.5 + 0.4 * np.cos(yy / 6.0 - xx / 11.0)
    return (np.stack([r, g, 0.5 * (r + g)], -1) * 255 + 0.5).astype(np.uint8)


@pytest.fixture
def pair(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    iio.imwrite(a, stripes(48, 40))
    iio.imwrite(b, stripes(48, 40, (1.0, -2.0)))
    return a, b


SMALL = ["--levels", "6", "--log2-table-size", "12", "--base-resolution", "4", "--fit-steps", "150",
         "--flow-steps", "100", "--search-radius", "6", "--lr", "0.02"]  # fmt: skip


def test_flow_writes_the_flow_and_its_picture(pair, tmp_path, capsys):
    out = tmp_path / "flow.npy"
    argv = ["flow", str(pair[0]), str(pair[1]), "--out", str(out), "--interpolation", "lagrange", "--json"]
    code = main([*argv, *SMALL])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"mode", "seconds", "flow_mean", "warped_psnr"} and report["mode"] == "translation"
    flow = np.load(out)
    assert flow.shape == (40, 48, 2) and flow.dtype == np.float32
    assert report["flow_mean"] == pytest.approx([1.0, -2.0], abs=0.3)
    assert iio.imread(out.with_suffix(".png")).shape == (40, 48, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "spin"], "unknown flow mode 'spin'"),
        (["--out-folder"], "does not exist"),
        (["--b-size"], "pass --resize"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(pair, tmp_path, capsys, extra, message):
    a, b = pair
    out = tmp_path / "flow.npy"
    if extra == ["--out-folder"]:
        out, extra = tmp_path / "missing" / "flow.npy", []
    if extra == ["--b-size"]:
        iio.imwrite(b, stripes(50, 40))
        extra = []
    code = main(["flow", str(a), str(b), "--out", str(out), *extra, *SMALL])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("fieldscope: error: ") and message in err and err.count("\n") == 1
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_a_saved_model_of_a_is_used_and_reread_with_lagrange(pair, tmp_path, capsys):
    import torch

    from fieldscope.fields import config as configs
    from fieldscope.fields import snapshot as snapshots
    from fieldscope.fields.kinds.hashgrid import HashGridConfig
    from fieldscope.fields.training.trainer import Snapshot, TrainConfig, frozen_arrays

    torch.manual_seed(0)
    field = configs.build_field(HashGridConfig(dims=2, out_dims=3, levels=4, log2_table_size=12, base_resolution=4))
    snapshot = Snapshot(version=1, step=0, elapsed=0.0, loss=0.0, metrics={}, config=field.config,
                        level_mask=tuple(field.level_mask), params=frozen_arrays(field.state()),
                        scene={"task": "image", "size": [48, 40]}, train=TrainConfig())  # fmt: skip
    model = tmp_path / "a.fsnap"
    snapshots.save(model, snapshot)
    out = tmp_path / "flow.npy"
    argv = ["flow", str(pair[0]), str(pair[1]), "--out", str(out), "--model", str(model), "--json"]
    assert main([*argv, "--interpolation", "lagrange", "--flow-steps", "5", "--search-radius", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "translation"
    assert np.load(out).shape == (40, 48, 2)
    gray = tmp_path / "gray.png"
    iio.imwrite(gray, stripes(48, 40)[..., 0])
    assert main(["flow", str(gray), str(gray), "--out", str(tmp_path / "g.npy"), "--model", str(model)]) == 2
    assert "not a field of a 1-channel image" in capsys.readouterr().err
    assert not (tmp_path / "g.npy").exists()
