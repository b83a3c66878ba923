"""Heatmaps over the view (shaders/heatmaps.glsl): what each one shows, its value range and legend
words for one frame, and the texture of a level's collision counts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import moderngl
import numpy as np

from fieldscope.app.render.camera import ViewCamera
from fieldscope.app.render.gl_util import table_image
from fieldscope.app.render.shaders import Uniform
from fieldscope.app.state import collisions
from fieldscope.fields.kinds.hashgrid import GridConfig
from fieldscope.fields.training.trainer import Snapshot

if TYPE_CHECKING:
    from fieldscope.app.render.renderer import Renderer, ViewOptions

#: Heatmap names, in the order of u_heat's values (0 none, 1, 2, 3).
HEATMAPS = ("none", "collisions", "contribution", "points_per_vertex")
COUNTS_UNIT = 4  # texture unit of the counts (0 truth, 1 table, 2-3 Gaussian-bucket points)


@dataclass(frozen=True)
class Heat:
    """A heatmap resolved for one frame: u_heat's value, the level, the colour scale (value at the
    top of the colour map), the legend's words, and the collision counts when it shows them.
    `kind` 0 means nothing is drawn (`note` says why, if something was asked for)."""

    kind: int = 0
    level: int = 0
    scale: float = 1.0
    title: str = ""
    low: str = ""
    high: str = ""
    note: str = ""
    counts: np.ndarray | None = None

    def uniforms(self, opacity: float) -> dict[str, Uniform]:
        return {
            "u_heat": self.kind,
            "u_heat_level": self.level,
            "u_heat_scale": float(self.scale),
            "u_heat_opacity": float(opacity),
            "u_counts": COUNTS_UNIT,
        }


def points_per_bucket(config: GridConfig) -> int:
    return int(config.points_per_bucket) if config.capabilities.lagrangian_points else 0


def lagrangian_start(config: GridConfig) -> int:
    """First Lagrangian level of a Gaussian-bucket config (levels for a hash grid: none)."""
    return config.levels - (config.lagrangian_levels if config.capabilities.lagrangian_points else 0)


def resolve(renderer: Renderer, snapshot: Snapshot, camera: ViewCamera, options: ViewOptions) -> Heat:
    """What `options.heatmap` means for this snapshot; ValueError for an unknown name."""
    if options.heatmap not in HEATMAPS:
        raise ValueError(f"unknown heatmap {options.heatmap!r} (known: {', '.join(HEATMAPS)})")
    config = snapshot.config
    if options.heatmap == "none":
        return Heat()
    if not config.capabilities.hash_table:
        return Heat(note=f"no {options.heatmap} heatmap for {config.kind} fields")
    level = max(0, min(config.levels - 1, int(options.heat_level)))
    if options.heatmap == "collisions":
        return collision_heat(config, level)
    if options.heatmap == "contribution":
        scale = options.heat_scale or auto_scale(renderer, snapshot, camera, options, level)
        return Heat(2, level, scale, f"level {level} contribution |f - f without it|", "0", f"{scale:.3g}")
    k = points_per_bucket(config)
    if k == 0 or level < lagrangian_start(config):
        return Heat(note=f"level {level} has no Lagrangian points")
    return Heat(3, level, float(k), f"level {level} points serving each vertex", "0", f"{k} (all K)")


def collision_heat(config: GridConfig, level: int) -> Heat:
    counts = collisions.counts_for_view(config, level)
    key = collisions.level_key(config, level)
    if counts is None:
        what = "counting" if key.countable else "too many vertices to count"
        return Heat(note=f"level {level} collisions: {what} ({key.vertices:,} vertices)")
    stats = collisions.stats(key, counts)
    most = stats.max_count
    kind = f"hashed, T={key.table_size:,}" if key.hashed else "dense"
    title = f"level {level} (N={key.resolution}, {kind}): vertices per entry"
    share = f"; {100 * stats.colliding_share:.1f}% of entries collide"
    return Heat(1, level, float(most), title + share, "1", str(most), counts=counts)


def auto_scale(renderer: Renderer, snapshot: Snapshot, camera: ViewCamera, options: ViewOptions, level: int) -> float:
    """The contribution at full colour: the 99th percentile over a small picture of the view."""
    width = 48
    height = max(1, round(width * options.height / max(1, options.width)))
    mode = "heat_raw"
    small = replace(options, width=width, height=height, mode=mode, heat_level=level, heat_scale=1.0)
    values = renderer.draw(snapshot, camera, small)
    shown = values[..., 3] > 0.5
    if not shown.any():
        return 1.0
    return float(max(np.percentile(values[..., 0][shown], 99), 1e-6))


class CountsTexture:
    """The counts of one level as a float texture (rows laid out as the hash table's)."""

    def __init__(self) -> None:
        self.counts: np.ndarray | None = None
        self.texture: moderngl.Texture | None = None

    def bind(self, ctx: moderngl.Context, counts: np.ndarray | None) -> None:
        if counts is None:
            counts = np.zeros(1, np.int32)
        if counts is not self.counts:
            self.release()
            image = table_image(counts.astype(np.float32)[:, None])
            self.texture = ctx.texture((image.shape[1], image.shape[0]), 1, image.tobytes(), dtype="f4")
            self.counts = counts
        self.texture.use(location=COUNTS_UNIT)

    def release(self) -> None:
        if self.texture is not None:
            self.texture.release()
        self.texture = self.counts = None
