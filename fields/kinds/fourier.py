"""Random Fourier features (Tancik et al. 2020): gamma(x) = [cos(2 pi B x), sin(2 pi B x)] with a
fixed Gaussian B (m, D) of standard deviation sigma, then the fields' MLP decoder. B is drawn once
when the field is built and travels in snapshots as a buffer (it is not trained, so it is no
parameter). No Warp kernel: the encoding is one matrix product and two elementwise functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from fieldscope.fields.config import Capabilities, check
from fieldscope.fields.field import Field
from fieldscope.fields.kinds.mlp import CoordinateEncoding, check_decoder_settings, param_groups

#: The view keeps B in a uniform block of vec4s (16 KiB guaranteed).
MAX_FREQUENCIES = 1024


@dataclass(frozen=True)
class FourierConfig:
    """m = `frequencies` random frequencies of standard deviation `sigma` (cycles per unit); Adam at
    `learning_rate` of its own (not the scene's grid-kind rate)."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    kind: str = "fourier"
    dims: int = 2
    out_dims: int = 3
    frequencies: int = 256
    sigma: float = 10.0
    hidden_width: int = 128
    hidden_layers: int = 2
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        check(self.kind == "fourier", f"kind must be 'fourier', not {self.kind!r}")
        check_decoder_settings(self)
        check(self.learning_rate > 0, f"learning rate must be positive, not {self.learning_rate}")
        check(
            1 <= self.frequencies <= MAX_FREQUENCIES,
            f"frequencies must be between 1 and {MAX_FREQUENCIES}, not {self.frequencies}",
        )
        check(self.sigma > 0, f"sigma must be positive, not {self.sigma}")


class FourierFeatures(CoordinateEncoding):
    """x (N, D) -> (N, 2m): cosines of the m phases, then their sines."""

    B: torch.Tensor

    def __init__(self, dims: int, frequencies: int, sigma: float) -> None:
        super().__init__(2 * frequencies)
        self.register_buffer("B", torch.randn(frequencies, dims) * sigma)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        phase = (2.0 * math.pi) * (x.to(self.B.dtype) @ self.B.T)
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=1)


class FourierField(Field):
    """Random Fourier features + MLP decoder; plain torch, like MlpField (no `impl`)."""

    config: FourierConfig

    def __init__(self, config: FourierConfig) -> None:
        super().__init__(config, FourierFeatures(config.dims, config.frequencies, config.sigma))

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        return param_groups(self, lr)
