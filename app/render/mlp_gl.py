"""The plain-MLP field on the GPU: shaders/mlp_field.glsl (centred coordinates) + shaders/mlp.glsl
with its weights in a float texture (a few hundred thousand weights do not fit a uniform block); a
SIREN's omega is folded into its hidden layers' weights, so the shader's activation is plain sin.
The texture decoder here serves every coordinate-network kind (fourier_gl.py too). (The kind's
shader is not shaders/mlp.glsl: that name is the decoder's.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from fieldscope.app.render import decoder_gl
from fieldscope.app.render.gl_util import TABLE_UNIT, float_texture, include, table_image

if TYPE_CHECKING:
    import moderngl

    from fieldscope.fields.kinds.fourier import FourierConfig
    from fieldscope.fields.kinds.mlp import MlpConfig

DECODER_UNIT = TABLE_UNIT  # texture unit of the weights (these kinds have no hash table)


def decoder_params(config: MlpConfig | FourierConfig, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The decoder's weights as the shader reads them: a SIREN's hidden layers times omega."""
    found = decoder_gl.layers(params)
    scale = config.omega if getattr(config, "activation", "relu") == "sine" else 1.0
    out = {}
    for i, (weight, bias) in enumerate(found):
        factor = scale if i < len(found) - 1 else 1.0
        out[f"decoder.layers.{i}.weight"] = np.asarray(weight, np.float32) * np.float32(factor)
        out[f"decoder.layers.{i}.bias"] = np.asarray(bias, np.float32) * np.float32(factor)
    return out


def coordinate_defines(config: MlpConfig | FourierConfig, params: Mapping[str, np.ndarray]) -> dict[str, int]:
    """mlp.glsl's constants (texture storage; sine activation for a SIREN) and the field's shape."""
    sine = {"MLP_SINE": 1} if getattr(config, "activation", "relu") == "sine" else {}
    return {
        "FIELD_DIMS": config.dims,
        "FIELD_OUT": config.out_dims,
        **decoder_gl.defines(params, texture=True),
        **sine,
    }


class DecoderTexture:
    """One snapshot's decoder in a float texture, and the level mask's one entry (a uniform)."""

    def __init__(
        self,
        ctx: moderngl.Context,
        config: MlpConfig | FourierConfig,
        params: Mapping[str, np.ndarray],
        mask: tuple[bool, ...],
    ) -> None:
        packed = decoder_gl.pack(decoder_params(config, params))
        self.weights = float_texture(ctx, table_image(packed), "decoder")
        self.objects = [self.weights]
        self.on = float(mask[0])

    def set_level_mask(self, mask: tuple[bool, ...]) -> None:
        self.on = float(mask[0])

    def bind(self, program: moderngl.Program) -> None:
        self.weights.use(location=DECODER_UNIT)
        program["mlp_tex"].value = DECODER_UNIT
        if "cf_on" in program:
            program["cf_on"].value = self.on

    def release(self) -> None:
        for obj in self.objects:
            obj.release()


class MlpGL:
    def glsl(self, config: MlpConfig, params: Mapping[str, np.ndarray]) -> str:
        return include(coordinate_defines(config, params), "mlp_field.glsl")

    def upload(
        self, ctx: moderngl.Context, config: MlpConfig, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> DecoderTexture:
        return DecoderTexture(ctx, config, params, mask)
