"""The plain coordinate MLP (the NTK paper's baseline): x in [0,1]^D, centred to [-1,1]^D, straight
into the fields' MLP decoder (ReLU), or a SIREN (activation="sine": sin(omega * (W h + b)) hidden
layers, Sitzmann et al. 2020). No encoding parameters and no Warp kernel: the whole field is
matrix products, which torch already runs as well as a kernel of ours would."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from fieldscope.fields.config import Capabilities, check
from fieldscope.fields.field import Decoder, Field

if TYPE_CHECKING:
    from fieldscope.fields.kinds.fourier import FourierConfig, FourierField

ACTIVATIONS = ("relu", "sine")


def param_groups(field: MlpField | FourierField, lr: float) -> list[dict[str, Any]]:
    """One group at the config's learning rate: a coordinate network's Adam diverges at the grid
    kinds' 1e-2 (Tancik et al. and SIREN train at 1e-4..1e-3), as MINER's blocks keep their own."""
    return [{"params": list(field.parameters()), "lr": field.config.learning_rate}]


def check_decoder_settings(c: MlpConfig | FourierConfig) -> None:
    """Validate the settings a coordinate network shares (dims, outputs, decoder shape)."""
    check(c.dims in (2, 3), f"dims must be 2 or 3, not {c.dims}")
    check(c.out_dims >= 1, f"out_dims must be at least 1, not {c.out_dims}")
    check(1 <= c.hidden_width <= 4096, f"hidden width must be between 1 and 4096, not {c.hidden_width}")
    check(0 <= c.hidden_layers <= 16, f"hidden layers must be between 0 and 16, not {c.hidden_layers}")


@dataclass(frozen=True)
class MlpConfig:
    """A coordinate MLP: `hidden_layers` layers of `hidden_width` units, ReLU or sine; Adam at
    `learning_rate` of its own (not the scene's grid-kind rate), as MINER's blocks."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    kind: str = "mlp"
    dims: int = 2
    out_dims: int = 3
    hidden_width: int = 256
    hidden_layers: int = 3
    activation: str = "relu"
    omega: float = 30.0
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.kind == "mlp", f"kind must be 'mlp', not {self.kind!r}")
        check_decoder_settings(self)
        check(self.learning_rate > 0, f"learning rate must be positive, not {self.learning_rate}")
        check(self.activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}, not {self.activation!r}")
        check(self.omega > 0, f"omega must be positive, not {self.omega}")


def decoder_params(in_dims: int, width: int, hidden_layers: int, out_dims: int) -> int:
    """Parameters of a Decoder(in_dims, width, hidden_layers, out_dims)."""
    widths = [in_dims] + [width] * hidden_layers + [out_dims]
    return sum(a * b + b for a, b in itertools.pairwise(widths))


class CoordinateEncoding(nn.Module):
    """A fixed (parameter-free) encoding with one level: x (N, D) in [0,1]^D, clamped like the grid
    kinds, -> (N, out_dims); the level mask's one entry turns it off (zeros)."""

    num_levels = 1

    def __init__(self, out_dims: int) -> None:
        super().__init__()
        self.out_dims = out_dims
        self.on = True

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def set_mask(self, mask: tuple[bool, ...]) -> None:
        self.on = bool(mask[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) -> (N, out_dims)."""
        h = self.features(x.clamp(0.0, 1.0))
        return h if self.on else torch.zeros_like(h)

    def level_info(self) -> list[dict[str, Any]]:
        return [{"level": 0, "features": self.out_dims}]


class CentredCoordinates(CoordinateEncoding):
    """x -> 2x - 1 in [-1, 1]^D."""

    def __init__(self, dims: int) -> None:
        super().__init__(dims)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * x - 1.0


class SineDecoder(Decoder):
    """The Decoder with sin(omega * z) hidden activations and SIREN's initialisation: the first
    layer U(-1/n, 1/n), the others U(-sqrt(6/n)/omega, sqrt(6/n)/omega) (n = fan-in)."""

    def __init__(self, in_dims: int, hidden_width: int, hidden_layers: int, out_dims: int, omega: float) -> None:
        super().__init__(in_dims, hidden_width, hidden_layers, out_dims)
        self.omega = omega
        with torch.no_grad():
            for i, layer in enumerate(self.linears()):
                n = layer.weight.shape[1]
                bound = 1.0 / n if i == 0 else math.sqrt(6.0 / n) / omega
                layer.weight.uniform_(-bound, bound)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h (N, in_dims) -> (N, out_dims)."""
        for layer in self.layers[:-1]:
            h = torch.sin(self.omega * layer(h))
        return self.layers[-1](h)


class MlpField(Field):
    """Centred coordinates + MLP (ReLU or SIREN); plain torch, with no `impl` to choose (its
    registration has none: build_field takes impl="torch" and refuses "warp")."""

    config: MlpConfig

    def __init__(self, config: MlpConfig) -> None:
        super().__init__(config, CentredCoordinates(config.dims))
        if config.activation == "sine":
            self.decoder = SineDecoder(
                config.dims, config.hidden_width, config.hidden_layers, config.out_dims, config.omega
            )

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        return param_groups(self, lr)
