"""Command-line options shared by `fit`, `view`, `bench` and `compare`, and what they become: the
field and training options of fields.run. The UI builds the same options from its panels."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.training.run import FieldOptions, TrainOptions

#: The bundled scene the window opens with no path (package data: a real file in an installed package).
DEFAULT_IMAGE = Path(str(resources.files("fieldscope.assets") / "astronaut.png"))

#: What `ArgumentParser.add_subparsers()` returns (argparse names no public type for it): each command
#: module's add_parser(subparsers) adds its command to it.
Subparsers = argparse._SubParsersAction

#: A KEY=VALUE setting's value, parsed (parse_value).
Value = int | float | bool | str

#: Config settings that have a flag of their own (the rest go through --option KEY=VALUE).
FIELD_FLAGS = (
    "levels",
    "features",
    "log2_table_size",
    "base_resolution",
    "growth",
    "interpolation",
    "hidden_width",
    "hidden_layers",
    "scales",
    "block_size",
    "target_mse",
)


def kind_help(what: str) -> str:
    """A --field help text: `what`, then the registered kinds and the default."""
    return f"{what}: {', '.join(configs.kinds())} (default hashgrid)"


def add_field_options(parser: argparse.ArgumentParser, kind_flag: bool = True) -> None:
    """Options that build a field config (any kind); unset ones keep the kind's defaults. Without
    `kind_flag` no --field (a command that names its kinds otherwise, e.g. sweep's --fields)."""
    group = parser.add_argument_group("field")
    if kind_flag:
        group.add_argument("--field", default="hashgrid", help=kind_help("field kind"))
    group.add_argument("--levels", type=int, help="number of levels L")
    group.add_argument("--features", type=int, help="features per level F (1, 2, 4, 8)")
    group.add_argument("--log2-table-size", type=int, help="hash table size T = 2^K")
    group.add_argument("--base-resolution", type=int, help="coarsest resolution N_min")
    group.add_argument("--growth", type=float, help="per-level growth b")
    group.add_argument("--max-resolution", type=int, help="finest resolution N_max (sets b); default: image size")
    group.add_argument(
        "--interpolation",
        choices=("linear", "smoothstep", "lagrange"),
        help="grid interpolation; lagrange: Lagrange multi-sampling, k from --option lagrange_k=K (default 2)",
    )
    group.add_argument("--hidden-width", type=int, help="decoder hidden width (default 64)")
    group.add_argument("--hidden-layers", type=int, help="decoder hidden layers (default 1)")
    group.add_argument("--scales", type=int, help="laplacian_blocks: Laplacian pyramid scales J (default 4)")
    group.add_argument("--block-size", type=int, help="laplacian_blocks: block side in samples (default 32 / 16^3)")
    group.add_argument("--target-mse", type=float, help="laplacian_blocks: per-block target error tau (1e-4)")
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="any other config setting")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--lr", type=float, help="Adam learning rate (default: the scene's suggestion, else 1e-2)")
    group.add_argument("--batch-size", type=int, help="samples per step (default: the scene's suggestion, else 65536)")
    group.add_argument("--seed", type=int, default=0)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA when Warp and torch see a GPU, else the CPU), cpu, cuda, cuda:N"
    )


def add_scene_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scene-option", action="append", default=[], metavar="KEY=VALUE", help="a scene setting (see the README)"
    )
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=4.0,
        metavar="GIB",
        help="memory for the image (default 4): images whose float32 pixels need more than half stream from disk",
    )


def field_options(args: argparse.Namespace, kind: str | None = None) -> FieldOptions:
    """The field options the flags describe (for `kind`, default --field). Flags a kind does not
    have are left out when `kind` is given (one command line for several kinds), and
    --option KIND.KEY=VALUE applies to that kind only."""
    names = None if kind is None else {f.name for f in dataclasses.fields(configs.config_class(kind))}
    kind = kind or args.field
    settings = {
        name: getattr(args, name)
        for name in FIELD_FLAGS
        if getattr(args, name, None) is not None and (names is None or name in names)
    }
    for key, value in key_values(getattr(args, "option", []), "--option").items():
        owner, dot, name = key.rpartition(".")
        if not dot:
            settings[key] = value
        elif owner == kind:
            settings[name] = value
    return FieldOptions(kind=kind, settings=settings, max_resolution=getattr(args, "max_resolution", None))


def train_options(args: argparse.Namespace) -> TrainOptions:
    return TrainOptions(lr=getattr(args, "lr", None), batch_size=getattr(args, "batch_size", None), seed=args.seed)


def scene_options(args: argparse.Namespace) -> dict[str, Value]:
    """Keyword arguments of open_scene from --scene-option and --memory-budget."""
    options = key_values(getattr(args, "scene_option", []), "--scene-option")
    if getattr(args, "memory_budget", None) is not None:
        options["memory_budget"] = int(args.memory_budget * 2**30)
    return options


def parse_value(text: str) -> Value:
    """'3' -> 3, '1e-3' -> 0.001, 'true' -> True, anything else stays a string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def key_values(items: Sequence[str], option: str) -> dict[str, Value]:
    """KEY=VALUE strings -> {key: value} (numbers and booleans parsed, dashes in keys as underscores)."""
    values: dict[str, Value] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"{option} needs KEY=VALUE, not {item!r}")
        values[key.strip().replace("-", "_")] = parse_value(text.strip())
    return values


def scene_summary(facts: dict[str, Any]) -> str:
    """A few words on what a scene is, for the progress line."""
    if "size" in facts:
        return f"{facts['task']}, {' x '.join(map(str, facts['size']))}"
    if "faces" in facts:
        return f"{facts['task']}, a mesh of {facts['faces']:,} triangles"
    return str(facts.get("task", "scene"))


def metric_summary(metrics: dict[str, float]) -> str:
    """The headline metrics: PSNR for images, volumes and NeRF; IoU and Chamfer for meshes."""
    parts = []
    if "psnr" in metrics:
        parts.append(f"PSNR {metrics['psnr']:.2f} dB")
    if "iou" in metrics:
        parts.append(f"IoU {metrics['iou']:.4f}")
    if "chamfer" in metrics:
        parts.append(f"Chamfer {metrics['chamfer']:.5f}")
    return ", ".join(parts) or "no metrics"
