"""The scene the window shows: its session (None until the first one opens) and the training curves
recorded from its snapshots. The window's other state objects read the current field here."""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldscope.app.state.history import History
from fieldscope.app.state.session import Session
from fieldscope.fields.training.trainer import Snapshot


@dataclass
class Current:
    """`session`: what the view shows and the trainer trains; `history`: its curves (new with each session)."""

    session: Session | None = None
    history: History = field(default_factory=History)

    def snapshot(self) -> Snapshot | None:
        """The session's latest snapshot (None before any scene)."""
        return self.session.latest() if self.session is not None else None

    def show(self, session: Session) -> Session | None:
        """Make `session` current with fresh curves; the one it replaces."""
        old, self.session = self.session, session
        self.history = History()
        return old

    def still_training(self) -> str:
        """' (NAME is still training)', for messages about a scene that did not replace this one."""
        if self.session is None:
            return ""
        return f" ({self.session.name} is still {'training' if self.session.can_train else 'shown'})"
