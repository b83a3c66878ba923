"""Training curves for the plots (loss and the task's quality metric against training time) and the
steps/s figure, collected from the snapshots the trainer publishes."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from fieldscope.app.state import blocks
from fieldscope.fields.training.trainer import Snapshot

#: The quality metrics a task's plot shows, first the one on its axis: PSNR for pictures, IoU (and
#: Chamfer once a full evaluation knows it) for shapes.
TASK_METRICS = {"sdf": ("iou", "chamfer"), "occupancy": ("iou", "chamfer")}
PICTURE_METRICS = ("psnr",)
#: The smallest value a log axis shows: float32's smallest normal number (a loss below it is a zero
#: that underflowed, and would stretch the axis down by hundreds of decades).
SMALLEST_POSITIVE = 1.1754944e-38
METRIC_LABELS = {"psnr": "PSNR dB", "iou": "IoU", "chamfer": "Chamfer"}


def task_metrics(task: str | None) -> tuple[str, ...]:
    """The metric names (see TASK_METRICS) that a scene of `task` is judged by."""
    return TASK_METRICS.get(str(task), PICTURE_METRICS)


@dataclass
class Series:
    """One curve: values against seconds of training."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, elapsed: float, value: float) -> None:
        """Append a finite value that differs from the last (evaluations repeat between steps)."""
        if math.isfinite(value) and (not self.values or value != self.values[-1]):
            self.times.append(elapsed)
            self.values.append(float(value))


@dataclass
class History:
    times: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    metrics: dict[str, Series] = field(default_factory=dict)  # by metric name, see task_metrics
    task: str | None = None
    block_times: list[float] = field(default_factory=list)
    active_blocks: list[tuple[int, ...]] = field(default_factory=list)  # per level, Laplacian blocks
    _last: Snapshot | None = None
    _rate: deque = field(default_factory=lambda: deque(maxlen=64))  # (wall time, step)

    def add(self, snapshot: Snapshot) -> bool:
        """Record a snapshot the first time it is seen; True if it was new."""
        if snapshot is self._last:
            return False
        previous, self._last = self._last, snapshot
        self._rate.append((time.perf_counter(), snapshot.step))
        if previous is not None and snapshot.step == previous.step:
            return True
        self.task = snapshot.scene.get("task") if snapshot.scene else None
        if math.isfinite(snapshot.loss):
            self.times.append(snapshot.elapsed)
            self.losses.append(snapshot.loss)
        active = blocks.active_counts(snapshot)
        if active is not None:
            self.block_times.append(snapshot.elapsed)
            self.active_blocks.append(active)
        for name in task_metrics(self.task):
            value = snapshot.metrics.get(name)
            if value is not None:
                self.metrics.setdefault(name, Series()).add(snapshot.elapsed, value)
        return True

    def metric(self, name: str) -> Series:
        """The curve of one metric (empty if never seen)."""
        return self.metrics.get(name, Series())

    def steps_per_second(self, window: float = 3.0) -> float:
        """Training steps per wall-clock second over the last `window` seconds."""
        if len(self._rate) < 2:
            return 0.0
        now = self._rate[-1][0]
        recent = [(t, s) for t, s in self._rate if now - t <= window] or list(self._rate)[-2:]
        (t0, s0), (t1, s1) = recent[0], recent[-1]
        if t1 - t0 < 0.5:
            (t0, s0) = self._rate[0]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


def axis_limits(values: list[float], log: bool = False) -> tuple[float, float]:
    """(low, high) of a plot axis that shows `values` with a margin. On a log axis only positive
    values count (a zero loss cannot be drawn; an empty series left the plot's auto-fit at the
    smallest double, 1e-308): one value gives a decade around it."""
    shown = [v for v in values if math.isfinite(v) and (v >= SMALLEST_POSITIVE or not log)]
    if not shown:
        return (0.1, 1.0) if log else (0.0, 1.0)
    low, high = min(shown), max(shown)
    if log:
        pad = 10 ** max(0.1 * math.log10(high / low), 0.5)
        return low / pad, high * pad
    margin = 0.1 * (high - low) or 0.05 * max(abs(high), 1e-6)
    return low - margin, high + margin
