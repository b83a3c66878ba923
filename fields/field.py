"""The Field: an encoding (one module per kind) followed by a small MLP decoder, plus what every
kind offers the trainer and the viewer (level mask, parameter count, inspection, state)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import nn

from fieldscope.fields.config import FieldConfig
from fieldscope.fields.errors import ConfigError

if TYPE_CHECKING:
    from fieldscope.fields.scenes.base import Batch
    from fieldscope.fields.training.trainer import RunPlan, Trainer


class Decoder(nn.Module):
    """MLP with ReLU hidden layers and a linear output, Xavier-uniform weights (as in the papers)."""

    def __init__(self, in_dims: int, hidden_width: int, hidden_layers: int, out_dims: int) -> None:
        super().__init__()
        widths = [in_dims] + [hidden_width] * hidden_layers + [out_dims]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        for layer in self.linears():
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def linears(self) -> list[nn.Linear]:
        """The linear layers, input first."""
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h (N, in_dims) -> (N, out_dims)."""
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)


def checked_level_mask(mask: tuple[bool, ...] | list[bool], levels: int) -> tuple[bool, ...]:
    """The mask as a tuple of bools; ConfigError unless it has one entry per level."""
    mask = tuple(bool(m) for m in mask)
    if len(mask) != levels:
        raise ConfigError(f"level mask has {len(mask)} entries, the field has {levels} levels")
    return mask


class TrainingStrategy(Protocol):
    """What replaces the trainer's gradient steps for a field that trains its own way (MINER's)."""

    #: True once training is done (further steps only wait).
    finished: bool

    def step(self) -> tuple[float, dict[str, float]]:
        """One step: (loss, metrics)."""
        ...


class DecodedConfig(FieldConfig, Protocol):
    """The config of a Field (an encoding and a decoder): its decoder's shape too."""

    @property
    def hidden_width(self) -> int: ...

    @property
    def hidden_layers(self) -> int: ...


class Encoding(Protocol):
    """The encoding module of a Field: points (N, D) -> features (N, out_dims) over num_levels levels."""

    @property
    def out_dims(self) -> int: ...

    @property
    def num_levels(self) -> int: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def set_mask(self, mask: tuple[bool, ...]) -> None: ...

    def level_info(self) -> list[dict[str, Any]]: ...


class FieldBase(nn.Module):
    """What the trainer and the viewer ask of every field kind; the training hooks' defaults train
    all parameters with plain gradient steps on the scene's loss alone. A kind implements forward,
    num_levels, level_mask, set_level_mask, inspect and load_state (Field does, for an encoding and
    a decoder)."""

    config: FieldConfig

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) in [0,1]^D -> (N, out_dims)."""
        raise NotImplementedError

    @property
    def num_levels(self) -> int:
        raise NotImplementedError

    @property
    def level_mask(self) -> tuple[bool, ...]:
        """Which levels are on, coarse to fine."""
        raise NotImplementedError

    def set_level_mask(self, mask: tuple[bool, ...] | list[bool]) -> None:
        """Turn levels on or off (off levels output zeros and get no gradient)."""
        raise NotImplementedError

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def inspect(self) -> dict[str, Any]:
        """What the viewer can show."""
        raise NotImplementedError

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Load arrays made by state(); names and shapes must match this field's."""
        raise NotImplementedError

    #: True when extra_loss reads the scene's guidance weights W(x): only then does the trainer ask
    #: the scene for them (a mesh distance query or a gradient lookup per step otherwise wasted).
    uses_guidance = False

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The optimiser's parameter groups; a group without "lr" gets the trainer's."""
        return [{"params": list(self.parameters())}]

    def training_strategy(self, trainer: Trainer) -> TrainingStrategy | None:
        """An object whose `step() -> (loss, metrics)` replaces the trainer's gradient steps, or None."""
        return None

    def extra_loss(self, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]] | None:
        """A loss term of the field's own over the scene's guidance batch, with its metrics, or None."""
        return None

    def after_step(self, step: int) -> None:
        """Called after the optimiser step that made the step count `step`."""

    def set_run_plan(self, plan: RunPlan, elapsed: Callable[[], float]) -> None:
        """How long the run will train (fields.train.RunPlan), for schedules that end with the run."""

    def pixel_grid(self, height: int, width: int) -> torch.Tensor | None:
        """The field at every pixel centre of a height x width image, (H, W, C), when the field has a
        faster way than evaluating the points; None: evaluate the points."""
        return None

    def state(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and persistent buffer, by name."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.state_dict().items()}


class Field(FieldBase):
    """encoding + decoder. Subclasses set `self.encoding` (with `out_dims`, `num_levels`,
    `set_mask`) and may extend `inspect()`."""

    config: DecodedConfig
    encoding: Encoding

    def __init__(self, config: DecodedConfig, encoding: Encoding) -> None:
        super().__init__()
        self.config = config
        self.encoding = encoding
        self.decoder = Decoder(encoding.out_dims, config.hidden_width, config.hidden_layers, config.out_dims)
        self._level_mask = (True,) * encoding.num_levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) in [0,1]^D -> (N, out_dims)."""
        return self.decoder(self.encoding(x))

    @property
    def num_levels(self) -> int:
        return self.encoding.num_levels

    @property
    def level_mask(self) -> tuple[bool, ...]:
        return self._level_mask

    def set_level_mask(self, mask: tuple[bool, ...] | list[bool]) -> None:
        """Turn levels on or off (off levels output zeros and get no gradient)."""
        self._level_mask = checked_level_mask(mask, self.num_levels)
        self.encoding.set_mask(self._level_mask)

    def inspect(self) -> dict[str, Any]:
        """What the viewer can show; subclasses add their own entries."""
        return {
            "kind": self.config.kind,
            "param_count": self.param_count(),
            "level_mask": list(self.level_mask),
            "levels": self.encoding.level_info(),
        }

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Load arrays made by state(); names and shapes must match this field's."""
        own = self.state_dict()
        missing, extra = sorted(set(own) - set(arrays)), sorted(set(arrays) - set(own))
        if missing or extra:
            raise ConfigError(f"parameters do not match the field: missing {missing}, unexpected {extra}")
        for name, tensor in own.items():
            if tuple(arrays[name].shape) != tuple(tensor.shape):
                raise ConfigError(
                    f"parameter {name} has shape {tuple(arrays[name].shape)}, expected {tuple(tensor.shape)}"
                )
        device = next(self.parameters()).device
        self.load_state_dict({k: torch.tensor(np.asarray(v), device=device) for k, v in arrays.items()})
