"""Hash collisions of a grid level: for every table entry, how many distinct grid vertices of the
domain [0,1]^D map to it (gpu/hashgrid.py's count_vertices Warp kernel), and the statistics the
Inside panel and the heatmap legend show. Counts depend only on the level layout (dims,
resolution, dense or hashed, T), so they are computed once per layout and cached.

Levels with up to INTERACTIVE_VERTICES vertices are counted at once (about 0.2 s on two cores);
larger ones by `count_job`, a cancellable job that counts a slab of vertex lines per step; levels
with more than MAX_VERTICES vertices are not counted: their statistics are the expectation under a
uniform hash (vertices per entry ~ Poisson(V/T)), and say so."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import warp as wp

from fieldscope.fields.kinds.hashgrid import GridConfig, layout_of
from fieldscope.gpu import hashgrid as kernels
from fieldscope.gpu import runtime
from fieldscope.gpu.hashing import PRIMES

INTERACTIVE_VERTICES = 1 << 26
MAX_VERTICES = 1 << 33
#: Vertices counted per step of a count job (a few tens of milliseconds on two cores).
JOB_SLAB = 1 << 24


@dataclass(frozen=True)
class LevelKey:
    """What a level's collision counts depend on."""

    dims: int
    resolution: int
    hashed: bool
    table_size: int

    @property
    def vertices(self) -> int:
        return (self.resolution + 1) ** self.dims

    @property
    def rows(self) -> int:
        return self.table_size if self.hashed else self.vertices

    @property
    def countable(self) -> bool:
        return self.vertices <= MAX_VERTICES

    @property
    def interactive(self) -> bool:
        return self.vertices <= INTERACTIVE_VERTICES


def level_key(config: GridConfig, level: int) -> LevelKey:
    layout = layout_of(config)
    return LevelKey(config.dims, layout.resolution[level], layout.hashed[level], layout.table_size)


_cache: dict[LevelKey, np.ndarray] = {}
_lock = threading.Lock()


def cached(key: LevelKey) -> np.ndarray | None:
    """The counts (rows,) int32 of a level if they are known."""
    with _lock:
        return _cache.get(key)


def _store(key: LevelKey, counts: np.ndarray) -> np.ndarray:
    counts.setflags(write=False)
    with _lock:
        if len(_cache) >= 32:
            _cache.pop(next(iter(_cache)))
        _cache[key] = counts
    return counts


def count_job(key: LevelKey):
    """Count a level's vertices per entry in slabs of vertex lines, yielding progress (0..1);
    returns the counts (rows,) int32 (also cached). Closing the generator cancels it."""
    if not key.countable:
        raise ValueError(f"{key.vertices:,} vertices are too many to count (at most {MAX_VERTICES:,})")
    runtime.init()
    lines = kernels.vertex_lines(key.dims, key.resolution)
    per_step = max(1, JOB_SLAB // (key.resolution + 1))
    counts = wp.zeros((max(1, runtime.cpu_workers()), key.rows), dtype=int, device="cpu")
    for start in range(0, lines, per_step):
        stop = min(lines, start + per_step)
        kernels.count_vertices(key.dims, key.resolution, key.hashed, key.table_size, counts, (start, stop))
        yield stop / lines
    return _store(key, counts.numpy().sum(axis=0).astype(np.int32))


def count(key: LevelKey) -> np.ndarray:
    """The counts (rows,) int32 of a level, computed now if not cached."""
    known = cached(key)
    if known is not None:
        return known
    job = count_job(key)
    try:
        while True:
            next(job)
    except StopIteration as done:
        return done.value


def counts_for_view(config: GridConfig, level: int) -> np.ndarray | None:
    """Counts to draw now: cached, or counted at once when the level is small enough; None when a
    count job must run first (or the level is too large to count)."""
    key = level_key(config, level)
    known = cached(key)
    if known is not None or not key.interactive:
        return known
    return count(key)


@dataclass(frozen=True)
class CollisionStats:
    """One level's collisions. histogram[n] = entries that n vertices map to; `expected` is True for
    levels too large to count (Poisson expectation)."""

    key: LevelKey
    histogram: np.ndarray
    expected: bool = False

    @property
    def entries(self) -> int:
        return self.key.rows

    @property
    def used(self) -> float:
        """Entries at least one vertex maps to."""
        return float(self.histogram[1:].sum())

    @property
    def colliding(self) -> float:
        """Entries two or more vertices map to."""
        return float(self.histogram[2:].sum())

    @property
    def colliding_share(self) -> float:
        """Share of the level's entries that hold two or more vertices."""
        return self.colliding / self.entries

    @property
    def vertices_colliding_share(self) -> float:
        """Share of the vertices that share their entry with another vertex."""
        n = np.arange(len(self.histogram))
        return float((n[2:] * self.histogram[2:]).sum() / self.key.vertices)

    @property
    def max_count(self) -> int:
        return int(np.flatnonzero(self.histogram > (0.5 if self.expected else 0))[-1])

    def summary(self) -> str:
        key = self.key
        kind = f"hashed into T={key.table_size:,}" if key.hashed else "dense"
        word = "expected " if self.expected else ""
        return (
            f"N={key.resolution} ({kind}): {key.vertices:,} vertices; {word}colliding entries "
            f"{100 * self.colliding_share:.1f}% ({100 * self.used / key.rows:.1f}% used), "
            f"vertices sharing an entry {100 * self.vertices_colliding_share:.1f}%, at most {self.max_count} per entry"
        )


def stats(key: LevelKey, counts: np.ndarray | None = None) -> CollisionStats:
    """Statistics from counts, or the Poisson expectation for a level too large to count."""
    if counts is not None:
        return CollisionStats(key, np.bincount(counts, minlength=2).astype(np.float64))
    rate = key.vertices / key.rows
    top = int(rate + 10 * math.sqrt(rate) + 10)
    n = np.arange(top + 1)
    log_pmf = n * math.log(rate) - rate - np.array([math.lgamma(k + 1) for k in n])
    return CollisionStats(key, key.rows * np.exp(log_pmf), expected=True)


def vertex_rows(vertices: np.ndarray, key: LevelKey) -> np.ndarray:
    """Rows (...) of integer vertices (..., D) in a level: the dense index or the spatial hash."""
    if not key.hashed:
        return sum(vertices[..., d] * (key.resolution + 1) ** d for d in range(key.dims))
    rows = np.zeros(vertices.shape[:-1], np.int64)
    for d in range(key.dims):
        rows ^= (vertices[..., d].astype(np.int64) * PRIMES[d]) & 0xFFFFFFFF
    return rows & (key.table_size - 1)


@dataclass(frozen=True)
class BucketSharing:
    """How a Lagrangian level's points share its buckets. A point serves a vertex of its bucket when
    its mean lies in one of that vertex's cells (|mu - v/N|_inf < 1/N), where the bucket is read.
    Per number of vertices V that map to a bucket (vertices[i]): how many buckets have V
    (buckets[i]), and on average how many of their vertices are served (served[i]) and how many of
    their K points serve one (serving[i])."""

    vertices: np.ndarray
    buckets: np.ndarray
    served: np.ndarray
    serving: np.ndarray
    points: int

    @property
    def serving_share(self) -> float:
        """Share of all the level's points that serve a vertex."""
        return float((self.serving * self.buckets).sum() / max(1, self.points))


def bucket_sharing(key: LevelKey, means: np.ndarray, points_per_bucket: int, counts: np.ndarray) -> BucketSharing:
    """means (R*K, D) of one Lagrangian level (bucket b's points are rows b*K .. b*K+K-1), counts (R,)
    vertices per bucket -> the sharing statistics."""
    n, k, dims = key.resolution, points_per_bucket, key.dims
    bucket = np.arange(means.shape[0]) // k
    cell = np.minimum(np.floor(np.clip(means, 0.0, 1.0) * n), n - 1).astype(np.int64)
    bits = np.array([[(c >> d) & 1 for d in range(dims)] for c in range(1 << dims)])
    corners = cell[:, None, :] + bits[None]  # the vertices whose cells hold the mean
    close = np.abs(means[:, None, :] - corners / n).max(axis=-1) < 1.0 / n
    serves = (vertex_rows(corners, key) == bucket[:, None]) & close  # (P, 2^D)
    vertex_id = sum(corners[..., d] * (n + 1) ** d for d in range(dims))
    pairs = np.unique((bucket[:, None] * key.vertices + vertex_id)[serves])  # distinct (bucket, vertex)
    served = np.bincount(pairs // key.vertices, minlength=counts.shape[0])
    serving = np.bincount(bucket[serves.any(axis=1)], minlength=counts.shape[0])
    values = np.unique(counts)
    by_v = [counts == v for v in values]
    return BucketSharing(
        vertices=values,
        buckets=np.array([m.sum() for m in by_v]),
        served=np.array([served[m].mean() for m in by_v]),
        serving=np.array([serving[m].mean() for m in by_v]),
        points=int(means.shape[0]),
    )
