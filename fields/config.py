"""Field configs: frozen dataclasses with a `kind`, round-tripping through JSON, and the registry
that maps a kind to its config class and module (one file per kind registers itself)."""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fieldscope.fields.errors import ConfigError


@dataclass(frozen=True)
class Capabilities:
    """What a field kind has, for the views and tools that need it (a class attribute of each config)."""

    #: grid levels with a hash table (collision counts, level heatmaps)
    hash_table: bool = False
    #: Lagrangian Gaussian points in its finest levels
    lagrangian_points: bool = False
    #: Laplacian blocks (block grid, states)
    blocks: bool = False
    #: its parameter count grows while it trains (blocks get MLPs as their scales start)
    grows_while_training: bool = False


_CONFIGS: dict[str, type] = {}
_BUILDERS: dict[str, Callable[[Any], Any]] = {}


def register(kind: str, config_class: type, build: Callable[[Any], Any]) -> None:
    """Make `kind` known: its config dataclass and the function that builds its Field."""
    _CONFIGS[kind] = config_class
    _BUILDERS[kind] = build


def kinds() -> list[str]:
    """Registered field kinds, in registration order."""
    _load_kinds()
    return list(_CONFIGS)


def config_class(kind: str) -> type:
    _load_kinds()
    if kind not in _CONFIGS:
        raise ConfigError(f"unknown field kind {kind!r} (known: {', '.join(_CONFIGS)})")
    return _CONFIGS[kind]


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_json(config: Any) -> str:
    return json.dumps(to_dict(config), sort_keys=True)


def from_dict(data: dict[str, Any]) -> Any:
    """Rebuild a config from its dict; unknown kinds or keys raise ConfigError."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ConfigError("a field config needs a 'kind'")
    cls = config_class(data["kind"])
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {data['kind']} setting(s): {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


def from_json(text: str) -> Any:
    return from_dict(json.loads(text))


def build_field(config: Any, **options: Any) -> Any:
    """The Field module for a config of any registered kind (options go to its constructor)."""
    _load_kinds()
    return _BUILDERS[config.kind](config, **options)


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds (for __post_init__ validation)."""
    if not condition:
        raise ConfigError(message)


def _load_kinds() -> None:
    # Importing a kind's module registers it; done lazily so that configs stay cheap to import.
    for module in _KIND_MODULES:
        importlib.import_module(module)


#: The kinds' modules: the grid kinds first, the baselines of `compare` last.
_KIND_MODULES = tuple(
    f"fieldscope.fields.kinds.{name}"
    for name in ("hashgrid", "gaussian_buckets", "laplacian_blocks.field", "fourier", "mlp")
)
