"""The hash-grid field on the GPU: shaders/hashgrid.glsl (encoding, over the grid levels of
shaders/grid_levels.glsl) + shaders/mlp.glsl (decoder), with their GL objects (table texture,
decoder and level uniform blocks) made from a snapshot. The helpers here (level table, defines,
GridBuffers) serve every grid-based kind; the ones every kind uses are in app/render/gl_util.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from fieldscope.app.render import decoder_gl
from fieldscope.app.render.gl_util import TABLE_UNIT, float_texture, include, table_image, texels_per_row
from fieldscope.fields.kinds.hashgrid import GridConfig, layout_of
from fieldscope.gpu.hashing import PRIMES

if TYPE_CHECKING:
    import moderngl


def level_table(config: GridConfig, mask: tuple[bool, ...], offsets: tuple[int, ...] | None = None) -> np.ndarray:
    """Per level (resolution, first row, hashed, on) -> int32 (L, 4); `offsets` replaces the
    layout's first rows (kinds whose levels live in several tables)."""
    layout = layout_of(config)
    rows = zip(layout.resolution, offsets or layout.offset, layout.hashed, mask, strict=True)
    return np.array([(n, o, int(h), int(on)) for n, o, h, on in rows], dtype=np.int32)


def grid_defines(config: GridConfig, params: Mapping[str, np.ndarray]) -> dict[str, int | str]:
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


class GridBuffers:
    """Table texture, decoder and level uniform blocks of one snapshot of a grid-based kind; a kind
    with more textures binds them in `bind_more`."""

    def __init__(
        self, ctx: moderngl.Context, config: GridConfig, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> None:
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

    def bind(self, program: moderngl.Program) -> None:
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
    def glsl(self, config: GridConfig, params: Mapping[str, np.ndarray]) -> str:
        return include(grid_defines(config, params), "hashgrid.glsl")

    def upload(
        self, ctx: moderngl.Context, config: GridConfig, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> GridBuffers:
        return GridBuffers(ctx, config, params, mask)
