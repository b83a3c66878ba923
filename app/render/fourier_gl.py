"""The Fourier-feature field on the GPU: shaders/fourier.glsl (the features from B, a uniform block)
+ shaders/mlp.glsl with the weights in a float texture (mlp_gl.DecoderTexture)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from fieldscope.app.render.gl_util import include
from fieldscope.app.render.mlp_gl import DecoderTexture, coordinate_defines

if TYPE_CHECKING:
    import moderngl

    from fieldscope.fields.kinds.fourier import FourierConfig

B_BINDING = 1  # uniform block binding of FourierB in fourier.glsl


def pack_frequencies(b: np.ndarray) -> np.ndarray:
    """B (m, D) -> float32 (m, 4), zero-padded (std140 vec4s)."""
    packed = np.zeros((b.shape[0], 4), np.float32)
    packed[:, : b.shape[1]] = b
    return packed


class FourierBuffers(DecoderTexture):
    """The decoder texture plus B."""

    def __init__(
        self, ctx: moderngl.Context, config: FourierConfig, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> None:
        super().__init__(ctx, config, params, mask)
        self.frequencies = ctx.buffer(pack_frequencies(np.asarray(params["encoding.B"])))
        self.objects.append(self.frequencies)

    def bind(self, program: moderngl.Program) -> None:
        super().bind(program)
        self.frequencies.bind_to_uniform_block(B_BINDING)


class FourierGL:
    def glsl(self, config: FourierConfig, params: Mapping[str, np.ndarray]) -> str:
        return include({**coordinate_defines(config, params), "FF_FREQS": config.frequencies}, "fourier.glsl")

    def upload(
        self, ctx: moderngl.Context, config: FourierConfig, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> FourierBuffers:
        return FourierBuffers(ctx, config, params, mask)
