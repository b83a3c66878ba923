"""Optical flow in the window, without the window: a FlowJob optimises the flow from the current
field (image A) to a second image B in a background thread (fields/analysis/flow.py) and publishes previews
while it runs; flow_tiles lays out what the Flow window shows: A's field with the flow as arrows, the
colour wheel, A warped by the flow, and B.

The job works on its own copy of the field, taken from the snapshot when it starts (the trainer
goes on training A's field meanwhile and is never waited for). Previews are computed in the job's
thread between optimisation steps, at most every PREVIEW_PERIOD seconds, on a grid of at most
PREVIEW_SIDE pixels a side (the window never evaluates the field itself)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fieldscope.app.render.renderer import image_size
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.analysis.flow import FlowOptions, FlowResult, colour_wheel, estimate_flow
from fieldscope.fields.errors import InputError
from fieldscope.fields.training.trainer import Snapshot

PREVIEW_SIDE = 160
PREVIEW_PERIOD = 0.5
ARROW_SPACING = 16
BACKGROUND = (0.12, 0.12, 0.12, 1.0)


@dataclass(frozen=True)
class Preview:
    """The flow at a preview grid of A's pixels: flow (h, w, 2) in A's pixels, warped (h, w, C) A's
    field at x + d, field (h, w, C) A's field at x, target (h, w, C) B; `fraction` of steps done."""

    flow: np.ndarray
    warped: np.ndarray
    field: np.ndarray
    target: np.ndarray
    fraction: float
    done: bool


def preview_grid(height: int, width: int, side: int = PREVIEW_SIDE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pixel positions (h*w, 2) of A (x, y; pixel centres of a coarser grid covering A) and (h, w):
    the image's aspect, at most `side` a side."""
    scale = min(1.0, side / max(height, width))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    yy, xx = torch.meshgrid((torch.arange(h) + 0.5) * height / h, (torch.arange(w) + 0.5) * width / w, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1).float(), (h, w)


def check_pair(snapshot: Snapshot, target: np.ndarray, name: str) -> None:
    """InputError unless `target` (H, W, C) can be B for the 2D image field of `snapshot`."""
    config = snapshot.config
    if int(config.dims) != 2 or not snapshot.scene or snapshot.scene.get("size") is None:
        raise InputError(f"flow needs a 2D image scene, not a {config.dims}D {config.kind} field")
    width, height = image_size(snapshot)
    if target.shape[:2] != (height, width):
        raise InputError(f"{name} is {target.shape[1]}x{target.shape[0]} but the scene's image is {width}x{height}")
    if target.shape[2] != int(config.out_dims):
        raise InputError(f"{name} has {target.shape[2]} channels but the field gives {config.out_dims}")


class FlowJob:
    """The flow from the snapshot's field (A) to `target` (B, (H, W, C) as A) in a daemon thread."""

    def __init__(self, snapshot: Snapshot, target: np.ndarray, options: FlowOptions, source: str | Path = "B") -> None:
        check_pair(snapshot, target, str(source))
        self.source = Path(source)
        self.options = options
        self.field = snapshots.field_from(snapshot)
        self.field.eval()
        self.target = target
        self.grid, self.preview_size = preview_grid(*target.shape[:2])
        self._preview: Preview | None = None
        self._last_preview = -math.inf
        self._stop = threading.Event()
        self.result: FlowResult | None = None
        self.error = ""
        self.thread = threading.Thread(target=self._run, name="fieldscope-flow", daemon=True)
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current step (the flow so far becomes the result)."""
        self._stop.set()
        self.thread.join(timeout)

    def preview(self) -> Preview | None:
        """The latest preview (None before the first one)."""
        return self._preview

    def _run(self) -> None:
        try:
            self.result = estimate_flow(self.field, self.target, self.options, self._watch)
            self._publish(None, 1.0)
        except Exception as error:  # shown by the window; the preview so far stays
            self.error = f"{type(error).__name__}: {error}"

    def _watch(self, motion: nn.Module, fraction: float) -> bool:
        now = time.perf_counter()
        if now - self._last_preview >= PREVIEW_PERIOD:
            self._last_preview = now
            with torch.no_grad():
                self._publish(motion(self.grid).detach(), fraction)
        return not self._stop.is_set()

    def _publish(self, flow: torch.Tensor | None, fraction: float) -> None:
        """A preview of `flow` (h*w, 2) at the preview grid; None: the result's flow at the nearest pixels."""
        h, w = self.preview_size
        height, width = self.target.shape[:2]
        rows = (self.grid[:, 1] - 0.5).round().long().clamp(0, height - 1)
        cols = (self.grid[:, 0] - 0.5).round().long().clamp(0, width - 1)
        if flow is None:
            flow = torch.from_numpy(self.result.flow[rows, cols])
        scale = torch.tensor([width, height], dtype=torch.float32)
        with torch.no_grad():
            warped = self.field((self.grid + flow) / scale).numpy().reshape(h, w, -1)
            field = self.field(self.grid / scale).numpy().reshape(h, w, -1)
        self._preview = Preview(
            flow=flow.numpy().reshape(h, w, 2).astype(np.float32),
            warped=warped,
            field=field,
            target=self.target[rows.numpy(), cols.numpy()].reshape(h, w, -1),
            fraction=float(fraction),
            done=self.result is not None,
        )

    def label(self) -> str:
        """One line: mode, progress, mean flow, warped A against B at the preview grid."""
        preview = self._preview
        if preview is None:
            return f"{self.options.mode} flow to {self.source.name}: searching ..."
        dx, dy = preview.flow.reshape(-1, 2).mean(axis=0)
        mse = float(np.mean((preview.warped - preview.target) ** 2))
        state = "done" if self.result is not None else ("stopped" if self._stop.is_set() else "optimising")
        return (
            f"{self.options.mode} flow to {self.source.name}: {state} {preview.fraction:.0%}, "
            f"mean ({dx:.2f}, {dy:.2f}) px, warped A vs B {-10 * math.log10(max(mse, 1e-12)):.2f} dB"
        )


def to_rgba(values: np.ndarray) -> np.ndarray:
    """(h, w, C) in [0, 1] -> (h, w, 4): grey for one channel, RGB for three, alpha 1."""
    values = np.clip(values, 0.0, 1.0)
    rgb = np.repeat(values[..., :1], 3, axis=2) if values.shape[2] < 3 else values[..., :3]
    return np.concatenate([rgb, np.ones((*values.shape[:2], 1), np.float32)], axis=2).astype(np.float32)


def draw_arrows(picture: np.ndarray, flow: np.ndarray, colour=(1.0, 0.2, 0.1, 1.0)) -> float:
    """Draw flow (h, w, 2) as arrows every ARROW_SPACING pixels onto picture (h, w, 4), in place,
    scaled so that the longest spans 0.9 of a spacing (flows of a pixel or two would be dots).
    Returns that scale (picture pixels per unit of flow)."""
    h, w = picture.shape[:2]
    half = ARROW_SPACING // 2
    anchors = [(y, x) for y in range(half, h, ARROW_SPACING) for x in range(half, w, ARROW_SPACING)]
    longest = max((float(np.hypot(*flow[y, x])) for y, x in anchors), default=0.0)
    scale = 0.9 * ARROW_SPACING / max(longest, 1e-9)
    for y, x in anchors:
        dx, dy = flow[y, x] * scale
        length = math.hypot(dx, dy)
        for t in np.linspace(0.0, 1.0, max(2, int(2 * length) + 1)):
            px, py = math.floor(x + t * dx + 0.5), math.floor(y + t * dy + 0.5)
            if 0 <= px < w and 0 <= py < h:
                picture[py, px] = colour
        tip_x, tip_y = math.floor(x + dx + 0.5), math.floor(y + dy + 0.5)
        picture[max(0, tip_y - 1) : tip_y + 2, max(0, tip_x - 1) : tip_x + 2] = colour  # the head
    return scale


def flow_tiles(preview: Preview, source_width: int, tile: int = PREVIEW_SIDE) -> tuple[np.ndarray, dict, float]:
    """The Flow window's picture (2*tile, 2*tile, 4): A's field with arrows (top left), the colour
    wheel (top right), A warped by the flow (bottom left) and B (bottom right), each (h, w) of the
    preview at its tile's top left; where each is, {name: (x, y, w, h)}; and how much longer the
    arrows are drawn than the flow (an image of `source_width` pixels shown `w` wide)."""
    h, w = preview.flow.shape[:2]
    picture = np.empty((2 * tile, 2 * tile, 4), np.float32)
    picture[:] = BACKGROUND
    arrows = to_rgba(preview.field)
    magnified = draw_arrows(arrows, preview.flow) * source_width / w
    wheel = to_rgba(colour_wheel(preview.flow))
    parts = {"arrows": arrows, "wheel": wheel, "warped": to_rgba(preview.warped), "target": to_rgba(preview.target)}
    where = {}
    for (name, part), (x, y) in zip(parts.items(), [(0, 0), (tile, 0), (0, tile), (tile, tile)], strict=True):
        picture[y : y + h, x : x + w] = part
        where[name] = (x, y, w, h)
    return picture, where, magnified
