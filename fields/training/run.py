"""One way to build a training run: (scene, field options, training options, device) -> Trainer.

`fit`, every `bench`, the window and `compare` call `build_run`, so the same scene and options
train the same way everywhere: the scene's suggested settings (learning rate, batch size) apply
unless the user sets them, and the finest resolution defaults to the scene's extent."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.hashgrid import growth_for
from fieldscope.fields.training.trainer import TrainConfig, Trainer

if TYPE_CHECKING:
    from fieldscope.fields.config import FieldConfig
    from fieldscope.fields.scenes.base import Scene

#: Instant-NGP's Adam learning rate and samples per step, where neither the user nor the scene says.
DEFAULT_LR = 1e-2
DEFAULT_BATCH_SIZE = 1 << 16


@dataclass(frozen=True)
class FieldOptions:
    """What the user chose for the field: its kind and any settings (None/absent = the kind's
    default); `max_resolution` sets the growth factor of grid kinds (default: the scene's extent)."""

    kind: str = "hashgrid"
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    max_resolution: int | None = None


@dataclass(frozen=True)
class TrainOptions:
    """What the user chose for training; None = the scene's suggestion, else the default."""

    lr: float | None = None
    batch_size: int | None = None
    seed: int = 0
    publish_interval: float = 0.25
    eval_interval: float = 2.0


def field_config(scene: Scene, options: FieldOptions) -> FieldConfig:
    """The config of `options.kind` for `scene`: its dims and outputs, its size (kinds laid out
    on the scene's samples), the growth that reaches the finest resolution, then the user's settings."""

    facts = scene.describe()
    cls = configs.config_class(options.kind)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    names = set(defaults)
    values: dict[str, Any] = {"dims": scene.dims, "out_dims": scene.out_dims, **options.settings}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"the {options.kind} field has no setting(s) {', '.join(unknown)}")
    size = facts.get("size")
    if "size" in names and size is not None and "size" not in values:
        values["size"] = tuple(size)
    if "growth" in names and "growth" not in values:
        levels = int(values.get("levels", defaults["levels"]))
        base = int(values.get("base_resolution", defaults["base_resolution"]))
        top = options.max_resolution or max(int(facts.get("extent", 512)), base)
        values["growth"] = growth_for(base, top, levels)
    return cls(**values)


def train_config(scene: Scene, options: TrainOptions) -> TrainConfig:
    """The optimiser settings: the user's, else the scene's suggested ones, else the defaults."""
    facts = scene.describe()
    lr = options.lr if options.lr is not None else facts.get("suggested_lr", DEFAULT_LR)
    batch = options.batch_size if options.batch_size is not None else facts.get("suggested_batch", DEFAULT_BATCH_SIZE)
    return TrainConfig(
        lr=float(lr),
        batch_size=int(batch),
        seed=options.seed,
        publish_interval=options.publish_interval,
        eval_interval=options.eval_interval,
    )


def build_run(
    scene: Scene,
    field_options: FieldOptions | None = None,
    train_options: TrainOptions | None = None,
    device: str = "cpu",
    config: FieldConfig | None = None,
    **build: Any,
) -> Trainer:
    """A Trainer (not started) of a fresh field on `scene`. `config` replaces the one the field
    options describe (a restart with edited settings); `build` goes to the kind's constructor
    (e.g. impl="torch")."""
    config = config if config is not None else field_config(scene, field_options or FieldOptions())
    if config.dims != scene.dims or config.out_dims != scene.out_dims:
        raise ConfigError(
            f"a field with {config.dims} inputs and {config.out_dims} outputs cannot fit the scene "
            f"{scene.name} ({scene.dims} inputs, {scene.out_dims} outputs)"
        )
    train = train_config(scene, train_options or TrainOptions())
    torch.manual_seed(train.seed)
    field_module = configs.build_field(config, **build).to(device)
    return Trainer(field_module, scene, train)
