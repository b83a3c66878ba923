"""A sweep's results in the window: the folder `fieldscope sweep` writes (fields/training/sweep_folder.py)
read back for the Compare panel: its rows (results.json), each run's curve grouped by scene (as
curves.png draws them, app/commands/sweep_report.py), and the snapshot a row opens in the view.
Reading is headless (the opening worker thread does it); SweepView is what the window shows."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldscope.app.commands.sweep_report import by_scene, label
from fieldscope.app.state.current import Current
from fieldscope.app.state.status import Status
from fieldscope.fields.errors import InputError

#: A folder holding one of these is a sweep's (sweep.json as soon as it begins, results.json at its end).
MARKERS = ("results.json", "sweep.json")
#: What every row of results.json must have.
REQUIRED = ("run_id", "kind", "scene")
#: The table's columns, as the panel heads them (the metric early: the panel's column is narrow).
COLUMNS = ("kind", "scene", "params", "metric", "seconds", "steps", "seed", "error")
#: (scene, the curves' metric, [(run label, [(seconds, metric), ...]), ...]) of one scene's plot.
ScenePlot = tuple[str, str, list[tuple[str, list[tuple[float, float]]]]]


def is_sweep(path: Path) -> bool:
    """Whether `path` is a sweep's results folder."""
    return path.is_dir() and any((path / name).is_file() for name in MARKERS)


def _number(value: Any, digits: str) -> str:
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return format(value, digits)


@dataclass(frozen=True)
class SweepResults:
    """A sweep's folder and its rows (results.json's, in the sweep's order)."""

    root: Path
    rows: tuple[dict[str, Any], ...]

    def cells(self) -> list[list[str]]:
        """The table's text, a list per row in COLUMNS' order."""
        table = []
        for row in self.rows:
            value = _number(row.get("value"), ".4g")
            table.append(
                [
                    str(row["kind"]),
                    str(row["scene"]),
                    _number(row.get("params"), ","),
                    f"{row.get('metric', '')} {value}".strip() if value else "",
                    _number(row.get("seconds"), ".1f"),
                    _number(row.get("steps"), "d"),
                    str(row.get("seed", "")),
                    str(row.get("error") or ""),
                ]
            )
        return table

    def plots(self) -> list[ScenePlot]:
        """Per scene with a finished run (in the order they first appear), each finished run's
        metric against its training seconds, labelled as curves.png labels them."""
        out = []
        for scene, group in by_scene(self.rows).items():
            done = [row for row in group if row.get("curve")]
            if not done:
                continue  # (curves.png leaves it out too)
            seeds = len({row.get("seed") for row in done}) > 1
            metric = next((str(row["curve_metric"]) for row in done if row.get("curve_metric")), "metric")
            lines = [(label(row, seeds), [(float(t), float(v)) for t, v in row["curve"]]) for row in done]
            out.append((scene, metric, lines))
        return out

    def snapshot(self, index: int) -> Path | None:
        """The snapshot file of row `index` (None for a run that failed or has none)."""
        name = self.rows[index].get("snapshot")
        return self.root / name if name and not self.rows[index].get("error") else None


def read_sweep(root: Path) -> SweepResults:
    """The sweep at `root` from its results.json; InputError naming the file and what is wrong."""
    path = root / "results.json"
    if not path.is_file():
        if (root / "sweep.json").is_file():
            raise InputError(f"{path}: missing (the sweep has not finished; run it again to write its results)")
        raise InputError(f"{root}: not a sweep's folder (no results.json or sweep.json)")
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise InputError(f'{path}: not a sweep\'s results (no "runs" list)')
    for number, row in enumerate(runs, 1):
        missing = [key for key in REQUIRED if key not in row] if isinstance(row, dict) else ["everything"]
        if missing:
            raise InputError(f"{path}: run {number} has no {', '.join(missing)}")
        curve = row.get("curve") or []
        if not isinstance(curve, list) or not all(isinstance(p, list) and len(p) == 2 for p in curve):
            raise InputError(f"{path}: run {number}'s curve is not a list of [seconds, value] pairs")
    return SweepResults(root, tuple(runs))


class SweepView:
    """The sweep the Compare panel shows (None until one opens) and the row last chosen from it;
    `open_snapshot(path)` opens a run's snapshot in the view as opening any saved model does."""

    def __init__(self, current: Current, status: Status, open_snapshot: Callable[[Path], object]) -> None:
        self.current, self.status, self.open_snapshot = current, status, open_snapshot
        self.results: SweepResults | None = None
        self.chosen: int | None = None

    def show(self, results: SweepResults) -> None:
        """Show a sweep that opened; with no scene in the window yet, its first finished run opens."""
        self.results, self.chosen = results, None
        failed = sum(bool(row.get("error")) for row in results.rows)
        note = f" ({failed} failed)" if failed else ""
        self.status.say(f"sweep {results.root}: {len(results.rows)} runs{note}; choose a row in Compare to view it")
        if self.current.session is None:
            first = next((i for i in range(len(results.rows)) if results.snapshot(i) is not None), None)
            if first is not None:
                self.choose(first)

    def choose(self, index: int) -> bool:
        """Open row `index`'s snapshot in the view; False (and why, in the status bar) for a run
        without one."""
        if self.results is None or not 0 <= index < len(self.results.rows):
            self.status.say("no such run in the sweep", error=True)
            return False
        row, path = self.results.rows[index], self.results.snapshot(index)
        if path is None:
            why = row.get("error") or "no snapshot recorded"
            self.status.say(f"{row['run_id']}: nothing to view ({why})", error=True)
            return False
        self.chosen = index
        self.open_snapshot(path)
        return True
