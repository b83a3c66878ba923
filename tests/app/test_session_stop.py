"""Closing waits for a trainer step however long it lasts (issue 12: a NeRF step on a loaded machine
outlasted the old 30 s wait and the process aborted with the thread still running)."""

from __future__ import annotations

import threading
import time

from fieldscope.app.state import session as sessions
from fieldscope.app.state.session import Session


class SlowTrainer:
    """A trainer whose current step ends `step_seconds` after start; Stop is seen only then."""

    def __init__(self, step_seconds: float) -> None:
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=time.sleep, args=(step_seconds,), daemon=True)
        self._thread.start()

    def send(self, message: object) -> None:
        self.stopped.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 30.0) -> None:
        self.send(None)
        self._thread.join(timeout)


def test_stop_waits_past_the_notice_interval_and_says_so(monkeypatch):
    monkeypatch.setattr(sessions, "STOP_NOTICE", 0.05)
    trainer = SlowTrainer(0.5)
    said: list[str] = []
    Session(name="slow", source=None, trainer=trainer).stop(wait=True, say=said.append)  # type: ignore[arg-type]
    assert trainer.stopped.is_set()
    assert not trainer.running, "stop(wait=True) returned while the step was still running"
    assert said and all("waiting for the trainer" in text for text in said)


def test_stop_without_wait_returns_at_once():
    trainer = SlowTrainer(0.5)
    Session(name="slow", source=None, trainer=trainer).stop()  # type: ignore[arg-type]
    assert trainer.stopped.is_set() and trainer.running
