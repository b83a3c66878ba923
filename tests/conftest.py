"""Shared test set-up: Warp's kernel cache under the checkout, small torch thread pool, assets."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".warp_cache"))

import torch  # noqa: E402

torch.set_num_threads(2)

#: Kernel tests run on every device this machine has: the CPU always, CUDA where there is a GPU.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return ROOT / "assets" / "astronaut.png"
