"""Training curves for the plots (loss and PSNR against training time) and the steps/s figure,
collected from the snapshots the trainer publishes."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fieldscope.app import blocks


@dataclass
class History:
    times: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    psnr_times: list[float] = field(default_factory=list)
    psnrs: list[float] = field(default_factory=list)
    block_times: list[float] = field(default_factory=list)
    active_blocks: list[tuple[int, ...]] = field(default_factory=list)  # per level, Laplacian blocks
    _last: Any = None
    _rate: deque = field(default_factory=lambda: deque(maxlen=64))  # (wall time, step)

    def add(self, snapshot: Any) -> bool:
        """Record a snapshot the first time it is seen; True if it was new."""
        if snapshot is self._last:
            return False
        previous, self._last = self._last, snapshot
        self._rate.append((time.perf_counter(), snapshot.step))
        if previous is not None and snapshot.step == previous.step:
            return True
        if math.isfinite(snapshot.loss):
            self.times.append(snapshot.elapsed)
            self.losses.append(snapshot.loss)
        active = blocks.active_counts(snapshot)
        if active is not None:
            self.block_times.append(snapshot.elapsed)
            self.active_blocks.append(active)
        psnr = snapshot.metrics.get("psnr")
        if psnr is not None and math.isfinite(psnr) and (not self.psnrs or psnr != self.psnrs[-1]):
            self.psnr_times.append(snapshot.elapsed)
            self.psnrs.append(float(psnr))
        return True

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
