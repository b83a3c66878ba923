"""Compiling every Warp module the app may launch ahead of its first use (or loading it from the
kernel cache, a few ms each when cached).

Warp compiles a module's kernels on their first launch: on a fresh install a scene's first steps
would wait seconds per module. Two kinds of module live in gpu/: module-level kernels (one Warp
module per Python module, found here by walking the package) and kernels made by factories with
parameters (`module="unique"`: one Warp module per kernel and parameter set), which are warmed for
the parameter sets a `Variants` names (fields/warmup.py lists the default scenes' ones).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

import warp as wp

import fieldscope.gpu as gpu_package
from fieldscope.gpu import gaussian_buckets, hashgrid, laplacian_blocks, laplacian_tiles, runtime


@dataclass(frozen=True)
class Variants:
    """Parameter sets of the kernel factories to warm."""

    #: hashgrid.kernels: (dims, features, interpolation code)
    grids: tuple[tuple[int, int, int], ...] = ()
    #: hashgrid.collision_kernel: dims (the window's collision counts)
    collisions: tuple[int, ...] = ()
    #: gaussian_buckets.field_kernels, guidance_kernels and the guided forward_kernel: (dims, features,
    #: interpolation code, points, soft guidance)
    buckets: tuple[tuple[int, int, int, int, bool], ...] = ()
    #: laplacian_blocks.kernels and laplacian_tiles.tiled_fit_kernel: the MLP (dims, hidden, layers, out_dims)
    blocks: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True)
class Loaded:
    """One Warp module made ready: its name, the seconds it took, and whether it was compiled
    (False: it was already loaded or came from the kernel cache)."""

    module: str
    seconds: float
    compiled: bool


def gpu_modules() -> list[ModuleType]:
    """Every Python module of the gpu package, imported."""
    names = sorted(info.name for info in pkgutil.iter_modules(gpu_package.__path__))
    return [importlib.import_module(f"{gpu_package.__name__}.{name}") for name in names if name != "warmup"]


def module_kernels() -> list[wp.Kernel]:
    """One kernel of each module-level Warp module in gpu/ (loading one loads the whole module)."""
    found: dict[str, wp.Kernel] = {}
    for module in gpu_modules():
        for value in vars(module).values():
            if isinstance(value, wp.Kernel) and value.module.name not in found:
                found[value.module.name] = value
    return list(found.values())


def _kernels_in(namespace: SimpleNamespace) -> list[wp.Kernel]:
    return [value for value in vars(namespace).values() if isinstance(value, wp.Kernel)]


def variant_kernels(variants: Variants, device: str) -> list[wp.Kernel]:
    """The factory kernels of `variants` that `device` launches (each its own Warp module). On the
    CPU the Laplacian blocks' fit runs laplacian_tiles' kernel, on CUDA laplacian_blocks' own."""
    kernels: list[wp.Kernel] = []
    for grid in variants.grids:
        kernels += _kernels_in(hashgrid.kernels(*grid))
    kernels += [hashgrid.collision_kernel(dims) for dims in variants.collisions]
    for dims, feats, smooth, points, soft in variants.buckets:
        kernels += _kernels_in(gaussian_buckets.field_kernels(dims, feats, smooth, points))
        kernels += _kernels_in(gaussian_buckets.guidance_kernels(dims, smooth, points, soft))
        if gaussian_buckets.can_guide_forward(smooth):  # the training forward that measures the guidance too
            kernels.append(gaussian_buckets.forward_kernel(dims, feats, smooth, points, "soft" if soft else "hard"))
    for mlp in variants.blocks:
        made = laplacian_blocks.kernels(*mlp)
        cpu = device == "cpu"
        kernels += [k for k in _kernels_in(made) if not (cpu and k is made.fit)]
        if cpu:
            kernels.append(laplacian_tiles.tiled_fit_kernel(*mlp))
    return kernels


def is_loaded(kernel: wp.Kernel, device: str) -> bool:
    """Whether the kernel's module is loaded for `device` (a launch would not compile or load it)."""
    runtime.init()
    block_dim = runtime.load_block_dim(device)
    variant = (wp.get_device(device).context, kernel.module.options["block_dim"] if block_dim is None else block_dim)
    return variant in kernel.module.execs


def warm(
    kernels: Iterable[wp.Kernel],
    device: str,
    stop: threading.Event | None = None,
    on_loaded: Callable[[Loaded], None] | None = None,
) -> list[Loaded]:
    """Load every kernel's module for `device` (compiling what the kernel cache lacks), one module
    at a time and in order, through runtime.ensure_loaded (so that a trainer launching the same
    module meanwhile waits for it rather than compiling it again). Stops early when `stop` is set.
    `on_loaded` hears of each module as it is done."""
    runtime.init()
    done: list[Loaded] = []
    seen: set[str] = set()
    for kernel in kernels:
        if stop is not None and stop.is_set():
            break
        name = kernel.module.name
        if name in seen:
            continue
        seen.add(name)
        started = time.perf_counter()
        compiled = _compiles(kernel, device)
        runtime.ensure_loaded(kernel, device)
        loaded = Loaded(name, time.perf_counter() - started, compiled)
        done.append(loaded)
        if on_loaded is not None:
            on_loaded(loaded)
    return done


def _compiles(kernel: wp.Kernel, device: str) -> bool:
    """Whether loading the kernel's module for `device` will compile it: not loaded, and no build of
    it (its metadata file) in the kernel cache."""
    if is_loaded(kernel, device):
        return False
    module = kernel.module
    block_dim = runtime.load_block_dim(device)
    cache = wp.config.kernel_cache_dir
    assert cache is not None  # set by runtime.init (is_loaded above)
    folder = os.path.join(cache, module.get_module_identifier(block_dim))
    return not os.path.exists(os.path.join(folder, module._get_meta_name(block_dim=block_dim)))
