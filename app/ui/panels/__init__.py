"""The window's panels: one module each; every callback calls an App method."""

from __future__ import annotations

from typing import Any


class Panel:
    """A collapsing section of the left column."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def build(self) -> None:
        raise NotImplementedError

    def refresh(self, snapshot: Any) -> None:
        """Update shown values (a few times a second)."""

    def on_session(self, session: Any) -> None:
        """A new scene or field: rebuild what depends on it."""
