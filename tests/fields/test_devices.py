"""--device parsing: auto falls back to the CPU, bad or missing devices are one-line errors, and a
model trained on CUDA opens on the CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fieldscope.fields import devices
from fieldscope.fields.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        ("auto", 0, "cpu"),
        ("auto", 2, "cuda:0"),
        ("cpu", 2, "cpu"),
        ("CPU", 0, "cpu"),
        ("cuda", 1, "cuda:0"),
        ("cuda:1", 2, "cuda:1"),
    ],
)
def test_device_names_resolve(text: str, count: int, expected: str) -> None:
    assert devices.resolve(text, count=count) == expected


@pytest.mark.parametrize(("text", "count"), [("cuda", 0), ("cuda:7", 1), ("gpu", 1), ("cuda:x", 1), ("", 0)])
def test_a_device_that_is_not_here_names_the_devices_there_are(text: str, count: int) -> None:
    with pytest.raises(ConfigError) as error:
        devices.resolve(text, count=count)
    message = str(error.value)
    assert "cpu" in message and "\n" not in message
    assert count == 0 or f"cuda:{count - 1}" in message


def test_auto_is_the_cpu_on_a_machine_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: auto picks it (checked by test_device_names_resolve)")
    assert devices.resolve("auto") == "cpu"
    assert devices.cuda_count() == 0


def test_fit_on_a_missing_device_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    image = tmp_path / "tiny.png"
    import imageio.v3 as iio

    iio.imwrite(image, np.zeros((8, 8, 3), np.uint8))
    missing = f"cuda:{devices.cuda_count()}"
    result = subprocess.run(
        [sys.executable, "-m", "fieldscope.app.cli", "fit", str(image), "--out", str(tmp_path / "m.fsnap"),
         "--device", missing, "--steps", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0] and "cpu" in lines[0], result.stderr
    assert not (tmp_path / "m.fsnap").exists()


def test_a_model_trained_on_cuda_opens_on_the_cpu(tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: a CUDA-trained snapshot cannot be made here")
    from fieldscope.fields import snapshot as snapshots
    from fieldscope.fields.scenes.sphere import SphereScene
    from fieldscope.fields.training.run import build_run

    trainer = build_run(SphereScene(device="cuda"), device="cuda")
    trainer.step()
    trainer.publish("stopped")
    path = tmp_path / "cuda.fsnap"
    snapshots.save(path, trainer.latest())
    field = snapshots.field_from(snapshots.load(path))
    x = torch.rand(64, 3)
    assert next(field.parameters()).device.type == "cpu"
    expected = trainer.field(x.cuda()).detach().cpu()
    assert torch.allclose(field(x), expected, atol=1e-5)
