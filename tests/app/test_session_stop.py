"""Closing waits for a trainer step however long it lasts (issue 12: a NeRF step on a loaded machine
outlasted the old 30 s wait and the process aborted with the thread still running)."""

from __future__ import annotations

import threading

from fieldscope.app.state import session as sessions
from fieldscope.app.state.session import Session


class SlowTrainer:
    """A trainer in a step that ends when `finish` is set, or once stop() has waited for it
    `waits` times (each up to its timeout); Stop is seen only then."""

    def __init__(self, waits: int) -> None:
        self.stopped, self.finish = threading.Event(), threading.Event()
        self.waits = waits
        self._thread = threading.Thread(target=self.finish.wait, args=(60,), daemon=True)
        self._thread.start()

    def send(self, message: object) -> None:
        self.stopped.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 30.0) -> None:
        self.send(None)
        self.waits -= 1
        if self.waits <= 0:
            self.finish.set()
        self._thread.join(timeout)


def test_stop_waits_past_the_notice_interval_and_says_so(monkeypatch):
    monkeypatch.setattr(sessions, "STOP_NOTICE", 0.05)
    trainer = SlowTrainer(waits=3)  # the step outlasts two notice intervals
    said: list[str] = []
    Session(name="slow", source=None, trainer=trainer).stop(wait=True, say=said.append)  # type: ignore[arg-type]
    assert trainer.stopped.is_set()
    assert not trainer.running, "stop(wait=True) returned while the step was still running"
    assert len(said) == 2 and all("waiting for the trainer" in text for text in said)


def test_stop_without_wait_returns_at_once():
    trainer = SlowTrainer(waits=1)
    Session(name="slow", source=None, trainer=trainer).stop()  # type: ignore[arg-type]
    assert trainer.stopped.is_set() and trainer.running
    trainer.finish.set()
