"""Warming the Warp kernels that the default scenes' fields launch, so that a scene opened later
finds them compiled: the kernel factories' parameter sets that each field kind's default config
gives for each task's shape, plus every module-level Warp module of gpu/ (gpu/warmup.py loads them).

`warm_up` does it now (`fieldscope warmup`, CI, installs); `start_background` in a daemon thread
(the window, at start-up).
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

import warp as wp

from fieldscope.fields import config as configs
from fieldscope.fields.config import FieldConfig
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig
from fieldscope.fields.kinds.hashgrid import GridConfig, interpolation_code
from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig
from fieldscope.fields.training.run import FieldOptions
from fieldscope.gpu import warmup as gpu_warmup
from fieldscope.gpu.warmup import Loaded, Variants

#: (dims, out_dims) of each task's default scene: an RGB image, the 3D scalar tasks (sdf, occupancy,
#: volume), a NeRF (1 + k = 16 outputs: fields/scenes/nerf.py). Only the Laplacian blocks' kernels
#: depend on out_dims.
TASK_SHAPES: dict[str, tuple[int, int]] = {
    "image": (2, 3),
    "sdf": (3, 1),
    "occupancy": (3, 1),
    "volume": (3, 1),
    "nerf": (3, 16),
}

#: Samples per axis given to kinds laid out on the scene's samples (their kernels do not depend on it).
_SIZE = 64


def default_config(kind: str, dims: int, out_dims: int) -> FieldConfig | None:
    """The default config of `kind` for a scene of that shape (None: the kind does not take it)."""
    cls = configs.config_class(kind)
    values: dict[str, Any] = {"dims": dims, "out_dims": out_dims}
    if "size" in {f.name for f in dataclasses.fields(cls)}:
        values["size"] = (_SIZE,) * dims
    try:
        return cls(**values)
    except ConfigError:
        return None


def config_variants(config: FieldConfig) -> Variants:
    """The Warp kernel parameter sets a field of `config` launches (none for torch-only kinds)."""
    if isinstance(config, LaplacianBlocksConfig):
        return Variants(blocks=(config.mlp,))
    if not isinstance(config, GridConfig):
        return Variants()
    smooth = interpolation_code(config.interpolation, config.lagrange_k)
    grids = ((config.dims, config.features, smooth),)
    if isinstance(config, GaussianBucketsConfig):
        bucket = (config.dims, config.features, smooth, config.points_per_bucket, config.soft_guidance)
        return Variants(grids=grids, buckets=(bucket,))
    return Variants(grids=grids)


def default_variants() -> list[Variants]:
    """Per field kind (the default kind first), the parameter sets its default configs give for
    every task's shape; the last entry: the window's collision counts (2D and 3D hash grids)."""
    first = FieldOptions().kind
    kinds = sorted(configs.kinds(), key=lambda kind: kind != first)
    found: list[Variants] = []
    for kind in kinds:
        merged = Variants()
        for dims, out_dims in dict.fromkeys(TASK_SHAPES.values()):
            config = default_config(kind, dims, out_dims)
            if config is not None:
                merged = _merge(merged, config_variants(config))
        found.append(merged)
    found.append(Variants(collisions=tuple(sorted({dims for dims, _ in TASK_SHAPES.values()}))))
    return found


def _merge(a: Variants, b: Variants) -> Variants:
    """Both sets, in order, without repeats."""
    names = [f.name for f in dataclasses.fields(Variants)]
    return Variants(**{n: tuple(dict.fromkeys(getattr(a, n) + getattr(b, n))) for n in names})


def scene_kernels(device: str) -> list[wp.Kernel]:
    """The kernels to warm, in the order a new user needs them: the default kind's, then every
    module-level Warp module (NeRF's volume rendering, meshes, ...), then the other kinds'."""
    variants = default_variants()
    kernels = gpu_warmup.variant_kernels(variants[0], device) + gpu_warmup.module_kernels()
    for rest in variants[1:]:
        kernels += gpu_warmup.variant_kernels(rest, device)
    return kernels


def warm_up(
    device: str = "cpu", stop: threading.Event | None = None, on_loaded: Callable[[Loaded], None] | None = None
) -> list[Loaded]:
    """Compile (or load from the kernel cache) every Warp module of scene_kernels for `device`;
    what was done, module by module (see gpu.warmup.warm)."""
    return gpu_warmup.warm(scene_kernels(device), device, stop, on_loaded)


_started: dict[str, threading.Thread] = {}
_start_lock = threading.Lock()
_stop = threading.Event()


def start_background(device: str = "cpu") -> threading.Thread:
    """Warm up in a daemon thread, once per process and device (a later call returns the same
    thread). Compiling runs in native code without the GIL; a failure is reported on stderr and
    left to the scene that needs the module (its trainer reports it).

    The objects alive by now (torch, the imported modules: about 250k) are first moved out of the
    cyclic collector's sight (gc.freeze): Warp's code generation allocates so much that it set off
    full collections over all of them, each holding the GIL about 1 s (measured: the UI thread's
    longest stall 0.9-2.1 s, none over 0.1 s frozen)."""
    with _start_lock:
        thread = _started.get(device)
        if thread is None:
            if not _started:
                atexit.register(_finish)
            gc.freeze()
            thread = threading.Thread(target=_warm_quietly, args=(device,), name="fieldscope-warmup", daemon=True)
            _started[device] = thread
            thread.start()
        return thread


def _finish() -> None:
    """At exit: start no other module and let the one being compiled finish (the interpreter and
    Warp shutting down under a compile crashed the process: a segmentation fault at exit)."""
    _stop.set()
    for thread in list(_started.values()):
        thread.join()


def _warm_quietly(device: str) -> None:
    try:
        warm_up(device, stop=_stop)
    except Exception as error:  # a background helper: the app goes on without it
        print(f"fieldscope: kernel warm-up stopped: {type(error).__name__}: {error}", file=sys.stderr)
