"""The status bar's model: the latest message, whether it is an error, and a log of all of them."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Status:
    message: str = "starting"
    is_error: bool = False
    log: list[tuple[float, bool, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def say(self, message: str, error: bool = False) -> None:
        """Show `message` (an error in red, also printed to stderr); everything goes to the log."""
        self.message, self.is_error = message, error
        self.log.append((time.time(), error, message))
        del self.log[:-200]
        if error:
            self.errors.append(message)
            print(f"fieldscope: {message}", file=sys.stderr)
