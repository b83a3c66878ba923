"""The hash-grid field on the GPU: shaders/hashgrid.glsl (encoding) + shaders/mlp.glsl (decoder),
with their GL objects (table texture, decoder and level uniform blocks) made from a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.render import decoder_gl, field_gl
from fields.errors import ConfigError
from fields.hashgrid import layout_of

TABLE_WIDTH = 4096  # HG_WIDTH in hashgrid.glsl
TABLE_UNIT = 1  # texture unit of the table (unit 0 is the view's ground truth)


def level_table(config: Any, mask: tuple[bool, ...]) -> np.ndarray:
    """Per level (resolution, first row, hashed, on) -> int32 (L, 4)."""
    layout = layout_of(config)
    rows = zip(layout.resolution, layout.offset, layout.hashed, mask, strict=True)
    return np.array([(n, o, int(h), int(on)) for n, o, h, on in rows], dtype=np.int32)


def texels_per_row(features: int) -> int:
    return 2 if features == 8 else 1


def table_image(table: np.ndarray) -> np.ndarray:
    """The table (R, F) as a float image (H, TABLE_WIDTH, C): row r at texel r * texels_per_row."""
    rows, features = table.shape
    channels = min(features, 4)
    texels = table.astype(np.float32).reshape(rows * texels_per_row(features), channels)
    height = -(-texels.shape[0] // TABLE_WIDTH)
    image = np.zeros((height * TABLE_WIDTH, channels), np.float32)
    image[: texels.shape[0]] = texels
    return image.reshape(height, TABLE_WIDTH, channels)


class HashGridBuffers:
    """Table texture, decoder and level uniform blocks of one snapshot."""

    def __init__(self, ctx: Any, config: Any, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]) -> None:
        self.config = config
        self.table_mask = config.table_size - 1
        image = table_image(np.asarray(params["encoding.table"]))
        limit = ctx.info.get("GL_MAX_TEXTURE_SIZE", 16384)
        if image.shape[0] > limit:
            raise ConfigError(f"the hash table ({image.size:,} floats) is too large for this OpenGL's textures")
        self.table = ctx.texture((image.shape[1], image.shape[0]), image.shape[2], image.tobytes(), dtype="f4")
        self.decoder = ctx.buffer(decoder_gl.pack(params))
        self.levels = ctx.buffer(level_table(config, mask))

    def set_level_mask(self, mask: tuple[bool, ...]) -> None:
        self.levels.write(level_table(self.config, mask))

    def bind(self, program: Any) -> None:
        self.table.use(location=TABLE_UNIT)
        self.decoder.bind_to_uniform_block(0)
        self.levels.bind_to_uniform_block(1)
        if "hg_table" in program:
            program["hg_table"].value = TABLE_UNIT
        if "hg_table_mask" in program:
            program["hg_table_mask"].value = self.table_mask

    def release(self) -> None:
        for obj in (self.table, self.decoder, self.levels):
            obj.release()


class HashGridGL:
    def glsl(self, config: Any, params: Mapping[str, np.ndarray]) -> str:
        defines = {
            "FIELD_DIMS": config.dims,
            "FIELD_LEVELS": config.levels,
            "FIELD_FEATURES": config.features,
            "FIELD_SMOOTH": int(config.interpolation == "smoothstep"),
            "FIELD_OUT": config.out_dims,
            "HG_TEXELS": texels_per_row(config.features),
            **decoder_gl.defines(params),
        }
        lines = [f"#define {key} {value}" for key, value in defines.items()]
        return "\n".join([*lines, '#include "hashgrid.glsl"'])

    def upload(
        self, ctx: Any, config: Any, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> HashGridBuffers:
        return HashGridBuffers(ctx, config, params, mask)


field_gl.register("hashgrid", HashGridGL())
