"""The kernel warm-up (fields/warmup.py, gpu/warmup.py): after it, every Warp module of gpu/ is
loaded on the CPU, and the default fields' first steps load no module; `fieldscope warmup` runs."""

from __future__ import annotations

import threading

import pytest
import torch
import warp as wp
from warp._src import context

from fieldscope.app.cli import main
from fieldscope.fields import config as configs
from fieldscope.fields import warmup
from fieldscope.gpu import warmup as gpu_warmup


@pytest.fixture(scope="module")
def warmed() -> list[gpu_warmup.Loaded]:
    return warmup.warm_up("cpu")


def executables() -> set[tuple[str, object]]:
    """Every (Warp module, device and block_dim) with a loaded executable in this process."""
    return {(name, key) for name, module in context.user_modules.items() for key in module.execs}


def test_every_gpu_module_with_kernels_is_loaded_for_the_cpu(warmed):
    names = {loaded.module for loaded in warmed}
    module_level = [v for m in gpu_warmup.gpu_modules() for v in vars(m).values() if isinstance(v, wp.Kernel)]
    assert {"fieldscope.gpu.volume_render", "fieldscope.gpu.mesh_query"} <= {k.module.name for k in module_level}
    for kernel in module_level + warmup.scene_kernels("cpu"):
        assert kernel.module.name in names
        assert gpu_warmup.is_loaded(kernel, "cpu"), kernel.module.name
    assert len(names) == len(warmed)  # each module once


def test_a_second_warm_up_loads_nothing(warmed):
    before = executables()
    again = warmup.warm_up("cpu")
    assert [loaded.module for loaded in again] == [loaded.module for loaded in warmed]
    assert not any(loaded.compiled for loaded in again)
    assert executables() == before


@pytest.mark.parametrize("task", sorted(warmup.TASK_SHAPES))
def test_default_fields_run_forward_and_backward_without_loading_a_module(warmed, task):
    """Forward and backward (to the parameters and the points) of every kind's default field for
    the task's shape: no Warp module loads (the warm-up had them)."""
    dims, out_dims = warmup.TASK_SHAPES[task]
    torch.manual_seed(0)
    before = executables()
    trained = 0
    for kind in configs.kinds():
        config = warmup.default_config(kind, dims, out_dims)
        if config is None:
            continue
        field = configs.build_field(config)
        x = torch.rand(300, dims, requires_grad=True)
        y = field(x)
        y.square().sum().backward()  # (an untrained Laplacian-block field is 0 everywhere: no kernel runs)
        assert torch.isfinite(y).all()
        trained += 1
    assert trained >= 3
    assert executables() == before


def test_the_variants_cover_the_default_kind_in_2d_and_3d():
    variants = warmup.default_variants()
    first = configs.config_class("hashgrid")()
    assert variants[0].grids == ((2, first.features, 0), (3, first.features, 0))
    assert variants[-1].collisions == (2, 3)


def test_a_stopped_warm_up_stops_before_the_next_module():
    stop = threading.Event()
    stop.set()
    assert warmup.warm_up("cpu", stop=stop) == []


def test_the_warmup_command_says_what_it_made_ready(warmed, capsys):
    assert main(["warmup", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(warmed) + 1
    assert all(line.split()[0] in ("compiled", "loaded") for line in lines[:-1])
    assert lines[-1].startswith(f"warmup: {len(warmed)} Warp modules ready on cpu in ")
