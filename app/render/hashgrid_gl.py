"""The hash-grid field on the GPU: shaders/hashgrid.glsl (encoding, over the grid levels of
shaders/grid_levels.glsl) + shaders/mlp.glsl (decoder), with their GL objects (table texture,
decoder and level uniform blocks) made from a snapshot. The helpers here (level table, texture
images, defines) serve every grid-based kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fieldscope.app.render import decoder_gl, field_gl
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.hashgrid import layout_of
from fieldscope.gpu.hashing import PRIMES

TABLE_WIDTH = 4096  # HG_WIDTH in grid_levels.glsl
TABLE_UNIT = 1  # texture unit of the table (unit 0 is the view's ground truth)


def level_table(config: Any, mask: tuple[bool, ...], offsets: tuple[int, ...] | None = None) -> np.ndarray:
    """Per level (resolution, first row, hashed, on) -> int32 (L, 4); `offsets` replaces the
    layout's first rows (kinds whose levels live in several tables)."""
    layout = layout_of(config)
    rows = zip(layout.resolution, offsets or layout.offset, layout.hashed, mask, strict=True)
    return np.array([(n, o, int(h), int(on)) for n, o, h, on in rows], dtype=np.int32)


def texels_per_row(features: int) -> int:
    return 2 if features == 8 else 1


def table_image(table: np.ndarray, channels: int | None = None) -> np.ndarray:
    """The table (R, F) as a float image (H, TABLE_WIDTH, C): row r at texel r * texels_per_row
    (C = min(F, 4), or `channels` with the rows zero-padded to it, for one texel per row). One copy:
    a NeRF's table is tens of MB, converted for every new snapshot the view draws."""
    rows, features = table.shape
    table = np.asarray(table, np.float32)
    if channels is not None and channels > features:
        table = np.concatenate([table, np.zeros((rows, channels - features), np.float32)], axis=1)
        features = channels
    channels = min(features, 4)
    texels = np.ascontiguousarray(table).reshape(rows * texels_per_row(features), channels)
    height = -(-texels.shape[0] // TABLE_WIDTH)
    image = np.empty((height * TABLE_WIDTH, channels), np.float32)
    image[: texels.shape[0]] = texels
    image[texels.shape[0] :] = 0.0
    return image.reshape(height, TABLE_WIDTH, channels)


def float_texture(ctx: Any, image: np.ndarray, what: str) -> Any:
    """A float texture of an image (H, W, C) from table_image; ConfigError if OpenGL cannot hold it."""
    limit = ctx.info.get("GL_MAX_TEXTURE_SIZE", 16384)
    if image.shape[0] > limit:
        raise ConfigError(f"the {what} ({image.size:,} floats) is too large for this OpenGL's textures")
    return ctx.texture((image.shape[1], image.shape[0]), image.shape[2], np.ascontiguousarray(image), dtype="f4")


def grid_defines(config: Any, params: Mapping[str, np.ndarray]) -> dict[str, int | str]:
    """grid_levels.glsl's and mlp.glsl's compile-time constants for a grid-based config."""
    return {
        "HG_PRIME_Y": f"{PRIMES[1]}u",
        "HG_PRIME_Z": f"{PRIMES[2]}u",
        "FIELD_DIMS": config.dims,
        "FIELD_LEVELS": config.levels,
        "FIELD_FEATURES": config.features,
        "FIELD_SMOOTH": int(config.interpolation == "smoothstep"),
        "FIELD_LAGRANGE_K": config.lagrange_k if config.interpolation == "lagrange" else 0,
        "FIELD_OUT": config.out_dims,
        "HG_TEXELS": texels_per_row(config.features),
        **decoder_gl.defines(params),
    }


def include(defines: Mapping[str, int | str], name: str) -> str:
    """The GLSL a kind hands the renderer: its defines, then its include."""
    return "\n".join([*(f"#define {key} {value}" for key, value in defines.items()), f'#include "{name}"'])


class GridBuffers:
    """Table texture, decoder and level uniform blocks of one snapshot of a grid-based kind; a kind
    with more textures binds them in `bind_more`."""

    def __init__(self, ctx: Any, config: Any, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]) -> None:
        self.config = config
        self.table_mask = config.table_size - 1
        table = self.grid_table(params)
        self.table = float_texture(ctx, table_image(table), "hash table")
        self.decoder = ctx.buffer(decoder_gl.pack(params))
        self.levels = ctx.buffer(self.level_rows(mask))
        self.objects = [self.table, self.decoder, self.levels]

    def grid_table(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(params["encoding.table"])

    def level_rows(self, mask: tuple[bool, ...]) -> np.ndarray:
        return level_table(self.config, mask)

    def set_level_mask(self, mask: tuple[bool, ...]) -> None:
        self.levels.write(self.level_rows(mask))

    def bind(self, program: Any) -> None:
        self.table.use(location=TABLE_UNIT)
        self.decoder.bind_to_uniform_block(0)
        self.levels.bind_to_uniform_block(1)
        if "hg_table" in program:
            program["hg_table"].value = TABLE_UNIT
        if "hg_table_mask" in program:
            program["hg_table_mask"].value = self.table_mask

    def release(self) -> None:
        for obj in self.objects:
            obj.release()


class HashGridGL:
    def glsl(self, config: Any, params: Mapping[str, np.ndarray]) -> str:
        return include(grid_defines(config, params), "hashgrid.glsl")

    def upload(self, ctx: Any, config: Any, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]) -> GridBuffers:
        return GridBuffers(ctx, config, params, mask)


field_gl.register("hashgrid", HashGridGL())
