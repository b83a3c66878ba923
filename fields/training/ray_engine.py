"""The Ray engine of sweeps (the only module that knows Ray): every run a Ray task
(`ray.remote(num_cpus=C, num_gpus=G, max_retries=R)`), whose worker uses C torch threads and runs
fields.training.sweep.run_in_worker. A worker killed mid-run (kill -9, a lost machine) is a system
failure: Ray runs the task again elsewhere, up to R times; a run that fails by itself (a bad scene)
returns its error in its row and is not retried.

Without an address Ray starts here (the embedded default: `ray.init(num_cpus=...)`, no dashboard,
its sockets under /tmp/ray); with one it joins that cluster (`auto`: the one `ray start` made on
this machine; HOST:PORT: a head's GCS; ray://HOST:PORT: Ray Client). Ray missing, or an address
that cannot be reached, is one FieldscopeError line."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.training.sweep import Hook, Outcome, RunSpec, error_row, run_in_worker

ray: Any
try:  # Ray is a dependency, but an environment may lack it: `fieldscope sweep` then says so in one line
    ray = importlib.import_module("ray")
except ImportError:  # pragma: no cover - exercised where Ray is not installed
    ray = None

#: Ray's session folder: its socket paths must stay under the OS's ~100-character limit.
TEMP_DIR = "/tmp/ray"
#: How long the wait for the next finished run lasts before `waiting` (the progress line) is called.
POLL_SECONDS = 30.0


@dataclass(frozen=True)
class RayOptions:
    """Where and how runs go: `address` None (start Ray here, with `local_cpus` CPUs, default all),
    else the cluster to join; each run's CPUs (= its torch threads) and GPUs; retries of a run
    whose worker died."""

    address: str | None = None
    local_cpus: int | None = None
    cpus_per_run: int = 1
    gpus_per_run: float = 0.0
    retries: int = 3


def require_ray() -> Any:
    """The ray module, or FieldscopeError saying how to get it."""
    if ray is None:
        raise FieldscopeError("fieldscope sweep needs Ray, which is not installed here: pip install ray")
    return ray


def worker_environment() -> dict[str, str]:
    """Environment of a cluster's workers: OpenMP's waiters sleep (as in the CLI). A local Ray's
    workers inherit this process's environment instead (its WARP_CACHE_PATH too: compiled kernels are
    shared, not rebuilt per worker), which lets the first runs use the workers Ray starts with it
    (a runtime_env would start others)."""
    return {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def connect(options: RayOptions) -> bool:
    """Start or join Ray -> whether this call did (and so should shut it down); an already
    initialised Ray (a test's, a notebook's) is used as it is."""
    module = require_ray()
    if module.is_initialized():
        return False
    settings: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if options.address is None:
        cpus = options.local_cpus or os.cpu_count() or 1
        if cpus < options.cpus_per_run:
            raise FieldscopeError(f"a run needs {options.cpus_per_run} CPUs; the local Ray has {cpus}")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before Ray starts its workers: they inherit it
        # "local": a Ray of our own, even where RAY_ADDRESS or another user's `ray start` names a cluster
        settings.update(address="local", num_cpus=cpus, include_dashboard=False, _temp_dir=TEMP_DIR)
    else:
        settings.update(address=options.address, runtime_env={"env_vars": worker_environment()})
    try:
        module.init(**settings)
    except Exception as error:  # Ray raises ConnectionError, RuntimeError, ValueError, ... for a bad address
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        where = f"join the Ray cluster at {options.address}" if options.address else "start a local Ray"
        raise FieldscopeError(f"cannot {where}: {first}") from None
    return True


def slots(options: RayOptions) -> int:
    """How many runs the cluster can run at once (its CPUs, or GPUs, over a run's)."""
    resources = require_ray().cluster_resources()
    counts = [int(resources.get("CPU", 1) // max(options.cpus_per_run, 1))]
    if options.gpus_per_run > 0:
        counts.append(int(resources.get("GPU", 0) // options.gpus_per_run))
    return max(1, min(counts))


@contextmanager
def session(options: RayOptions) -> Iterator[None]:
    """Ray started or joined (connect) for the block; shut down after it when started here."""
    started_here = connect(options)
    try:
        yield
    finally:
        if started_here:
            ray.shutdown()


def run_on_ray(
    specs: Sequence[RunSpec],
    deliver: Callable[[RunSpec, Outcome], None],
    options: RayOptions,
    hook: Hook | None = None,
    waiting: Callable[[], None] | None = None,
) -> None:
    """Run every spec as a Ray task on the connected Ray (`session`); `deliver` gets each outcome as
    it comes (a task that failed even after its retries: an error row); `waiting` is called while
    none has come for POLL_SECONDS. Runs not delivered when this ends (an interrupt) are cancelled."""
    require_ray()
    task = ray.remote(
        num_cpus=options.cpus_per_run,
        num_gpus=options.gpus_per_run,
        max_retries=options.retries,
        retry_exceptions=False,
    )(run_in_worker)
    pending = {task.remote(spec, options.cpus_per_run, hook): spec for spec in specs}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            if not ready and waiting is not None:
                waiting()
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as error:  # the worker died more than `retries` times, or Ray failed
                    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    outcome = (error_row(spec, f"{type(error).__name__}: {first}"), None)
                deliver(spec, outcome)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
