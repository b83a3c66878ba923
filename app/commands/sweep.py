"""`fieldscope sweep`: every combination of field kinds x scenes x parameter budgets x seeds, each run
`fieldscope fit` with the same options (fields/training/sweep.py), run as Ray tasks
(fields/training/ray_engine.py: a local Ray without --address, a cluster with one) or with --serial
one after the other here. Results in one folder (fields/training/sweep_folder.py; the report:
app/commands/sweep_report.py); the same command again with the same --out runs only what is missing.

SPEC.toml holds the same settings under the options' names (fields, scenes, params, seeds, steps,
time_budget, out, address, cpus_per_run, ...), field settings in a [settings] table (KIND.KEY for
one kind) and scene settings in [scene_options]; the command line wins over it."""

from __future__ import annotations

import argparse
import dataclasses
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI (pyproject's tomli marker)
    import tomli as tomllib

from fieldscope.app.commands import command_parser
from fieldscope.app.commands.sweep_report import write_report
from fieldscope.app.options import (
    Subparsers,
    Value,
    add_field_options,
    add_scene_options,
    add_train_options,
    field_options,
    scene_options,
)
from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.training.sweep import Outcome, RunSpec, grid, run_serial
from fieldscope.fields.training.sweep_folder import Progress, SweepFolder

if TYPE_CHECKING:  # types only: Ray loads with the engine
    from fieldscope.fields.training.ray_engine import RayOptions

#: Options a SPEC.toml may set (the command line wins), with their defaults when neither does.
SPEC_DEFAULTS: dict[str, Any] = {
    "fields": None,
    "scenes": None,
    "task": None,
    "params": None,
    "seeds": 1,
    "seed": 0,
    "steps": None,
    "time_budget": None,
    "out": "sweep",
    "address": None,
    "local_cpus": None,
    "cpus_per_run": 1,
    "gpus_per_run": 0.0,
    "retries": 3,
    "lr": None,
    "batch_size": None,
    "max_resolution": None,
}
DEFAULT_STEPS = 1000


def add_parser(sub: Subparsers) -> None:
    sweep = command_parser(sub, "sweep")
    sweep.add_argument("spec", nargs="?", help="a SPEC.toml with the sweep's settings (the options win)")
    sweep.add_argument("--fields", help="comma-separated kinds (default: every registered kind)")
    sweep.add_argument("--scenes", nargs="+", metavar="PATH", help="the scenes (images, meshes, volumes, NeRF folders)")
    sweep.add_argument("--task", help="what to fit on every scene (default: from each path)")
    sweep.add_argument("--params", help="parameter budgets N,N,... (each kind fitted to each); default: the kinds' own")
    sweep.add_argument("--seeds", type=int, help="seeds per run: --seed, --seed+1, ... (default 1)")
    budget = sweep.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help=f"steps per run (default {DEFAULT_STEPS})")
    budget.add_argument("--time-budget", type=float, metavar="SECONDS", help="training seconds per run instead")
    sweep.add_argument("--out", help="results folder (default ./sweep); again with the same folder: resume")
    engine = sweep.add_argument_group("engine")
    engine.add_argument(
        "--address", help="the Ray cluster to join: auto, HOST:PORT or ray://HOST:PORT (default: a local Ray)"
    )
    engine.add_argument("--local-cpus", type=int, help="CPUs the local Ray uses (default: all)")
    engine.add_argument("--cpus-per-run", type=int, help="CPUs (torch threads) per run (default 1)")
    engine.add_argument("--gpus-per-run", type=float, help="GPUs per run (default 0; more than 0: runs on CUDA)")
    engine.add_argument("--retries", type=int, help="runs again of a run whose worker died (default 3)")
    engine.add_argument("--serial", action="store_true", help="no Ray: every run here, one after the other")
    add_scene_options(sweep)
    add_field_options(sweep, kind_flag=False)
    add_train_options(sweep)
    sweep.set_defaults(run=run, seed=None)


def read_spec(path: str | None) -> dict[str, Any]:
    """The SPEC.toml's table (empty without one); ConfigError for a missing, unreadable or unknown key."""
    if path is None:
        return {}
    try:
        spec = tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not a TOML file ({error})") from None
    unknown = sorted(set(spec) - set(SPEC_DEFAULTS) - {"settings", "scene_options"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return spec


def merged(args: argparse.Namespace, spec: dict[str, Any]) -> dict[str, Any]:
    """Each SPEC_DEFAULTS setting: the command line's, else the spec's, else the default."""
    values = {}
    for name, default in SPEC_DEFAULTS.items():
        given = getattr(args, name, None)
        values[name] = given if given is not None else spec.get(name, default)
    if values["steps"] is None and values["time_budget"] is None:
        values["steps"] = DEFAULT_STEPS
    return values


def as_list(value: Any, cast: Any) -> list[Any]:
    """'a,b' or ['a', 'b'] (or one value) -> a list of cast values."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    try:
        return [cast(item.strip() if isinstance(item, str) else item) for item in items if str(item).strip()]
    except ValueError:
        raise ConfigError(f"cannot read {value!r} as a list of {cast.__name__}s") from None


def settings_of(args: argparse.Namespace, spec: dict[str, Any]) -> Any:
    """kind -> its field settings: the flags and --option that apply to it, over the spec's
    [settings] table (KEY for every kind that has it, KIND.KEY for one)."""
    table: dict[str, Value] = spec.get("settings", {})

    def settings(kind: str) -> dict[str, Value]:
        names = {f.name for f in dataclasses.fields(configs.config_class(kind))}
        values: dict[str, Value] = {}
        for key, value in table.items():
            owner, dot, name = key.rpartition(".")
            if (dot and owner == kind) or (not dot and key in names):
                values[name if dot else key] = value
        return {**values, **field_options(args, kind).settings}

    return settings


def specs_of(args: argparse.Namespace) -> tuple[list[RunSpec], dict[str, Any]]:
    """The sweep's runs and its merged settings."""
    spec = read_spec(args.spec)
    values = merged(args, spec)
    kinds = as_list(values["fields"] or ",".join(configs.kinds()), str)
    scenes = as_list(values["scenes"] or [], str)
    params = as_list(values["params"], int) if values["params"] is not None else [None]
    options = {**spec.get("scene_options", {}), **scene_options(args)}
    first = int(values["seed"])
    specs = grid(
        kinds,
        scenes,
        params,
        range(first, first + int(values["seeds"])),
        settings_of(args, spec),
        task=values["task"],
        steps=values["steps"],
        time_budget=values["time_budget"],
        max_resolution=values["max_resolution"],
        lr=values["lr"],
        batch_size=values["batch_size"],
        scene_options=tuple(sorted(options.items())),
        device="cuda" if float(values["gpus_per_run"]) > 0 else "cpu",
    )
    return specs, values


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """FieldscopeError unless HOST:PORT (or ray://HOST:PORT) answers a TCP connection within
    `timeout` (Ray itself retries an unreachable address for minutes); `auto` is Ray's to check."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address}: use auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise FieldscopeError(f"cannot join the Ray cluster at {address}: {error.strerror or error}") from None


def ray_options(
    address: str | None = None,
    local_cpus: int | None = None,
    cpus_per_run: int = 1,
    gpus_per_run: float = 0.0,
    retries: int = 3,
) -> RayOptions:
    """The Ray engine's options (an address that does not answer: FieldscopeError now, not after Ray's retries)."""
    from fieldscope.fields.training import ray_engine  # Ray takes ~1 s to import: only for runs on it

    if address is not None:
        check_reachable(address)
    return ray_engine.RayOptions(address, local_cpus, cpus_per_run, gpus_per_run, retries)


def execute(
    specs: Sequence[RunSpec], folder: SweepFolder | None, options: RayOptions | None, threads: int | None = 1
) -> list[dict[str, Any]]:
    """Run `specs` (those not finished in `folder` before) on Ray with `options`, or here one after the
    other with `threads` torch threads (None: as now) without; progress on stderr; each outcome
    recorded in `folder` as it comes, then its tables and report written -> the rows, in the specs' order."""
    pending = folder.pending(specs) if folder is not None else list(specs)
    progress = Progress(len(specs), len(specs) - len(pending), slots=1)  # slots: the cluster's, once joined
    before = f" ({progress.skipped} finished before)" if progress.skipped else ""
    runs = f"{len(specs)} run{'s' if len(specs) != 1 else ''}"
    where = f" -> {folder.root}" if folder is not None else ""
    print(f"sweep of {runs}{before}{where}", file=sys.stderr, flush=True)
    delivered: dict[str, dict[str, Any]] = {}

    def deliver(spec: RunSpec, outcome: Outcome) -> None:
        row = folder.record(*outcome) if folder is not None else outcome[0]
        delivered[spec.run_id] = row
        progress.finished(row)
        failed = f": {row['error']}" if row["error"] else ""
        print(
            f"{row['run_id']} {'failed' if failed else 'done'}{failed}; {progress.line()}", file=sys.stderr, flush=True
        )

    if options is None:
        run_serial(pending, deliver, threads)
    elif pending:
        from fieldscope.fields.training import ray_engine  # Ray takes ~1 s to import: only for runs on it

        with ray_engine.session(options):
            progress.slots = ray_engine.slots(options)
            ray_engine.run_on_ray(pending, deliver, options, waiting=lambda: print(progress.line(), file=sys.stderr))
    if folder is None:
        return [delivered[spec.run_id] for spec in specs if spec.run_id in delivered]
    rows = folder.rows(specs)
    folder.write_tables(rows)
    write_report(folder.root, rows)
    return rows


def run(args: argparse.Namespace) -> int:
    specs, values = specs_of(args)
    folder = SweepFolder(values["out"])
    folder.begin(specs)
    options = None
    if not args.serial:
        options = ray_options(
            values["address"],
            values["local_cpus"],
            int(values["cpus_per_run"]),
            float(values["gpus_per_run"]),
            int(values["retries"]),
        )
    rows = execute(specs, folder, options, int(values["cpus_per_run"]))
    failed = [row for row in rows if row.get("error")]
    print(f"{len(rows) - len(failed)} of {len(specs)} runs finished -> {folder.root}/results.md")
    if failed:
        print(f"{len(failed)} failed (their errors are in results.md)", file=sys.stderr)
    return 1 if failed else 0
