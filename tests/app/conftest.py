"""GUI test set-up: a private Xvfb display (Mesa llvmpipe OpenGL) for the whole session, the one
OpenGL context every test shares (created before any DearPyGui viewport, as the app does), and
small fields with known answers (a fitted 2D image field, a fitted 3D sphere SDF)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from fields import config as configs
from fields.hashgrid import HashGridConfig
from fields.scenes.base import Batch
from fields.train import TrainConfig, Trainer


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display number (it tells us which through -displayfd)."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is missing: install the xvfb package (bash .ci/run does)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    return process, f":{number}"


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    process, name = start_xvfb()
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = name
    yield name
    if previous is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = previous
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def gl_context(display: str) -> Any:
    from app.render.context import create_context

    return create_context()


@pytest.fixture(scope="session")
def renderer(gl_context: Any) -> Any:
    from app.render import Renderer

    return Renderer(gl_context)


class SphereSDF:
    """A 3D test scene: the signed distance to a sphere (center c, radius r) in the unit cube."""

    task = "sdf"
    dims = 3
    out_dims = 1
    name = "sphere"

    def __init__(self, center: tuple[float, float, float] = (0.5, 0.5, 0.5), radius: float = 0.3) -> None:
        self.center, self.radius = torch.tensor(center), radius

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.norm(x - self.center, dim=-1, keepdim=True) - self.radius

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        x = torch.rand(n, 3, generator=generator)
        return Batch(x, self.distance(x))

    def loss(self, field: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        return torch.mean((field(batch.coords) - batch.targets) ** 2), {}

    def evaluate(self, field: Any) -> dict[str, float]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "size": [64, 64, 64], "extent": 64}


@pytest.fixture(scope="session")
def sphere_snapshot() -> Any:
    """A small 3D hash grid fitted to SphereSDF (radius 0.3 around the cube's center)."""
    torch.manual_seed(0)
    config = HashGridConfig(
        dims=3, out_dims=1, levels=6, features=2, log2_table_size=14, base_resolution=4, growth=1.5, hidden_width=32
    )
    trainer = Trainer(configs.build_field(config), SphereSDF(), TrainConfig(batch_size=4096, seed=0))
    for _ in range(120):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()


@pytest.fixture(scope="session")
def image_snapshot(astronaut_path: Path) -> Any:
    """A small 2D hash grid fitted briefly to the astronaut (hashed and dense levels)."""
    from fields.scenes import open_scene

    torch.manual_seed(0)
    scene = open_scene(astronaut_path)
    config = HashGridConfig(dims=2, out_dims=3, levels=8, log2_table_size=12, base_resolution=8, growth=1.6)
    trainer = Trainer(configs.build_field(config), scene, TrainConfig(batch_size=8192, seed=0))
    for _ in range(40):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()
