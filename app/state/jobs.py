"""Long jobs of the window (exports, full renders, videos): generators that yield their progress
(0..1) and are advanced a little every UI frame, so the window stays live, shows a progress bar
and can cancel them (closing the generator runs its clean-up)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass

from fieldscope.fields.errors import FieldscopeError

JobSteps = Generator[float, None, str]  # yields progress, returns the message for the status bar


@dataclass
class Job:
    name: str
    steps: JobSteps
    progress: float = 0.0


class Jobs:
    """At most one job at a time; `report(message, error)` receives results and errors."""

    def __init__(self, report: Callable[[str, bool], None]) -> None:
        self.report = report
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, name: str, steps: JobSteps) -> bool:
        if self.current is not None:
            steps.close()
            self.report(f"{name}: wait until '{self.current.name}' is done, or cancel it", True)
            return False
        self.current = Job(name, steps)
        self.report(f"{name}...", False)
        return True

    def cancel(self) -> None:
        if self.current is not None:
            name = self.current.name
            self.current.steps.close()
            self.current = None
            self.report(f"{name}: cancelled, nothing written", False)

    def advance(self, budget: float) -> None:
        """Run the current job for about `budget` seconds (at least one step)."""
        job = self.current
        if job is None:
            return
        deadline = time.perf_counter() + budget
        try:
            while True:
                job.progress = float(next(job.steps))
                if time.perf_counter() >= deadline:
                    return
        except StopIteration as done:
            self.current = None
            self.report(str(done.value or f"{job.name}: done"), False)
        except FieldscopeError as error:
            self.current = None
            self.report(f"{job.name}: {error}", True)
        except Exception as error:  # a bug, but the window stays up and says what happened
            traceback.print_exc()
            self.current = None
            self.report(f"{job.name} failed: {type(error).__name__}: {error}", True)

    def run_to_end(self, timeout: float = 600.0) -> None:
        """Finish the current job now (for scripts and tests)."""
        deadline = time.perf_counter() + timeout
        while self.current is not None and time.perf_counter() < deadline:
            self.advance(1.0)
