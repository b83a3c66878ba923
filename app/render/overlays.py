"""The Lagrangian points overlay: every Lagrangian level's means drawn over the view (a dot per point;
in 2D its sigma circle in the level's colour, in 3D a splat of its projected sigma), each dot
coloured by how far the point moved from where it started (inferno, in cells of its level, full
colour at MOVED_FULL_CELLS), optionally over grey dots at the starting positions, by instanced GL
draws into a layer of their own (premultiplied RGBA) that the renderer lays over the picture."""

from __future__ import annotations

from dataclasses import dataclass, replace

import moderngl
import numpy as np

from fieldscope.app.render import field_gl, shaders
from fieldscope.app.render.colormaps import inferno, level_colour
from fieldscope.app.render.context import finish_drawing
from fieldscope.app.render.shaders import Uniform
from fieldscope.fields.training.trainer import Snapshot

#: At most this many points of a level are drawn as dots, and as sigma circles (2D; line strips
#: cost about 30 us each on llvmpipe): every s-th of those in view, the legend says how many.
MAX_DOTS_PER_LEVEL = 1 << 14
MAX_RINGS_PER_LEVEL = 512
DOT_RADIUS = 2.5  # pixels, for sparse points; dense ones get smaller dots (at least 1 pixel)
MAX_SPLAT = 24.0  # pixels: the widest 3D splat (early sigmas span tens of cells)
RING_SEGMENTS = 32
#: Displacement, in cells of the point's level, drawn at the top of the colour map.
MOVED_FULL_CELLS = 4.0
#: The colour map's range used for displacements 0 .. MOVED_FULL_CELLS (inferno's black is left out).
MOVED_COLOURS = (0.25, 1.0)
START_COLOUR = (0.62, 0.62, 0.62)


@dataclass(frozen=True)
class PointSet:
    """One Lagrangian level's points: means (P, D) of all of them, sigma, where they started (P, D;
    None if unknown) and the level's resolution; the means drawn as dots and as sigma circles (a
    subset of those in view), how far each dot moved (cells) and the dots' starting positions
    (when they are drawn)."""

    level: int
    means: np.ndarray
    sigma: float
    start: np.ndarray | None = None
    resolution: int = 0
    dots: np.ndarray | None = None
    rings: np.ndarray | None = None
    visible: int = 0
    moved: np.ndarray | None = None
    starts: np.ndarray | None = None

    @property
    def total(self) -> int:
        return int(self.means.shape[0])

    @property
    def drawn(self) -> int:
        return 0 if self.dots is None else int(self.dots.shape[0])


def lagrangian_levels(snapshot: Snapshot) -> list[PointSet]:
    """Every Lagrangian level's points of a snapshot (none for kinds without points)."""
    if not snapshot.config.capabilities.lagrangian_points:
        return []
    points = field_gl.for_config(snapshot.config).points(snapshot.config, snapshot.params)
    return [PointSet(p["level"], p["means"], p["sigma"], p.get("start"), p.get("resolution", 0)) for p in points]


def in_view(means: np.ndarray, uniforms: dict[str, Uniform], margin: float) -> np.ndarray:
    """(P,) True for means inside the 2D view's field rectangle grown by `margin` (field units);
    all True in 3D. Compares columns in the means' own dtype (an upcast of a million points to
    float64 costs more than the test)."""
    if "u_origin" not in uniforms:
        return np.ones(means.shape[0], bool)
    low = np.asarray(uniforms["u_origin"], np.float64) - margin
    high = low + 2 * margin + np.array([uniforms["u_axis_x"][0], uniforms["u_axis_y"][1]])
    x, y = means[:, 0], means[:, 1]
    low, high = low.astype(means.dtype), high.astype(means.dtype)
    return (x >= low[0]) & (x <= high[0]) & (y >= low[1]) & (y <= high[1])


def every_nth_index(count: int, most: int, where: np.ndarray | None = None) -> np.ndarray:
    """Indices of at most about `most` of `count` items (those where `where` is True): every s-th."""
    index = np.arange(count) if where is None else np.flatnonzero(where)
    return index[:: max(1, -(-index.shape[0] // most))]


def every_nth(means: np.ndarray, most: int, where: np.ndarray | None = None) -> np.ndarray:
    """At most about `most` of the means (those where `where` is True): every s-th of them."""
    return means[every_nth_index(means.shape[0], most, where)]


def shown_sets(
    snapshot: Snapshot, toggles: tuple[bool, ...], uniforms: dict[str, Uniform], starts: bool = False
) -> list[PointSet]:
    """The point sets whose toggle is on (toggles[i] for the i-th Lagrangian level), with the dots
    and circles to draw in the view that `uniforms` (the view shader's) describe, how far each dot
    moved (cells of its level) and, with `starts`, where the dots started."""
    sets = lagrangian_levels(snapshot)
    shown = []
    for i, s in enumerate(sets):
        if i < len(toggles) and toggles[i]:
            seen = in_view(s.means, uniforms, 0.0)
            index = every_nth_index(s.total, MAX_DOTS_PER_LEVEL, seen)
            rings = every_nth(s.means, MAX_RINGS_PER_LEVEL, in_view(s.means, uniforms, s.sigma))
            moved = first = None
            if s.start is not None:
                begun = s.start[index]
                moved = np.linalg.norm(s.means[index] - begun, axis=1) * max(1, s.resolution)
                first = begun if starts else None
            shown.append(
                replace(
                    s, dots=s.means[index], rings=rings, visible=int(np.count_nonzero(seen)), moved=moved, starts=first
                )
            )
    return shown


def moved_colours(moved: np.ndarray) -> np.ndarray:
    """(P, 3) colours of displacements (P,) in cells: inferno over MOVED_COLOURS, full at MOVED_FULL_CELLS."""
    low, high = MOVED_COLOURS
    return inferno(low + (high - low) * np.clip(moved / MOVED_FULL_CELLS, 0.0, 1.0))


def dot_radius(sets: list[PointSet], size: tuple[int, int]) -> float:
    """DOT_RADIUS for sparse points, smaller (down to 1 pixel) when dots would cover the view."""
    count = max(1, sum(s.drawn for s in sets))
    return float(np.clip(0.3 * np.sqrt(size[0] * size[1] / count), 1.0, DOT_RADIUS))


def instances(sets: list[PointSet], which: str) -> np.ndarray:
    """Per point of `which` ("dots", "rings" or "starts"): mean xyz, colour rgb, sigma -> float32
    (n, 7). Dots are coloured by how far they moved (level colour if unknown), rings by level,
    starting positions grey."""
    rows = []
    for s in sets:
        means = getattr(s, which)
        if means is None:
            continue
        block = np.zeros((means.shape[0], 7), np.float32)
        block[:, : means.shape[1]] = means
        if which == "starts":
            block[:, 3:6] = START_COLOUR
        elif which == "dots" and s.moved is not None:
            block[:, 3:6] = moved_colours(s.moved)
        else:
            block[:, 3:6] = level_colour(s.level)
        block[:, 6] = s.sigma
        rows.append(block)
    return np.concatenate(rows) if rows else np.zeros((0, 7), np.float32)


class PointsOverlay:
    """GL programs and a target for the points layer."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        defines = {"RING_SEGMENTS": RING_SEGMENTS}
        with ctx:  # ours, not DearPyGui's context, must be current
            self.points = ctx.program(
                vertex_shader=shaders.source("points.vert"), fragment_shader=shaders.read("points.frag")
            )
            self.rings = ctx.program(
                vertex_shader=shaders.source("rings.vert", defines=defines),
                fragment_shader=shaders.read("rings.frag"),
            )
        self.target: moderngl.Framebuffer | None = None

    def draw(self, sets: list[PointSet], camera_uniforms: dict[str, Uniform], size: tuple[int, int], circles: bool):
        """The layer (H, W, 4) float32, premultiplied, row 0 at the top; camera_uniforms as the view
        shader's (u_origin.. in 2D, u_eye.. in 3D)."""
        width, height = size
        dims = 3 if "u_eye" in camera_uniforms else 2
        uniforms = {**camera_uniforms, "u_size": (float(width), float(height)), "u_dims": dims}
        with self.ctx:
            target = self._target(width, height)
            target.use()
            target.clear(0.0, 0.0, 0.0, 0.0)
            self.ctx.enable(moderngl.BLEND)
            self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
            try:
                if circles and dims == 2:
                    self._render(self.rings, instances(sets, "rings"), uniforms, moderngl.LINE_STRIP, RING_SEGMENTS + 1)
                uniforms |= {"u_dot_radius": dot_radius(sets, size), "u_max_splat": 0.0}
                self._render(self.points, instances(sets, "starts"), uniforms, moderngl.TRIANGLE_STRIP, 4)
                uniforms["u_max_splat"] = MAX_SPLAT if circles else 0.0
                self._render(self.points, instances(sets, "dots"), uniforms, moderngl.TRIANGLE_STRIP, 4)
            finally:
                self.ctx.disable(moderngl.BLEND)
            finish_drawing()
            pixels = target.read(components=4, dtype="f4")
        return np.frombuffer(pixels, np.float32).reshape(height, width, 4)[::-1].copy()

    def _render(
        self, program: moderngl.Program, data: np.ndarray, uniforms: dict[str, Uniform], mode: int, vertices: int
    ) -> None:
        if not len(data):
            return
        for name, value in uniforms.items():
            if name in program:
                program[name].value = value
        buffer = self.ctx.buffer(data.tobytes())
        vao = self.ctx.vertex_array(program, [(buffer, "3f 3f 1f/i", "in_mean", "in_colour", "in_sigma")])
        try:
            vao.render(mode=mode, vertices=vertices, instances=len(data))
        finally:
            vao.release()
            buffer.release()

    def _target(self, width: int, height: int) -> moderngl.Framebuffer:
        if self.target is None or self.target.size != (width, height):
            self.release_target()
            texture = self.ctx.texture((width, height), 4, dtype="f4")
            self.target = self.ctx.framebuffer(color_attachments=[texture])
        return self.target

    def release_target(self) -> None:
        if self.target is not None:
            self.target.color_attachments[0].release()
            self.target.release()
            self.target = None

    def release(self) -> None:
        with self.ctx:
            self.release_target()
            self.points.release()
            self.rings.release()
