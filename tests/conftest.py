"""Shared test set-up: Warp's kernel cache under the checkout, small torch thread pool, assets, and
the same torch random state at the start of every test (pytest-randomly shuffles the order and
seeds `random` and NumPy's global generator per test; torch's it leaves alone)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".warp_cache"))
# OpenMP threads that spin while they wait make small torch ops 10-20x slower when other processes
# share the cores (measured here); sleeping waiters cost nothing when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The window's background kernel warm-up stays off in tests: .ci/run compiles the kernels first with
# `fieldscope warmup`, tests/fields/test_warmup.py tests the warm-up itself, and its gc.freeze() would
# keep every object alive at the first window out of the cyclic collector for the rest of the session.
os.environ.setdefault("FIELDSCOPE_WARMUP", "0")

import torch  # noqa: E402

torch.set_num_threads(2)

#: Kernel tests run on every device this machine has: the CPU always, CUDA where there is a GPU.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(autouse=True)
def seeded_torch() -> None:
    """Fields built without a seed of their own get the same parameters whatever ran before."""
    torch.manual_seed(0)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return ROOT / "assets" / "astronaut.png"
