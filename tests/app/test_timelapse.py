"""`fieldscope fit --timelapse`: a video drawn from published snapshots every N steps, stamped, whose
frames come closer to the target as the field trains; the trained model is the same as without it;
bad options fail before training, and an interrupted fit leaves no video."""

import itertools

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.cli import main
from fieldscope.app.commands.frames_out import stamp_height
from fieldscope.fields import snapshot as snapshots

SMALL = ["--levels", "6", "--log2-table-size", "12", "--batch-size", "2048", "--quiet", "--seed", "3"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0**2
    return float(10.0 * np.log10(1.0 / mse))


def test_a_timelapse_of_an_image_fit_gets_closer_to_the_target(tmp_path, astronaut_path, capsys):
    model, video = tmp_path / "astro.fsnap", tmp_path / "fit.mp4"
    fit = ["fit", str(astronaut_path), "--steps", "60", "--out", str(model), *SMALL]
    every = ["--every", "20", "--timelapse-size", "64x64", "--timelapse-share", "1"]  # every due frame
    assert main([*fit, "--timelapse", str(video), *every]) == 0
    assert "time-lapse, 4 frames" in capsys.readouterr().err
    reader = imageio.get_reader(video)
    frames = [np.asarray(frame) for frame in reader]
    assert reader.get_meta_data()["fps"] == 10.0
    reader.close()
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3)  # steps 0, 20, 40, 60
    band = stamp_height(64)
    assert frames[0][: band - 2].mean() > 20 and frames[0][: band - 2].std() > 10  # text on a dark band
    # the target at the frames' pixel centres: (c + 0.5) * 8 falls between pixels 8c + 3 and 8c + 4
    image = iio.imread(astronaut_path).astype(np.float64)
    target = 0.25 * (image[3::8, 3::8] + image[4::8, 3::8] + image[3::8, 4::8] + image[4::8, 4::8])
    scores = [psnr(frame[band:], target[band:]) for frame in frames]
    assert all(b > a for a, b in itertools.pairwise(scores)), scores
    assert scores[-1] > scores[0] + 5.0, scores
    # drawing from snapshots leaves training alone: the same model as a fit without the time-lapse
    plain = tmp_path / "plain.fsnap"
    assert main(["fit", str(astronaut_path), "--steps", "60", "--out", str(plain), *SMALL]) == 0
    with_video, without = snapshots.load(model), snapshots.load(plain)
    for name, value in without.params.items():
        assert np.array_equal(with_video.params[name], value), name


def test_timelapse_options_fail_before_training(tmp_path, astronaut_path, capsys):
    fit = ["fit", str(astronaut_path), "--steps", "5", "--out", str(tmp_path / "m.fsnap"), *SMALL]
    cases = [
        (["--timelapse", str(tmp_path / "v.mp4"), "--every", "often"], "--every 'often'"),
        (["--timelapse", str(tmp_path / "v.mp4"), "--camera", "orbit:1,2,3"], "the scene is 2D"),
        (["--timelapse", str(tmp_path / "no" / "v.mp4")], "does not exist"),
        (["--timelapse", str(tmp_path / "v.mp4"), "--timelapse-size", "big"], "use WxH"),
        (["--timelapse", str(tmp_path / "v.mp4"), "--timelapse-share", "0"], "a share in (0, 1]"),
    ]
    for args, message in cases:
        assert main([*fit, *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("fieldscope: error: ") and message in err[-1], err
    assert list(tmp_path.iterdir()) == []


def test_frames_past_the_drawing_share_are_skipped(tmp_path, astronaut_path, capsys):
    # a share no frame fits in: the first frame (nothing drawn yet) and the last (forced) only
    fit = ["fit", str(astronaut_path), "--steps", "12", "--out", str(tmp_path / "m.fsnap"), *SMALL]
    lapse = ["--timelapse", f"{tmp_path}/frames/", "--every", "3", "--timelapse-size", "16x16"]
    assert main([*fit, *lapse, "--timelapse-share", "1e-9"]) == 0
    err = capsys.readouterr().err
    assert "time-lapse, 2 frames" in err and "3 due frames skipped" in err, err
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["frame_00000.png", "frame_00001.png"]


def test_an_interrupted_fit_leaves_no_timelapse(tmp_path, astronaut_path, monkeypatch):
    from fieldscope.fields.training.trainer import Trainer

    real = Trainer.step

    def step(self):
        if self.step_count == 7:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(Trainer, "step", step)
    fit = ["fit", str(astronaut_path), "--steps", "20", "--out", str(tmp_path / "m.fsnap"), *SMALL]
    assert main([*fit, "--timelapse", f"{tmp_path}/frames/", "--every", "2", "--timelapse-size", "16x16"]) == 130
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("every", ["3s", "0.5s"])
def test_every_seconds_parses(every):
    from fieldscope.app.commands.timelapse import Every

    assert Every.parse(every).seconds == float(every[:-1])
