"""Scenes coming and going: opening a path in a worker thread (the latest request wins), files
dropped on the window (queued by GLFW's callback, taken by the frame loop), the recent-files list,
and the stopped sessions whose trainer threads may still finish a step. A sweep's results folder
opens the same ways (app/state/sweep_view.py): it goes to the Compare panel, not to the view."""

from __future__ import annotations

import gc
import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from fieldscope.app.state import recent
from fieldscope.app.state.current import Current
from fieldscope.app.state.session import Session, open_path
from fieldscope.app.state.status import Status
from fieldscope.app.state.sweep_view import SweepResults, is_sweep, read_sweep
from fieldscope.fields.errors import FieldscopeError


def load(path: Path, task: str | None, current: Session | None, kind: str, device: str) -> Session | SweepResults:
    """What opening `path` gives (in the worker thread): a sweep's results, or a session (open_path)."""
    if is_sweep(path):
        return read_sweep(path)
    return open_path(path, task, current, kind, device)


class Opening:
    """`on_news()` is called after each message about an open (the frame shows the status bar only
    while a scene is shown: before the first one, what opening says must still reach the screen);
    `on_sweep(results)` gets a sweep's folder that opened."""

    def __init__(
        self,
        status: Status,
        current: Current,
        device: str,
        on_news: Callable[[], None],
        on_sweep: Callable[[SweepResults], None],
    ) -> None:
        self.status, self.current, self.device, self.on_news = status, current, device, on_news
        self.on_sweep = on_sweep
        self.recent = recent.load()
        self.retired: list[Session] = []  # stopped sessions whose threads may still finish a step
        self._future: Future | None = None
        self._path: Path | None = None
        self._drops: queue.SimpleQueue[tuple[list[str], bool]] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="fieldscope-open")

    def open(self, path: str | Path, task: str | None = None, kind: str = "hashgrid") -> Future:
        """Open a scene (trained with a field of `kind`), a saved model or a sweep's folder in the
        background; the current scene trains on until the new one is ready, and stays if opening
        fails (the status bar says why). The latest request wins: one still opening is replaced
        (its result dropped)."""
        path = Path(path).expanduser()
        replaced = self.supersede()
        note = f" (replaces {replaced}, which was still opening)" if replaced is not None else ""
        self.status.say(f"opening {path} ...{note}")
        self.on_news()
        self._path = path
        self._future = self._pool.submit(load, path, task, self.current.session, kind, self.device)
        return self._future

    def supersede(self) -> Path | None:
        """Let go of the open in progress, if any (cancelled if it has not started; else its
        session, never started, is dropped when it arrives); the path it was opening."""
        future, self._future = self._future, None
        if future is None or future.done():
            return None
        future.cancel()
        return self._path

    @property
    def opening(self) -> bool:
        """An open is in progress."""
        return self._future is not None and not self._future.done()

    @property
    def busy(self) -> bool:
        """An open is in progress or drops wait to be taken."""
        return self.opening or not self._drops.empty()

    def drop(self, paths: list[str], shift: bool = False) -> None:
        """Files dropped on the window (called from GLFW's callback): the first one is opened (a
        later drop replaces one still opening), or with Shift held it is image B of a flow."""
        self._drops.put((list(paths), bool(shift)))

    def dropped(self) -> list[tuple[str, bool]]:
        """The drops since the last call: (the first path of each, Shift held)."""
        taken = []
        while not self._drops.empty():
            paths, shift = self._drops.get()
            if paths:
                if len(paths) > 1:
                    self.status.say(f"{len(paths)} items dropped; taking the first, {paths[0]}")
                taken.append((paths[0], shift))
        return taken

    def arrived(self) -> Session | None:
        """The session of an open that has finished since the last call (remembered as recent);
        None while none has, when it failed (the status bar says why) or when it was a sweep's
        folder (given to on_sweep)."""
        future = self._future
        if future is None or not future.done():
            return None
        self._future = None
        try:
            opened = future.result()
        except Exception as error:
            still = self.current.still_training()
            if isinstance(error, FieldscopeError):
                self.status.say(f"{error}{still}", error=True)
            else:  # a bug while opening: say so, keep the current scene
                self.status.say(f"{self._path}: {type(error).__name__}: {error}{still}", True)
            self.on_news()
            return None
        self.recent = recent.remember(self._path)
        if isinstance(opened, SweepResults):
            self.on_sweep(opened)
            self.on_news()
            return None
        return opened

    def retire(self, session: Session) -> None:
        """Stop a replaced session (asks; its thread ends after its current step)."""
        session.stop()
        self.retired.append(session)

    def release_retired(self) -> None:
        """Let go of stopped sessions whose trainer thread has ended (their scene, field and
        optimiser state), and collect them now: they hold cycles the collector may not visit soon."""
        running = [session for session in self.retired if session.running]
        if len(running) < len(self.retired):
            self.retired = running
            gc.collect()

    def close(self, say: Callable[[str], None]) -> None:
        """Stop every trainer thread, the current one's too (waiting for them as long as their step
        lasts, telling `say`: exiting during a step aborts), and the opening thread."""
        self.supersede()
        for session in [*self.retired, self.current.session]:
            if session is not None:
                session.stop(wait=True, say=say)
        self.retired = []
        self._pool.shutdown(wait=True, cancel_futures=True)
