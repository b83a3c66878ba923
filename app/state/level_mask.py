"""The Levels panel's controls as one object: the level toggles, the level-of-detail limit and the
coarse-to-fine schedule (a LevelState), and the mask they give, sent to the current trainer
whenever it changes (the view shows it at once)."""

from __future__ import annotations

from fieldscope.app.state.current import Current
from fieldscope.app.state.levels import LevelState
from fieldscope.fields.training.trainer import SetLevelMask, Snapshot


class LevelMask:
    def __init__(self, current: Current) -> None:
        self.current = current
        self.state = LevelState.all_on(1)
        self._sent: tuple[bool, ...] | None = None

    def reset_for(self, snapshot: Snapshot) -> None:
        """A new field: every level on as its trainer has them (nothing to send)."""
        self.state = LevelState.all_on(len(snapshot.level_mask), tuple(snapshot.level_mask))
        self._sent = tuple(snapshot.level_mask)

    def set_level(self, level: int, on: bool) -> None:
        self.state = self.state.toggled(level, on)
        self.sync()

    def set_lod(self, lod: int) -> None:
        self.state = self.state.with_lod(lod)
        self.sync()

    def set_schedule(self, on: bool, every: int | None = None) -> None:
        snapshot = self.current.snapshot()
        self.state = self.state.with_schedule(on, snapshot.step if snapshot is not None else 0, every)
        self.sync()

    def step(self) -> int:
        """The current field's training step (0 before any scene)."""
        snapshot = self.current.snapshot()
        return snapshot.step if snapshot is not None else 0

    def mask(self) -> tuple[bool, ...]:
        """The level mask now (toggles, LOD and the schedule at the current step)."""
        return self.state.mask(self.step())

    def sync(self) -> None:
        """Send the mask to the trainer if it changed (every frame while the schedule runs)."""
        mask = self.mask()
        session = self.current.session
        if mask != self._sent and session is not None and session.trainer is not None:
            session.trainer.send(SetLevelMask(mask))
        self._sent = mask
