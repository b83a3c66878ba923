"""The Laplacian-block field (MINER) on the GPU: shaders/laplacian_blocks.glsl, with the GL objects
made from a snapshot: every block MLP's weights (a float texture: on llvmpipe a texel fetch per pixel
costs several times less than a storage-buffer load), the block -> weight row table (a storage
buffer), and per scale its block grid and whether it is on (uniform arrays).

The view's levels are the field's: level l (coarse to fine) is scale J-1-l, so the level-of-detail
cut at level l shows the reconstruction at scale J-1-l."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch

from fieldscope.app.render.gl_util import TABLE_UNIT, float_texture, include, table_image
from fieldscope.fields import reference
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.laplacian_blocks.layout import sample_counts, scale_layout

if TYPE_CHECKING:
    import moderngl

    from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig

SLOTS_BINDING = 1  # storage buffer binding of the block table in laplacian_blocks.glsl
WEIGHTS_UNIT = TABLE_UNIT  # texture unit of the weights (this kind has no hash table)


def vec4s(n: int) -> int:
    return (n + 3) // 4


def row_vec4s(config: LaplacianBlocksConfig) -> int:
    """vec4s per packed weight row (LB_ROW4): each layer's fan_in + 1 rows of ceil(fan_out/4) vec4s."""
    h4, c4 = vec4s(config.hidden_width), vec4s(config.out_dims)
    return (
        (config.dims + 1) * h4 + (config.layers - 2) * (config.hidden_width + 1) * h4 + (config.hidden_width + 1) * c4
    )


def pack_weights(config: LaplacianBlocksConfig, weights: np.ndarray) -> np.ndarray:
    """Weight rows (R, P) in the kernels' layout -> float32 (max(R, 1) * LB_ROW4, 4) in the shader's:
    per layer W (fan_in, fan_out) then b, fan_out zero-padded to a multiple of 4."""
    rows = torch.tensor(np.asarray(weights, np.float32))
    if rows.shape[0] == 0:  # no block has an MLP yet: one zero row (GL buffers are never empty)
        rows = torch.zeros(1, config.row_length)
    parts = []
    for w, b in reference.block_layers(rows, *config.mlp):
        layer = torch.cat([w, b[:, None, :]], dim=1)  # (R, fan_in + 1, fan_out)
        pad = 4 * vec4s(layer.shape[2]) - layer.shape[2]
        parts.append(torch.nn.functional.pad(layer, (0, pad)).reshape(rows.shape[0], -1))
    packed = torch.cat(parts, dim=1).numpy()
    assert packed.shape[1] == 4 * row_vec4s(config)
    return np.ascontiguousarray(packed.reshape(-1, 4))


def scale_tables(config: LaplacianBlocksConfig, mask: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per scale (0 finest): (blocks x, y, z, first slot) int32 (J, 4) and (blocks per unit of
    coordinate x, y, z, on) float32 (J, 4); `mask` is the level mask (coarse to fine)."""
    on_by_scale = tuple(reversed(mask))
    blocks = np.ones((config.scales, 4), np.int32)
    inv = np.ones((config.scales, 4), np.float32)
    for s in scale_layout(config):
        blocks[s.scale, : config.dims] = s.blocks
        blocks[s.scale, 3] = s.first
        inv[s.scale, : config.dims] = [np.float32(n / s.extent) for n in config.size]  # as the kernels' table
        inv[s.scale, 3] = float(on_by_scale[s.scale])
    return blocks, inv


def sample_tables(config: LaplacianBlocksConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per scale (0 finest): samples per axis inside the signal (x, y, z, 0) int32 (J, 4) and samples
    per unit of coordinate (x, y, z, 0) float32 (J, 4), as the kernels' tables."""
    samples = np.ones((config.scales, 4), np.int32)
    per_unit = np.ones((config.scales, 4), np.float32)
    for j in range(config.scales):
        samples[j, : config.dims] = sample_counts(config, j)
        per_unit[j, : config.dims] = [np.float32(n / (1 << j)) for n in config.size]
    return samples, per_unit


def storage_buffer(ctx: moderngl.Context, data: np.ndarray, what: str) -> moderngl.Buffer:
    """A storage buffer of `data`; ConfigError if this OpenGL cannot bind one that large."""
    limit = ctx.info.get("GL_MAX_SHADER_STORAGE_BLOCK_SIZE", 1 << 27)
    if data.nbytes > limit:
        raise ConfigError(
            f"the {what} ({data.nbytes / 2**20:.0f} MiB) is too large for this OpenGL (at most {limit / 2**20:.0f} MiB)"
        )
    return ctx.buffer(data.tobytes())


class LaplacianBlocksBuffers:
    """The weights (texture) and the slot table (storage buffer) of one snapshot, and the scale tables."""

    def __init__(
        self,
        ctx: moderngl.Context,
        config: LaplacianBlocksConfig,
        params: Mapping[str, np.ndarray],
        mask: tuple[bool, ...],
    ) -> None:
        self.config = config
        packed = pack_weights(config, np.asarray(params["weights"]))
        self.weights = float_texture(ctx, table_image(packed), "block weights")
        slots = np.ascontiguousarray(params["slots"], np.int32)
        self.slots = storage_buffer(ctx, slots, "block table")
        self.set_level_mask(mask)

    def set_level_mask(self, mask: tuple[bool, ...]) -> None:
        self.blocks, self.inv_extent = scale_tables(self.config, mask)
        self.samples, self.sample_scale = sample_tables(self.config)

    def bind(self, program: moderngl.Program) -> None:
        self.weights.use(location=WEIGHTS_UNIT)
        self.slots.bind_to_storage_buffer(SLOTS_BINDING)
        tables = {
            "lb_blocks": self.blocks,
            "lb_inv_extent": self.inv_extent,
            "lb_samples": self.samples,
            "lb_sample_scale": self.sample_scale,
        }
        for name, value in tables.items():
            if name in program:
                program[name].write(value.tobytes())
        if "lb_weights" in program:
            program["lb_weights"].value = WEIGHTS_UNIT
        if "lb_omega" in program:
            program["lb_omega"].value = float(self.config.omega)

    def release(self) -> None:
        self.weights.release()
        self.slots.release()


class LaplacianBlocksGL:
    def glsl(self, config: LaplacianBlocksConfig, params: Mapping[str, np.ndarray]) -> str:
        defines = {
            "FIELD_DIMS": config.dims,
            "FIELD_OUT": config.out_dims,
            "LB_SCALES": config.scales,
            "LB_HIDDEN": config.hidden_width,
            "LB_LAYERS": config.layers,
            "LB_ROW4": row_vec4s(config),
            "LB_SIDE": config.block_size,
        }
        return include(defines, "laplacian_blocks.glsl")

    def upload(
        self,
        ctx: moderngl.Context,
        config: LaplacianBlocksConfig,
        params: Mapping[str, np.ndarray],
        mask: tuple[bool, ...],
    ) -> LaplacianBlocksBuffers:
        return LaplacianBlocksBuffers(ctx, config, params, mask)
