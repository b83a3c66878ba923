"""The window's panels: one module each. A panel is given the state objects it shows (app/state),
paints them and sends the user's commands to them; it never reaches for the App."""

from __future__ import annotations

from fieldscope.app.state.session import Session
from fieldscope.fields.training.trainer import Snapshot

#: Wrap width of the panels' texts (pixels).
WRAP = 340


class Panel:
    """A collapsing section of the left column."""

    def build(self) -> None:
        raise NotImplementedError

    def refresh(self, snapshot: Snapshot) -> None:
        """Update shown values (a few times a second)."""

    def on_session(self, session: Session) -> None:
        """A new scene or field: rebuild what depends on it."""
