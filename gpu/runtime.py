"""Warp start-up, device choice and the launcher that spreads CPU launches over both cores.

Warp's CPU backend runs one launch on one core; `wp.launch` releases the GIL, so launches over
disjoint slices from a small thread pool use every core. Atomic adds from concurrent CPU launches
lose updates, so callers split work only where the slices write disjoint memory.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import warp as wp
from warp._src import context  # Warp keeps its runtime object here

_lock = threading.Lock()
#: Held while a module loads (its own lock, so that launches of loaded modules never wait on a compile).
_load_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_loaded: set[tuple[str, str]] = set()

#: Below this many threads a launch is not worth splitting.
MIN_THREADS_PER_SPLIT = 4096


def init() -> None:
    """Initialise Warp once, quietly, with the kernel cache from WARP_CACHE_PATH if set."""
    with _lock:
        if _is_initialised():
            return
        wp.config.log_level = wp.LOG_WARNING
        cache = os.environ.get("WARP_CACHE_PATH")
        if cache:
            wp.config.kernel_cache_dir = cache
        with _native_stderr_filtered(_EXPECTED_WITHOUT_GPU):
            wp.init()


#: Warp's native library prints this on every start on a machine without a GPU: not news.
_EXPECTED_WITHOUT_GPU = "Could not find or load the NVIDIA CUDA driver"


@contextlib.contextmanager
def _native_stderr_filtered(drop: str) -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 and re-emit every line but `drop`'s."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if drop not in line:
                    sys.stderr.write(line)


def _is_initialised() -> bool:
    return context.runtime is not None


def cpu_workers() -> int:
    """Number of CPU launches that run at once (the machine's cores, at most 8)."""
    return max(1, min(8, os.cpu_count() or 1))


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=cpu_workers(), thread_name_prefix="warp-cpu")
        return _pool


def ensure_loaded(kernel: wp.Kernel, device: str) -> None:
    """Compile or load a kernel's module before concurrent launches use it (loading is not
    thread-safe; later launches find it loaded)."""
    key = (kernel.module.name, device)
    if key in _loaded:
        return
    init()
    with _load_lock:
        if key not in _loaded:
            kernel.module.load(wp.get_device(device), block_dim=load_block_dim(device))
            _loaded.add(key)


def load_block_dim(device: str) -> int | None:
    """The block_dim variant of a module that launches on `device` run: CPU launches run the
    block_dim=1 variant, CUDA ones the module's default (None)."""
    return 1 if device == "cpu" else None


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """Cut range(count) into at most `parts` contiguous (start, length) pieces of nearly equal size."""
    parts = max(1, min(parts, count))
    base, extra = divmod(count, parts)
    pieces, start = [], 0
    for i in range(parts):
        length = base + (1 if i < extra else 0)
        if length:
            pieces.append((start, length))
        start += length
    return pieces


def run_all(jobs: Sequence[Callable[[], object]]) -> None:
    """Run jobs (each a Warp launch over its own slice) concurrently and wait; re-raise the first error."""
    if len(jobs) == 1:
        jobs[0]()
        return
    futures = [_executor().submit(job) for job in jobs]
    for future in futures:
        future.result()


def launch_sliced(
    kernel: wp.Kernel,
    dim: tuple[int, ...],
    axis: int,
    inputs: list[object],
    device: str,
    interleave: bool = False,
    min_threads: int = MIN_THREADS_PER_SPLIT,
) -> None:
    """Launch `kernel` over `dim`, cut along `axis` into one slice per CPU core.

    The kernel's last two parameters are `slice_start` and `slice_stride`: thread index j along
    `axis` stands for j * slice_stride + slice_start. Slices are contiguous ranges (stride 1), or
    with interleave=True every P-th index (for P cores), which balances work that varies along the
    axis. Callers pick an axis along which slices write disjoint memory, so concurrent slices never
    race. On CUDA, or for launches of fewer than `min_threads` threads (lower it for kernels whose
    threads do much work each), it is one launch.
    """
    if 0 in dim:
        return
    threads = 1
    for n in dim:
        threads *= n
    parts = min(cpu_workers(), dim[axis]) if (device == "cpu" and threads >= min_threads) else 1

    def job(start: int, length: int, stride: int) -> Callable[[], object]:
        sliced = tuple(length if a == axis else n for a, n in enumerate(dim))
        return lambda: wp.launch(kernel, dim=sliced, inputs=[*inputs, start, stride], device=device)

    if interleave:
        jobs = [job(k, len(range(k, dim[axis], parts)), parts) for k in range(parts)]
    else:
        jobs = [job(start, length, 1) for start, length in split(dim[axis], parts)]
    run_all(jobs)
