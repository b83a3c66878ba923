"""Where a run trains: `--device auto|cpu|cuda|cuda:N`. `auto` is the first CUDA device when both
Warp and torch see one, else the CPU."""

from __future__ import annotations

import os
import re

import torch

from fieldscope.fields.errors import ConfigError

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def cuda_count() -> int:
    """CUDA devices usable here: seen by Warp (the kernels) and by torch (the tensors)."""
    if not torch.cuda.is_available():
        return 0
    import warp as wp  # lazy: Warp takes seconds to load, and only a machine with CUDA needs it here

    wp.init()
    return min(wp.get_cuda_device_count(), torch.cuda.device_count())


def resolve(text: str = "auto", count: int | None = None) -> str:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> 'cpu' or 'cuda:N'; ConfigError naming the devices
    there are for one that is not here. `count`: CUDA devices (default: ask Warp and torch)."""
    name = text.strip().lower()
    count = cuda_count() if count is None else count
    here = ["cpu", *(f"cuda:{i}" for i in range(count))]
    if name == "auto":
        return "cuda:0" if count else "cpu"
    if name == "cpu":
        return "cpu"
    match = _CUDA.match(name)
    if match is None:
        raise ConfigError(f"--device {text!r} is not a device (use auto, cpu, cuda or cuda:N; here: {', '.join(here)})")
    index = int(match.group(1) or 0)
    if index >= count:
        raise ConfigError(f"--device {text}: no such device here (devices: {', '.join(here)})")
    return f"cuda:{index}"


def describe(device: str) -> str:
    """'cpu (2 cores)' or the GPU's name with its memory in use, for the Training panel."""
    if device == "cpu":
        return f"CPU ({os.cpu_count()} cores)"
    index = torch.device(device).index or 0
    used = torch.cuda.memory_allocated(index) / 2**30
    return f"{torch.cuda.get_device_name(index)} ({used:.2f} GiB in use)"
