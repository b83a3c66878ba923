"""A sweep's results folder, whatever engine ran it:

    DIR/sweep.json             the runs of the sweep (their RunSpecs, in order)
    DIR/runs/RUN_ID.json       one row per finished run (written last: a row means its snapshot is there)
    DIR/snapshots/RUN_ID.fsnap each successful run's trained field (`fieldscope render`, `view` open it)
    DIR/results.csv, results.json ({"runs": [row, ...]}): the sweep's rows, in the sweep's order

Resuming: the runs that have a row without an error are finished and are not run again; failed
ones are (their scene may have been fixed meanwhile). Rows and snapshots come back to the driver,
which writes them, so a cluster's workers need no shared folder for results."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.paths import write_atomic
from fieldscope.fields.training.sweep import RunSpec

#: The CSV's columns, in order; the nested ones (metrics, curve, config) are JSON text there.
COLUMNS = (
    "run_id",
    "kind",
    "scene",
    "task",
    "params_target",
    "params",
    "seed",
    "steps",
    "seconds",
    "metric",
    "value",
    "wall",
    "host",
    "started_at",
    "ended_at",
    "error",
    "snapshot",
    "steps_planned",
    "time_budget",
    "scene_path",
    "curve_metric",
    "metrics",
    "curve",
    "config",
)
NESTED = ("metrics", "curve", "config")


class SweepFolder:
    """The results folder at `root` (made when missing; FieldscopeError when it is a file)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise FieldscopeError(f"{self.root}: not a folder")
        self.runs = self.root / "runs"
        self.snapshots = self.root / "snapshots"
        for folder in (self.runs, self.snapshots):
            folder.mkdir(parents=True, exist_ok=True)

    def row(self, run_id: str) -> dict[str, Any] | None:
        """The recorded row of a run, or None (none yet, or an unreadable file: run it again)."""
        try:
            row = json.loads((self.runs / f"{run_id}.json").read_text())
        except (OSError, ValueError):
            return None
        return row if isinstance(row, dict) else None

    def finished(self, specs: Sequence[RunSpec]) -> set[str]:
        """The ids of the runs of `specs` that have a row without an error."""
        return {spec.run_id for spec in specs if (row := self.row(spec.run_id)) is not None and not row.get("error")}

    def pending(self, specs: Sequence[RunSpec]) -> list[RunSpec]:
        """The runs still to run (no row, or a failed one), in order."""
        done = self.finished(specs)
        return [spec for spec in specs if spec.run_id not in done]

    def begin(self, specs: Sequence[RunSpec]) -> None:
        """Write sweep.json: the sweep's runs."""
        runs = [{"run_id": spec.run_id, **asdict(spec)} for spec in specs]
        write_atomic(self.root / "sweep.json", json.dumps({"runs": runs}, indent=1).encode())

    def specs(self) -> list[RunSpec]:
        """The runs sweep.json lists (the last sweep begun in this folder); [] without one."""
        try:
            runs = json.loads((self.root / "sweep.json").read_text())["runs"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        specs = []
        for run in runs:
            fields: dict[str, Any] = {k: v for k, v in run.items() if k != "run_id"}
            for name in ("settings", "scene_options"):  # (name, value) pairs: lists in JSON
                fields[name] = tuple(tuple(pair) for pair in fields.get(name, ()))
            specs.append(RunSpec(**fields))
        return specs

    def record(self, row: dict[str, Any], snapshot: bytes | None) -> dict[str, Any]:
        """Write a run's snapshot (if any), then its row (with the snapshot's path in the folder)."""
        row = dict(row)
        if snapshot is not None:
            path = self.snapshots / f"{row['run_id']}.fsnap"
            write_atomic(path, snapshot)
            row["snapshot"] = path.relative_to(self.root).as_posix()
        write_atomic(self.runs / f"{row['run_id']}.json", json.dumps(row, indent=1).encode())
        return row

    def rows(self, specs: Sequence[RunSpec]) -> list[dict[str, Any]]:
        """The recorded rows of `specs`, in their order (runs without a row left out)."""
        return [row for spec in specs if (row := self.row(spec.run_id)) is not None]

    def write_tables(self, rows: Sequence[dict[str, Any]]) -> None:
        """results.json ({"runs": rows}) and results.csv (COLUMNS; nested values as JSON)."""
        write_atomic(self.root / "results.json", json.dumps({"runs": list(rows)}, indent=1).encode())
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(row.get(k)) if k in NESTED else cell(row.get(k)) for k in COLUMNS})
        write_atomic(self.root / "results.csv", text.getvalue().encode())


def cell(value: Any) -> Any:
    """A CSV cell: None as empty, floats in full."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else value


def read_csv(path: Path) -> list[dict[str, Any]]:
    """results.csv back as rows (numbers parsed, nested columns decoded)."""
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row: dict[str, Any] = {}
            for key, text in raw.items():
                row[key] = json.loads(text) if key in NESTED else number(text)
            rows.append(row)
    return rows


def number(text: str) -> Any:
    """'12' -> 12, '1.5' -> 1.5, '' -> None, anything else stays text."""
    if text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


class Progress:
    """Runs done / running / failed of a sweep, with an estimate of the time left (the mean wall
    time of the finished runs, over the runs that can run at once)."""

    def __init__(self, total: int, skipped: int, slots: int, clock: Any = time.perf_counter) -> None:
        self.total, self.skipped, self.slots = total, skipped, max(1, slots)
        self.done = self.failed = 0
        self.walls: list[float] = []
        self.clock = clock
        self.started = clock()

    def finished(self, row: dict[str, Any]) -> None:
        self.done += 1
        self.failed += bool(row.get("error"))
        if row.get("wall") is not None:
            self.walls.append(float(row["wall"]))

    @property
    def left(self) -> int:
        return self.total - self.skipped - self.done

    def line(self) -> str:
        """'5/8 done (1 failed), 2 running, about 12 s left' (skipped: finished before)."""
        running = min(self.left, self.slots)
        estimate = ""
        if self.walls and self.left:
            seconds = sum(self.walls) / len(self.walls) * math.ceil(self.left / self.slots)
            estimate = f", about {seconds:.0f} s left"
        skipped = f" ({self.skipped} from before)" if self.skipped else ""
        failed = f" ({self.failed} failed)" if self.failed else ""
        return f"{self.done + self.skipped}/{self.total} done{skipped}{failed}, {running} running{estimate}"
