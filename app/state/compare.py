"""The comparison lab in the window, without the window: a CompareSession trains 2-4 field kinds on
the current scene at an equal parameter budget (configs from fields/training/budget.py), and draw_tiles
splits the view into a grid of their live pictures under one shared camera (TilesRenderer: the
window's live view draws a TileSet of their snapshots as it draws one field).

Each field is built as a run of `fieldscope compare` is (a RunSpec per kind, its config fitted to the
budget: fields/training/sweep.py's `build`) and measured by the same probe, but trained live, side by
side: `fieldscope compare` trains its runs one after the other to a fixed stop (the sweep's `train`),
while the panel's tiles must all move at once and train until stopped, so one background thread
interleaves the fields' steps (one step of each in turn): every field gets the same steps, the
machine's load falls on all of them alike, and the window competes with one trainer thread, not with
four (on two cores, four trainer threads would take the frame loop's CPU and make each field's speed
depend on the thread scheduler). The thread owns every trainer and publishes their snapshots every
publish interval; the window reads snapshots() and curves() only.

NtkJob computes the compared fields' NTK spectra (fields/analysis/ntk.py) in a background thread from
their latest snapshots, as `fieldscope ntk --protocol paper` shows them: over a regular lattice of the
scene's domain (an image's pixel centres at a coarser resolution), eigenvalues sorted high to low and
resampled to a fixed count, with and without the grid term (the encoding's parameters)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.analysis.ntk import grid_parameters, lattice_points, ntk_split, param_total, split_spectra
from fieldscope.fields.config import FieldConfig
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.training.budget import budget_params
from fieldscope.fields.training.compare import FieldRun, Probe, parse_kinds
from fieldscope.fields.training.run import TrainOptions
from fieldscope.fields.training.sweep import RunSpec, base_row, build
from fieldscope.fields.training.trainer import Snapshot

if TYPE_CHECKING:  # types only: the GL renderer loads ModernGL
    from fieldscope.app.render.camera import ViewCamera
    from fieldscope.app.render.renderer import Frame, Renderer, ViewOptions

#: The window compares at most this many fields (tiles in a 2 x 2 grid).
MOST_TILES = 4
PROBE_PIXELS = 4096


class CompareSession:
    """2-4 kinds on `scene` at `params` parameters each, trained step-interleaved in one thread."""

    def __init__(
        self,
        scene: Scene,
        kinds: str | Sequence[str],
        params: int,
        train: TrainOptions | None = None,
        device: str = "cpu",
    ):
        kinds = parse_kinds(kinds, most=MOST_TILES)
        if len(kinds) < 2:
            raise ConfigError(f"compare needs 2 to {MOST_TILES} field kinds, not {len(kinds)}")
        self.scene = scene
        self.params = params
        options = train or TrainOptions()
        spec = RunSpec("", scene.name, params=params, seed=options.seed, lr=options.lr, batch_size=options.batch_size)
        self.specs = [replace(spec, kind=kind, device=device) for kind in kinds]
        self.runs = [FieldRun(spec.kind, build(spec, scene)) for spec in self.specs]
        self.probe = Probe(scene, PROBE_PIXELS)
        self._lock = threading.Lock()
        self._curves: list[list[tuple[float, float]]] = [[] for _ in self.runs]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error = ""
        self._measure()

    @property
    def kinds(self) -> list[str]:
        return [run.kind for run in self.runs]

    def counts(self) -> list[int]:
        """Each field's budgeted parameter count (fully grown for Laplacian blocks)."""
        return [budget_params(run.trainer.field.config) for run in self.runs]

    def step_round(self) -> None:
        """One step of every field (owner thread: the caller when the session is not started)."""
        for run in self.runs:
            run.trainer.step()

    def _measure(self) -> None:
        points = [(run.trainer.elapsed, self.probe(run.trainer)[1]) for run in self.runs]
        for run in self.runs:
            run.trainer.publish("running" if self.running else "paused")
        with self._lock:
            for curve, point in zip(self._curves, points, strict=True):
                curve.append(point)

    def publish(self) -> None:
        """Publish every field's snapshot and a curve point (owner thread)."""
        self._measure()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self, rounds: int | None = None) -> None:
        """Train in a thread until stop(), or for `rounds` step rounds (then it stops by itself)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(rounds,), name="fieldscope-compare", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self, rounds: int | None = None) -> None:
        interval = self.runs[0].trainer.config.publish_interval
        last = time.perf_counter()
        done = 0
        try:
            while not self._stop.is_set() and (rounds is None or done < rounds):
                self.step_round()
                done += 1
                if time.perf_counter() - last >= interval:
                    self._measure()
                    last = time.perf_counter()
        except Exception as error:  # shown in the panel; the fields keep their last snapshots
            self.error = f"{type(error).__name__}: {error}"
        self._stop.set()  # the last snapshots say "paused"
        self._measure()

    def snapshots(self) -> list[Snapshot]:
        return [run.trainer.latest() for run in self.runs]

    def curves(self) -> list[list[tuple[float, float]]]:
        """Per field: (training seconds, metric) points so far."""
        with self._lock:
            return [list(curve) for curve in self._curves]

    def labels(self) -> list[str]:
        """Per tile: kind, parameters, steps and the latest metric."""
        name = self.probe.name
        out = []
        for count, snapshot, curve in zip(self.counts(), self.snapshots(), self.curves(), strict=True):
            value = curve[-1][1] if curve else math.nan
            shown = f"{value:.2f} dB" if name == "psnr" else f"{name} {value:.4g}"
            out.append(f"{snapshot.config.kind}  {count:,} params  {snapshot.step} steps  {shown}")
        return out

    def rows(self) -> list[dict[str, Any]]:
        """The comparison so far as a sweep's rows (fields/training/sweep.py: each field's parameters,
        steps, training seconds, the probe's latest metric and its curve), for the sweep's table."""
        rows = []
        for spec, run, curve in zip(self.specs, self.runs, self.curves(), strict=True):
            trainer = run.trainer
            rows.append(
                base_row(spec)
                | {
                    "params": int(trainer.field.param_count()),
                    "params_budgeted": budget_params(trainer.field.config),
                    "steps": trainer.step_count,
                    "seconds": trainer.elapsed,
                    "metric": self.probe.name,
                    "value": curve[-1][1] if curve else None,
                    "curve": [[t, v] for t, v in curve],
                    "curve_metric": self.probe.name,
                    "config": configs.to_dict(trainer.field.config),
                }
            )
        return rows


def tile_grid(count: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of `count` tiles in a near-square grid filling width x height, row by row."""
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    w, h = width // cols, height // rows
    return [((i % cols) * w, (i // cols) * h, w, h) for i in range(count)]


def tile_options(options: ViewOptions, width: int, height: int) -> ViewOptions:
    """The view's options for one tile of width x height: the inside overlays (heatmap, points,
    blocks, legends) as set, the level mask and strip of the scene's own field left out (each
    compared field draws all its levels)."""
    return replace(options, width=width, height=height, level_mask=None, level_states=(), levels_caption="")


def draw_tiles(
    renderer: Renderer, snapshots: Sequence[Snapshot], camera: ViewCamera, options: ViewOptions
) -> tuple[np.ndarray, list]:
    """Every snapshot drawn under the same camera into its tile of an options.width x options.height
    view -> (float32 (H, W, 4), the tiles' (x, y, w, h))."""
    frame = TilesRenderer(renderer).frame(TileSet(tuple(snapshots)), camera, options)
    return frame.all(), frame.tiles


@dataclass(frozen=True)
class TileSet:
    """The compared fields' snapshots, drawn as one picture: what the live view (ProgressiveView)
    asks of a snapshot, it asks of this (dims, the scene it belongs to, whether it trains)."""

    snapshots: tuple[Snapshot, ...]
    state: str = "paused"
    scene: CompareSession | None = None  # the comparison: a new one is a new view

    @property
    def config(self) -> FieldConfig:
        return self.snapshots[0].config


class TiledFrame:
    """The tiles of one picture (renderer Frames of each field, one per tile); rows(top, bottom)
    shades those rows of every tile they cross -> float32 (rows, W, 4)."""

    def __init__(self, frames: list[Frame], tiles: list[tuple[int, int, int, int]], width: int, height: int):
        self.frames, self.tiles, self.width, self.height = frames, tiles, width, height

    def rows(self, top: int, bottom: int) -> np.ndarray:
        out = np.zeros((bottom - top, self.width, 4), np.float32)
        out[..., 3] = 1.0
        for frame, (x, y, w, h) in zip(self.frames, self.tiles, strict=True):
            first, last = max(top, y), min(bottom, y + h)
            if first < last:
                out[first - top : last - top, x : x + w] = frame.rows(first - y, last - y)
        return out

    def all(self) -> np.ndarray:
        return self.rows(0, self.height)


class TilesRenderer:
    """Draws a TileSet as a grid of tiles under one camera, with the renderer's frames: the live
    view draws it as it draws one field (reduced while training, refined at rest)."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def frame(self, tiles: TileSet, camera: ViewCamera, options: ViewOptions) -> TiledFrame:
        grid = tile_grid(len(tiles.snapshots), options.width, options.height)
        frames = [
            self.renderer.frame(snapshot, camera, tile_options(options, w, h))
            for snapshot, (_, _, w, h) in zip(tiles.snapshots, grid, strict=True)
        ]
        return TiledFrame(frames, grid, options.width, options.height)


class NtkJob:
    """NTK spectra of snapshots' fields in a background thread: results() is None until done, then
    per field: field, step, params, eigenvalues and eigenvalues_without_grid_term (each `count`
    values, high to low), has_grid_term, min_eigenvalue, max_eigenvalue, condition_number."""

    def __init__(self, snapshots: Sequence[Snapshot], points: int = 256, count: int = 64) -> None:
        self.snapshots = list(snapshots)
        self.points, self.count = points, count
        self._results: list[dict[str, Any]] | None = None
        self.error = ""
        self.thread = threading.Thread(target=self._run, name="fieldscope-ntk", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._results = [self.spectra_of(snapshot) for snapshot in self.snapshots]
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"

    def spectra_of(self, snapshot: Snapshot) -> dict[str, Any]:
        model = snapshots.field_from(snapshot)
        grid = grid_parameters(model)
        without, grid_term = ntk_split(model, lattice_points(model.config.dims, self.points), grid)
        whole, bare = split_spectra(without, grid_term, self.count)
        smallest, largest = whole[-1], whole[0]
        return {
            "field": snapshot.config.kind,
            "step": snapshot.step,
            "params": param_total(model),
            "eigenvalues": whole,
            "eigenvalues_without_grid_term": bare,
            "has_grid_term": bool(grid),
            "min_eigenvalue": smallest,
            "max_eigenvalue": largest,
            "condition_number": largest / smallest if smallest > 0 else math.inf,
        }

    def results(self) -> list[dict[str, Any]] | None:
        return self._results
