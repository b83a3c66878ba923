"""The Inside panel's statistics without a window: how Lagrangian points share colliding buckets
(against a loop over every point and vertex), the points' density histogram, the level strip's
states, and which heatmaps a field cannot show."""

from __future__ import annotations

import numpy as np

from fieldscope.app.state import collisions, inside
from fieldscope.app.state.levels import LevelState
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from tests.app.test_inside import brute_force_counts, lattice_snapshot


def brute_force_sharing(n: int, table: int, k: int, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket: distinct vertices served by its points, and its points that serve one."""
    axes = [np.arange(n + 1)] * 2
    vertices = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    key = collisions.LevelKey(2, n, True, table)
    rows = collisions.vertex_rows(vertices, key)
    served, serving = np.zeros(table, int), np.zeros(table, int)
    for bucket in range(table):
        mine = vertices[rows == bucket] / n
        points = means[bucket * k : bucket * k + k]
        near = np.abs(points[:, None, :] - mine[None]).max(axis=-1) < 1.0 / n  # (K, vertices)
        served[bucket] = near.any(axis=0).sum()
        serving[bucket] = near.any(axis=1).sum()
    return served, serving


def test_bucket_sharing_equals_a_loop_over_points_and_vertices() -> None:
    n, table, k = 40, 1024, 3  # 1681 vertices hashed into 1024 buckets
    key = collisions.LevelKey(2, n, True, table)
    counts = brute_force_counts(2, n, True, table)
    rng = np.random.default_rng(0)
    means = rng.uniform(-0.05, 1.05, (table, k, 2))
    vertices = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"), -1).reshape(-1, 2)
    home = np.zeros((table, 2))
    home[collisions.vertex_rows(vertices, key)] = vertices / n  # one vertex of each used bucket
    means[:, 0] = home + rng.uniform(-1.2, 1.2, (table, 2)) / n  # the first point near it, or not
    means = means.reshape(-1, 2)
    sharing = collisions.bucket_sharing(key, means, k, counts)
    served, serving = brute_force_sharing(n, table, k, means)
    assert list(sharing.vertices) == sorted(set(counts.tolist())) and counts.max() >= 3
    for i, v in enumerate(sharing.vertices):
        group = counts == v
        assert sharing.buckets[i] == group.sum()
        assert np.isclose(sharing.served[i], served[group].mean())
        assert np.isclose(sharing.serving[i], serving[group].mean())
    assert np.isclose(sharing.serving_share, serving.sum() / len(means))
    assert 0.1 < sharing.serving_share < 1 / k


def test_point_stats_count_points_and_their_density() -> None:
    snapshot = lattice_snapshot(2)
    (stats,) = inside.point_stats(snapshot)
    means = np.asarray(snapshot.params["encoding.lagrangian.means"])
    assert stats.count == len(means) == 81 and stats.outside == 0.0
    cells = inside.DENSITY_CELLS[2]
    assert stats.histogram.sum() == cells**2
    assert (np.arange(len(stats.histogram)) * stats.histogram).sum() == 81
    flat = (means[:, 0] * cells).astype(int) + cells * (means[:, 1] * cells).astype(int)
    assert stats.histogram[1] == (np.bincount(flat) == 1).sum()


def test_level_strip_states_follow_toggles_lod_and_schedule() -> None:
    levels = LevelState.all_on(6).toggled(1, False).with_lod(4).with_schedule(True, step=0, every=10)
    assert levels.states(step=0) == ("on", "off", "waiting", "waiting", "waiting", "lod")
    assert levels.states(step=25) == ("on", "off", "on", "on", "waiting", "lod")
    caption = levels.caption(step=25)
    assert caption.startswith("3 of 6 levels on") and "LOD cut after level 4" in caption
    assert "coarse to fine: 4 on, +1 every 10 steps" in caption
    assert LevelState.all_on(3).caption() == "3 of 3 levels on"


def test_heatmaps_a_field_cannot_show_are_named() -> None:
    grid = HashGridConfig(dims=2, levels=4, log2_table_size=10)
    buckets = GaussianBucketsConfig(dims=2, levels=4, lagrangian_levels=2, log2_table_size=10)
    assert inside.heatmap_problem(grid, "collisions", 3) == ""
    assert "no Lagrangian points" in inside.heatmap_problem(grid, "points_per_vertex", 3)
    assert inside.heatmap_problem(buckets, "points_per_vertex", 2) == ""
    assert "levels 2..3 have them" in inside.heatmap_problem(buckets, "points_per_vertex", 1)
