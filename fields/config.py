"""Field configs: frozen dataclasses with a `kind`, round-tripping through JSON, and the registry of
kinds (fields/kinds/__init__.py: KINDS, one registration a kind) that maps a kind to its config
class and field builder."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds import KINDS, FieldKind

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase


@dataclass(frozen=True)
class Capabilities:
    """What a field kind has, for the views and tools that need it (a class attribute of each config)."""

    #: grid levels with a hash table (collision counts, level heatmaps)
    hash_table: bool = False
    #: grid levels whose resolutions grow geometrically: the config has `levels`, `base_resolution`
    #: and `growth` (level l has base_resolution * growth^l cells; fields/scenes/levels.py)
    growth_levels: bool = False
    #: Lagrangian Gaussian points in its finest levels
    lagrangian_points: bool = False
    #: Laplacian blocks (block grid, states)
    blocks: bool = False
    #: its parameter count grows while it trains (blocks get MLPs as their scales start)
    grows_while_training: bool = False


class FieldConfig(Protocol):
    """What every kind's config is: a frozen dataclass with at least these fields (and its kind's
    Capabilities as a class attribute)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    capabilities: ClassVar[Capabilities]

    @property
    def kind(self) -> str: ...

    @property
    def dims(self) -> int: ...

    @property
    def out_dims(self) -> int: ...


_BY_NAME: dict[str, FieldKind] = {kind.name: kind for kind in KINDS}


def kinds() -> list[str]:
    """The registered field kinds, in their declared order (fields/kinds/__init__.py); imports none."""
    return list(_BY_NAME)


def registration(kind: str) -> FieldKind:
    """A kind's registration; ConfigError naming the known kinds for an unknown one."""
    if kind not in _BY_NAME:
        raise ConfigError(f"unknown field kind {kind!r} (known: {', '.join(_BY_NAME)})")
    return _BY_NAME[kind]


def config_class(kind: str) -> type[FieldConfig]:
    """The config dataclass of a kind (imports the kind's module)."""
    return registration(kind).load("config")


def implementations(kind: str) -> tuple[str, ...]:
    """The `impl=` values a kind's field can be built with, the default first."""
    return registration(kind).impls or ("torch",)


def to_dict(config: FieldConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_json(config: FieldConfig) -> str:
    return json.dumps(to_dict(config), sort_keys=True)


def from_dict(data: dict[str, Any]) -> FieldConfig:
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


def from_json(text: str) -> FieldConfig:
    return from_dict(json.loads(text))


def build_field(config: FieldConfig, **options: Any) -> FieldBase:
    """The Field module for a config of any registered kind (options go to its builder); an `impl`
    the kind does not have raises ConfigError (plain-torch kinds take impl="torch" and drop it)."""
    kind = registration(config.kind)
    impl = options.pop("impl", None)
    if impl is not None:
        if impl not in implementations(config.kind):
            have = ", ".join(implementations(config.kind))
            raise ConfigError(f"the {config.kind} field has no {impl!r} implementation (it has: {have})")
        if kind.impls:
            options["impl"] = impl
    return kind.load("field")(config, **options)


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds (for __post_init__ validation)."""
    if not condition:
        raise ConfigError(message)
