"""GL helpers every field kind's *_gl.py uses: the GLSL text a kind hands the renderer (its defines,
then its include), and rows of floats (a table, weights) as a float texture."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from fieldscope.fields.errors import ConfigError

if TYPE_CHECKING:
    import moderngl

TABLE_WIDTH = 4096  # HG_WIDTH in grid_levels.glsl
TABLE_UNIT = 1  # texture unit of a kind's table (unit 0 is the view's ground truth)


def include(defines: Mapping[str, int | str], name: str) -> str:
    """The GLSL a kind hands the renderer: its defines, then its include."""
    return "\n".join([*(f"#define {key} {value}" for key, value in defines.items()), f'#include "{name}"'])


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


def float_texture(ctx: moderngl.Context, image: np.ndarray, what: str) -> moderngl.Texture:
    """A float texture of an image (H, W, C) from table_image; ConfigError if OpenGL cannot hold it."""
    limit = ctx.info.get("GL_MAX_TEXTURE_SIZE", 16384)
    if image.shape[0] > limit:
        raise ConfigError(f"the {what} ({image.size:,} floats) is too large for this OpenGL's textures")
    return ctx.texture((image.shape[1], image.shape[0]), image.shape[2], np.ascontiguousarray(image), dtype="f4")
