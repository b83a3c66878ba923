"""The NeRF appearance head: colour from a field's geometry features and the view direction, the
direction encoded in real spherical harmonics (degree 4: 16 values, as Instant-NGP)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from fieldscope.fields.config import check
from fieldscope.fields.field import Decoder


def sh_encode(d: torch.Tensor, degree: int = 4) -> torch.Tensor:
    """Real spherical harmonics of unit directions d (N, 3) up to `degree` (1..4) -> (N, degree^2)."""
    check(1 <= degree <= 4, f"spherical-harmonics degree must be 1 to 4, not {degree}")
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, 0.28209479177387814)]
    if degree > 1:
        out += [-0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x]
    if degree > 2:
        xy, xz, yz, x2, y2, z2 = x * y, x * z, y * z, x * x, y * y, z * z
        out += [
            1.0925484305920792 * xy,
            -1.0925484305920792 * yz,
            0.94617469575755997 * z2 - 0.31539156525251999,
            -1.0925484305920792 * xz,
            0.54627421529603959 * (x2 - y2),
        ]
    if degree > 3:
        out += [
            0.59004358992664352 * y * (-3.0 * x2 + y2),
            2.8906114426405538 * xy * z,
            0.45704579946446572 * y * (1.0 - 5.0 * z2),
            0.3731763325901154 * z * (5.0 * z2 - 3.0),
            0.45704579946446572 * x * (1.0 - 5.0 * z2),
            1.4453057213202769 * z * (x2 - y2),
            0.59004358992664352 * x * (-x2 + 3.0 * y2),
        ]
    return torch.stack(out, dim=-1)


@dataclass(frozen=True)
class AppearanceConfig:
    """Colour MLP settings (Instant-NGP: 16 field outputs + degree-4 SH, two hidden layers of 64)."""

    features: int = 16
    sh_degree: int = 4
    hidden_width: int = 64
    hidden_layers: int = 2

    def __post_init__(self) -> None:
        check(self.features >= 1, f"the colour head needs at least one feature, not {self.features}")
        check(1 <= self.sh_degree <= 4, f"spherical-harmonics degree must be 1 to 4, not {self.sh_degree}")
        check(self.hidden_width >= 1 and self.hidden_layers >= 0, "colour head width >= 1 and layers >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AppearanceHead(nn.Module):
    """(features (N, k), unit view directions (N, 3)) -> colour (N, 3) in (0, 1)."""

    def __init__(self, config: AppearanceConfig) -> None:
        super().__init__()
        self.config = config
        inputs = config.features + config.sh_degree**2
        self.mlp = Decoder(inputs, config.hidden_width, config.hidden_layers, 3)

    def forward(self, features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        encoded = sh_encode(directions, self.config.sh_degree).to(features.dtype)
        return torch.sigmoid(self.mlp(torch.cat([features, encoded], dim=-1)))
