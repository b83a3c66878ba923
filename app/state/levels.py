"""The Levels panel's state: a toggle per level, a level-of-detail limit and a coarse-to-fine
schedule (Neuralangelo: start with the coarsest levels, add one every few steps). The mask it
gives goes to the view at once and to the trainer as a SetLevelMask command."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fieldscope.fields.scenes.levels import scheduled_levels


@dataclass(frozen=True)
class LevelState:
    """enabled: the user's toggles; lod: the finest level shown and trained (0-based);
    schedule: coarse-to-fine on, starting with `start_levels` levels at step `origin` and adding
    one level every `every` steps."""

    enabled: tuple[bool, ...]
    lod: int
    schedule: bool = False
    start_levels: int = 2
    every: int = 25
    origin: int = 0

    @classmethod
    def all_on(cls, levels: int, mask: tuple[bool, ...] | None = None) -> LevelState:
        return cls(enabled=tuple(mask) if mask else (True,) * levels, lod=levels - 1)

    @property
    def levels(self) -> int:
        return len(self.enabled)

    def scheduled_levels(self, step: int) -> int:
        """How many levels the schedule has switched on by `step`."""
        if not self.schedule:
            return self.levels
        return scheduled_levels(step - self.origin, self.levels, self.start_levels, self.every)

    def mask(self, step: int = 0) -> tuple[bool, ...]:
        """The level mask at training step `step`: toggled on, at most `lod`, and scheduled."""
        active = min(self.lod + 1, self.scheduled_levels(step))
        return tuple(on and level < active for level, on in enumerate(self.enabled))

    def states(self, step: int = 0) -> tuple[str, ...]:
        """Per level, what the level strip shows: "off" (toggled off), "lod" (past the
        level-of-detail cut), "waiting" (not yet switched on by the schedule) or "on"."""
        scheduled = self.scheduled_levels(step)
        return tuple(
            "off" if not on else "lod" if level > self.lod else "waiting" if level >= scheduled else "on"
            for level, on in enumerate(self.enabled)
        )

    def caption(self, step: int = 0) -> str:
        """One line under the level strip: how many levels are on, the cut, the schedule."""
        states = self.states(step)
        words = [f"{states.count('on')} of {self.levels} levels on"]
        if self.lod < self.levels - 1:
            words.append(f"LOD cut after level {self.lod}")
        if self.schedule:
            words.append(f"coarse to fine: {self.scheduled_levels(step)} on, +1 every {self.every} steps")
        return "; ".join(words)

    def toggled(self, level: int, on: bool) -> LevelState:
        enabled = list(self.enabled)
        enabled[level] = bool(on)
        return replace(self, enabled=tuple(enabled))

    def with_lod(self, lod: int) -> LevelState:
        return replace(self, lod=max(0, min(self.levels - 1, int(lod))))

    def with_schedule(self, on: bool, step: int, every: int | None = None) -> LevelState:
        return replace(self, schedule=bool(on), origin=step, every=every or self.every)
