"""What the Inside panel shows about the current field, from a snapshot: a level's collisions (and
how a Lagrangian level's points share its buckets), the Lagrangian points' counts and densities,
and how much each level moves the output. Headless, except `level_contributions`, which draws
small pictures with the renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from fieldscope.app.render import overlays
from fieldscope.app.render.camera import Camera2D, ViewCamera
from fieldscope.app.render.heatmaps import lagrangian_start, points_per_bucket
from fieldscope.app.render.renderer import Renderer, ViewOptions
from fieldscope.app.state import collisions
from fieldscope.app.state.jobs import JobSteps
from fieldscope.fields.config import FieldConfig
from fieldscope.fields.training.trainer import Snapshot

#: Cells per axis of the grid the points' density histogram counts in.
DENSITY_CELLS = {2: 32, 3: 16}


def grid_level_count(config: FieldConfig) -> int:
    """Levels that have collision counts (grid-based kinds; 0 for others)."""
    return int(config.levels) if config.capabilities.hash_table else 0


@dataclass(frozen=True)
class CollisionReport:
    stats: collisions.CollisionStats
    sharing: collisions.BucketSharing | None = None


def heatmap_problem(config: FieldConfig, name: str, level: int) -> str:
    """Why heatmap `name` of `level` cannot be drawn for fields of `config` ("" when it can)."""
    if name == "none":
        return ""
    if not grid_level_count(config):
        return f"no {name} heatmap for {config.kind} fields (they have no grid levels)"
    if name == "points_per_vertex" and (not points_per_bucket(config) or level < lagrangian_start(config)):
        first = lagrangian_start(config)
        where = f"levels {first}..{config.levels - 1} have them" if points_per_bucket(config) else "none here"
        return f"level {level} has no Lagrangian points ({where})"
    return ""


def collision_report(snapshot: Snapshot, level: int) -> CollisionReport | None:
    """A level's collision statistics (counted, or expected for levels too large to count), and
    for a Lagrangian level how its points share the buckets; None while the counts are not known
    yet (the view counts small levels, a job large ones). Safe off the UI thread: it only reads
    cached counts and never launches a kernel."""
    config = snapshot.config
    key = collisions.level_key(config, level)
    counts = collisions.cached(key)
    if counts is None and key.countable:
        return None
    stats = collisions.stats(key, counts)
    sharing = None
    if counts is not None and points_per_bucket(config) and level >= lagrangian_start(config):
        sets = {s.level: s for s in overlays.lagrangian_levels(snapshot)}
        sharing = collisions.bucket_sharing(key, sets[level].means, points_per_bucket(config), counts)
    return CollisionReport(stats, sharing)


def count_job(key: collisions.LevelKey, level: int, on_done: Callable[[], None]) -> JobSteps:
    """The count of a large level as a window job; on_done() runs when the counts are cached."""
    yield from collisions.count_job(key)
    on_done()
    return f"level {level}: counted {key.vertices:,} vertices into {key.rows:,} entries"


@dataclass(frozen=True)
class PointStats:
    """One Lagrangian level's points: how many, the share outside the domain, and the density
    histogram (histogram[n] = cells of a DENSITY_CELLS^D grid holding n points)."""

    level: int
    count: int
    outside: float
    sigma: float
    histogram: np.ndarray


def point_stats(snapshot: Snapshot) -> list[PointStats]:
    found = []
    for s in overlays.lagrangian_levels(snapshot):
        dims = s.means.shape[1]
        cells = DENSITY_CELLS[dims]
        inside = np.all((s.means >= 0.0) & (s.means <= 1.0), axis=1)
        index = np.minimum((s.means[inside] * cells).astype(np.int64), cells - 1)
        flat = sum(index[:, d] * cells**d for d in range(dims))
        per_cell = np.bincount(flat, minlength=cells**dims)
        found.append(PointStats(s.level, s.total, float(1.0 - inside.mean()), s.sigma, np.bincount(per_cell)))
    return found


def level_contributions(
    renderer: Renderer, snapshot: Snapshot, camera: ViewCamera, options: ViewOptions, size: int = 40
) -> np.ndarray:
    """(L,) mean over a small picture of |f - f without level l| (0 for levels that are off): the
    whole image in 2D, the view's slice plane in 3D."""
    config = snapshot.config
    if not grid_level_count(config):
        return np.zeros(0)
    whole = Camera2D() if config.dims == 2 else camera
    small = replace(options, width=size, height=max(1, size * 3 // 4), mode="heat_raw", heatmap="contribution")
    means = []
    for level in range(config.levels):
        values = renderer.draw(snapshot, whole, replace(small, heat_level=level, heat_scale=1.0))
        shown = values[..., 3] > 0.5
        means.append(float(values[..., 0][shown].mean()) if shown.any() else 0.0)
    return np.array(means)
