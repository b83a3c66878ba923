"""The renderer: draws a snapshot's field with GLSL into an offscreen framebuffer and reads it back.
The live view, screenshots and exported frames all come from `Renderer.draw` (or its tiled form,
`Renderer.frame(...).rows(...)`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import moderngl
import numpy as np

from fieldscope.app.render import field_gl, heatmaps, legend, nerf_head_gl, overlays, shaders
from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.render.context import create_context, finish_drawing
from fieldscope.app.render.shaders import Uniform
from fieldscope.app.state import blocks as block_grid
from fieldscope.fields.render.render3d import NORMAL_CELLS
from fieldscope.fields.scenes.levels import finest_active_resolution
from fieldscope.fields.training.trainer import Snapshot

MODES_2D = ("field", "truth", "error", "raw", "heat_raw", "gradient", "gradient_raw")
GRADIENT_MODES = ("gradient", "gradient_raw")
MODES_3D = (
    "shaded",
    "normals",
    "depth",
    "slice",
    "density",
    "raw",
    "slice_points",
    "surface_points",
    "heat_raw",
    "rgb",
)
#: Snapshots whose GL objects are kept (the tiles of a comparison, drawn in turn).
UPLOADS_KEPT = 4
#: Shader programs kept compiled (one per field config seen, newest first).
PROGRAMS_KEPT = 4
#: Modes that show colours: the only ones overlays and legends are drawn over (the others give
#: values for tests and exports).
COLOUR_MODES = ("field", "truth", "error", "gradient", "shaded", "normals", "depth", "slice", "density", "rgb")
#: 3D task (scene.describe()["task"]) -> what the first output means: 0 signed distance,
#: 1 occupancy logit, 2 density, 3 a scalar volume (its surface: the scene's "level"), 4 a NeRF's
#: log-density. The surface task's output 0 is a signed distance: drawn as the SDF's.
TASK_3D = {"sdf": 0, "occupancy": 1, "volume": 3, "nerf": 4, "surface": 0}
#: A NeRF's occupancy grid (its head's, bool (R, R, R) indexed [x, y, z]) and its texture unit.
OCCUPANCY_PARAM, OCCUPANCY_UNIT = "head.grid.occupied", 5


@dataclass(frozen=True)
class ViewOptions:
    """What to draw and how large. level_mask None: the snapshot's own mask.

    Inside the field: `heatmap` (heatmaps.HEATMAPS) of level `heat_level` over the picture (2D) or
    on the slice plane (3D) at `heat_opacity`; heat_scale is the contribution shown at full colour
    (0: the 99th percentile of the view). `points`: per Lagrangian level, whether its points are
    drawn (with their sigma circles or splats if `sigma_circles`; with `points_start`, over grey dots
    where they started). `level_states` (legend's
    LEVEL_STATES per level; empty: no strip) and `levels_caption` make the level strip; `legend`
    draws the legends (colour bar, point counts) and the strip. `blocks`: the level whose
    Laplacian blocks are drawn coloured by state (-1: none), over the 2D view or on the 3D slice
    plane. 2D mode "gradient": |d field / d x| (central differences at `gradient_step` in field
    coordinates) in inferno, `gradient_scale` at full colour (0: the 99th percentile of the view)."""

    width: int = 800
    height: int = 600
    mode: str = "field"
    level_mask: tuple[bool, ...] | None = None
    ground_truth: np.ndarray | None = field(default=None, compare=False, repr=False)
    error_gain: float = 4.0
    slice_axis: int = 2
    slice_position: float = 0.5
    slice_scale: float = 0.25
    steps: int = 96
    sample_spacing: float = 1.0
    density_scale: float = 1.0
    heatmap: str = "none"
    heat_level: int = 0
    heat_opacity: float = 0.75
    heat_scale: float = 0.0
    points: tuple[bool, ...] = ()
    sigma_circles: bool = True
    points_start: bool = False
    level_states: tuple[str, ...] = ()
    levels_caption: str = ""
    legend: bool = True
    blocks: int = -1
    gradient_step: float = 1e-4
    gradient_scale: float = 0.0


def scene_dims(snapshot: Snapshot) -> int:
    return int(snapshot.config.dims)


def image_size(snapshot: Snapshot) -> tuple[int, int]:
    """(width, height) of the snapshot's 2D scene; square when unknown."""
    size = snapshot.scene.get("size") if snapshot.scene else None
    return (int(size[0]), int(size[1])) if size and len(size) == 2 else (512, 512)


def default_camera(snapshot: Snapshot) -> Camera2D | Camera3D:
    return Camera2D() if scene_dims(snapshot) == 2 else Camera3D()


class Frame:
    """One image being drawn: `rows(top, bottom)` shades and reads those rows (top-down, float32
    (rows, W, 4)), with the overlays (points, legends) laid over them. A frame keeps its own
    settings, so frames can be drawn interleaved."""

    def __init__(
        self,
        renderer: Renderer,
        snapshot: Snapshot,
        mask: tuple[bool, ...],
        uniforms: dict[str, Uniform],
        options: ViewOptions,
        heat: heatmaps.Heat,
        camera: Camera2D | Camera3D,
    ) -> None:
        self.renderer, self.snapshot, self.mask, self.uniforms = renderer, snapshot, mask, uniforms
        self.camera = camera
        self.options, self.heat = options, heat
        self.width, self.height = options.width, options.height
        self.truth = options.ground_truth if scene_dims(snapshot) == 2 else None
        self._layer: np.ndarray | bool | None = False  # False: not drawn yet
        self._point_sets: list[overlays.PointSet] | None = None

    def rows(self, top: int, bottom: int) -> np.ndarray:
        out = self.renderer.shade_rows(self, top, bottom)
        layer = self.layer()
        if layer is not None and len(out):
            part = layer[max(0, top) : max(0, top) + len(out)]
            out[..., :3] = part[..., :3] + (1.0 - part[..., 3:]) * out[..., :3]
        return out

    def all(self) -> np.ndarray:
        return self.rows(0, self.height)

    def layer(self) -> np.ndarray | None:
        """The overlays over the whole frame (H, W, 4) premultiplied, or None; drawn on first use."""
        if self._layer is False:
            self._layer = self.renderer.overlay_layer(self)
        return self._layer  # type: ignore[return-value]

    def _sets(self) -> list[overlays.PointSet]:
        if self._point_sets is None:
            self._point_sets = self.point_sets()
        return self._point_sets

    def point_sets(self) -> list[overlays.PointSet]:
        return overlays.shown_sets(self.snapshot, self.options.points, self.uniforms, self.options.points_start)

    def legend_content(self) -> legend.LegendContent:
        """What this frame's legends say."""
        heat, options = self.heat, self.options
        lines = tuple(legend.PointsLine(s.level, s.total, s.visible, s.drawn, s.sigma) for s in self._sets())
        shown = self.block_level()
        return legend.LegendContent(
            heat_title=heat.title if heat.kind else "",
            heat_low=heat.low,
            heat_high=heat.high,
            note=heat.note,
            points=lines,
            levels=options.level_states,
            levels_caption=options.levels_caption,
            blocks_title=f"level {shown.level} blocks (scale {shown.scale})" if shown else "",
            blocks=tuple(shown.counts().items()) if shown else (),
        )

    def block_level(self) -> block_grid.BlockLevel | None:
        """The Laplacian blocks this frame draws, if any."""
        level = self.options.blocks
        levels = block_grid.block_levels(self.snapshot) if level >= 0 else []
        return levels[level] if 0 <= level < len(levels) else None


class Renderer:
    """GLSL evaluation of fields; buffers follow the snapshots handed to it (uploaded when a new
    snapshot arrives, level mask updated in place)."""

    def __init__(self, ctx: moderngl.Context | None = None) -> None:
        if ctx is None:
            ctx = create_context()
        self.ctx = ctx
        self._programs: dict[tuple[int, str, bool], moderngl.Program] = {}
        self._vaos: dict[int, moderngl.VertexArray] = {}
        self._targets: dict[tuple[int, int], moderngl.Framebuffer] = {}
        self._uploads: dict[int, Uploaded] = {}  # id(snapshot) -> its GL objects, oldest first
        self._truth: tuple[np.ndarray, moderngl.Texture] | None = None  # (array, texture)
        self._occupancy: tuple[np.ndarray, moderngl.Texture] | None = None  # (grid array, 3D texture)
        self._counts = heatmaps.CountsTexture()
        self._points: overlays.PointsOverlay | None = None

    # ---- public
    def draw(self, snapshot: Snapshot, camera: Camera2D | Camera3D, options: ViewOptions) -> np.ndarray:
        """The whole view: float32 (H, W, 4), row 0 at the top. Colour modes give values in [0,1];
        "raw" gives the field's outputs (first four), the *_points modes positions."""
        return self.frame(snapshot, camera, options).all()

    def frame(self, snapshot: Snapshot, camera: Camera2D | Camera3D, options: ViewOptions) -> Frame:
        """Everything needed to draw `options.width x options.height`; shade rows with Frame.rows."""
        if scene_dims(snapshot) == 2:
            uniforms = self._uniforms_2d(snapshot, camera, options)
        else:
            uniforms = self._uniforms_3d(snapshot, camera, options)
        uniforms["u_size"] = (float(options.width), float(options.height))
        mask = options.level_mask or tuple(snapshot.level_mask)
        with self.ctx:  # here, not in the first rows: a live picture's cost per pixel leaves these out
            self._program(self._upload(snapshot, mask), options.mode in GRADIENT_MODES)
        heat = heatmaps.resolve(self, snapshot, camera, options)
        uniforms.update(heat.uniforms(options.heat_opacity))
        return Frame(self, snapshot, mask, uniforms, options, heat, camera)

    def overlay_layer(self, frame: Frame) -> np.ndarray | None:
        """The points overlay and the legends of a frame as one premultiplied RGBA layer (H, W, 4),
        or None when it has none (value modes never have one)."""
        if frame.options.mode not in COLOUR_MODES:
            return None
        size = (frame.width, frame.height)
        sets = frame._sets()
        layer = self.blocks_layer(frame)
        if sets:
            # PointsOverlay makes our context current for its GL calls itself: never nest `with ctx`
            # (glcontext keeps one previous context, so a nested exit leaves ours current and
            # DearPyGui then draws into it, which crashes the window)
            if self._points is None:
                self._points = overlays.PointsOverlay(self.ctx)
            dots = self._points.draw(sets, frame.uniforms, size, frame.options.sigma_circles)
            layer = dots if layer is None else dots + (1.0 - dots[..., 3:]) * layer
        keys = legend.layer(*size, frame.legend_content()) if frame.options.legend else None
        if keys is None:
            return layer
        if layer is None:
            return keys
        return keys + (1.0 - keys[..., 3:]) * layer

    def blocks_layer(self, frame: Frame) -> np.ndarray | None:
        """The chosen level's Laplacian blocks coloured by state (premultiplied (H, W, 4)), over the
        2D view or on the 3D slice plane (its points drawn first), or None."""
        shown = frame.block_level()
        if shown is None:
            return None
        snapshot, options = frame.snapshot, frame.options
        if scene_dims(snapshot) == 2:
            return block_grid.layer(shown, frame.camera.field_coords(frame.width, frame.height, image_size(snapshot)))
        plane = replace(options, mode="slice_points", heatmap="none", points=(), blocks=-1, legend=False)
        points = self.draw(snapshot, frame.camera, plane)
        layer = block_grid.layer(shown, points[..., :3])
        layer[points[..., 3] < 0.5] = 0.0
        return layer

    def shade_rows(self, frame: Frame, top: int, bottom: int) -> np.ndarray:
        width, height = frame.width, frame.height
        top, bottom = max(0, top), min(height, bottom)
        if bottom <= top:
            return np.zeros((0, width, 4), np.float32)
        with self.ctx:
            uploaded = self._upload(frame.snapshot, frame.mask)
            program = self._program(uploaded, frame.options.mode in GRADIENT_MODES)
            uploaded.bind(program)
            has_truth = self._truth_texture(frame.truth)
            self._counts.bind(self.ctx, frame.heat.counts)
            grid = {"u_has_occupancy": self._occupancy_texture(frame.snapshot), "u_occupancy": OCCUPANCY_UNIT}
            for name, value in {**frame.uniforms, "u_has_truth": has_truth, "u_truth": 0, **grid}.items():
                _set(program, name, value)
            target = self._target(width, height)
            target.use()
            region = (0, height - bottom, width, bottom - top)
            self.ctx.scissor = region
            self._vao(program).render(vertices=3)
            self.ctx.scissor = None
            finish_drawing()
            data = target.read(viewport=region, components=4, dtype="f4")
        return np.frombuffer(data, np.float32).reshape(bottom - top, width, 4)[::-1].copy()

    def release(self) -> None:
        with self.ctx:
            for uploaded in self._uploads.values():
                uploaded.release()
            for obj in [*self._vaos.values(), *self._programs.values(), *self._targets.values()]:
                obj.release()
            for cached in (self._truth, self._occupancy):
                if cached is not None:
                    cached[1].release()
            self._counts.release()
        if self._points is not None:
            self._points.release()
        self._uploads = {}
        self._truth = self._points = self._occupancy = None
        self._vaos, self._programs, self._targets = {}, {}, {}

    # ---- GL objects
    def _program(self, uploaded: Uploaded, gradient: bool = False) -> moderngl.Program:
        """The view's program for the snapshot's config; `gradient`: the 2D gradient modes' own
        (their four extra field evaluations, inlined into every view, made llvmpipe's compile slow)."""
        dims = scene_dims(uploaded.snapshot)
        key = (dims, uploaded.code, gradient)
        if key not in self._programs:
            self._forget_programs(keep=PROGRAMS_KEPT - 1)
            fragment = "view2d.frag" if dims == 2 else "view3d.frag"
            defines = {"VIEW_GRADIENT": 1} if gradient else {}
            self._programs[key] = self.ctx.program(
                vertex_shader=shaders.read("fullscreen.vert"),
                fragment_shader=shaders.source(fragment, uploaded.code, defines),
            )
        return self._programs[key]

    def _forget_programs(self, keep: int) -> None:
        """Release all but the `keep` newest programs (and their vertex arrays): each field config
        compiles its own, and a window that opens scene after scene would keep them all."""
        for key in list(self._programs)[: max(0, len(self._programs) - keep)]:
            program = self._programs.pop(key)
            vao = self._vaos.pop(id(program), None)
            if vao is not None:
                vao.release()
            program.release()

    def _vao(self, program: moderngl.Program) -> moderngl.VertexArray:
        if id(program) not in self._vaos:
            self._vaos[id(program)] = self.ctx.vertex_array(program, [])
        return self._vaos[id(program)]

    def _target(self, width: int, height: int) -> moderngl.Framebuffer:
        if (width, height) not in self._targets:
            if len(self._targets) >= 4:
                for fbo in self._targets.values():
                    fbo.color_attachments[0].release()
                    fbo.release()
                self._targets.clear()
            texture = self.ctx.texture((width, height), 4, dtype="f4")
            self._targets[(width, height)] = self.ctx.framebuffer(color_attachments=[texture])
        return self._targets[(width, height)]

    def _upload(self, snapshot: Snapshot, mask: tuple[bool, ...]) -> Uploaded:
        """A snapshot's GL objects, made on first use; the newest UPLOADS_KEPT are kept (a comparison
        draws its fields' tiles in turn), the mask rewritten in place when it changed."""
        uploaded = self._uploads.pop(id(snapshot), None)  # (it holds the snapshot: ids stay unique)
        if uploaded is None:
            while len(self._uploads) >= UPLOADS_KEPT:
                self._uploads.pop(next(iter(self._uploads))).release()
            uploaded = upload_snapshot(self.ctx, snapshot, mask)
        elif mask != uploaded.mask:
            uploaded.gpu.set_level_mask(mask)
            uploaded.mask = mask
        self._uploads[id(snapshot)] = uploaded  # the newest last
        return uploaded

    def _truth_texture(self, truth: np.ndarray | None) -> bool:
        """Upload the ground truth (H, W, C) as a float RGBA texture (zero-padded) and bind it to
        unit 0; False if none."""
        if truth is None:
            if self._truth is not None:  # another scene's pixels: let them go
                self._truth[1].release()
                self._truth = None
            return False
        if self._truth is None or self._truth[0] is not truth:
            if self._truth is not None:
                self._truth[1].release()
            h, w, c = truth.shape
            padded = np.zeros((h, w, 4), np.float32)
            padded[:, :, :c] = truth[:, :, :4]
            texture = self.ctx.texture((w, h), 4, padded.tobytes(), dtype="f4")
            texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._truth = (truth, texture)
        self._truth[1].use(location=0)
        return True

    def _occupancy_texture(self, snapshot: Snapshot) -> bool:
        """Upload a NeRF snapshot's occupancy grid as a 3D texture (texel (z, y, x) = cell [x, y, z])
        on OCCUPANCY_UNIT; False if the snapshot has none."""
        grid = snapshot.params.get(OCCUPANCY_PARAM) if scene_dims(snapshot) == 3 else None
        if grid is None:
            return False
        if self._occupancy is None or self._occupancy[0] is not grid:
            if self._occupancy is not None:
                self._occupancy[1].release()
            cells = np.ascontiguousarray(np.asarray(grid, np.uint8) * 255)
            texture = self.ctx.texture3d(cells.shape[::-1], 1, cells.tobytes(), dtype="f1")
            texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            texture.repeat_x = texture.repeat_y = texture.repeat_z = False
            self._occupancy = (grid, texture)
        self._occupancy[1].use(location=OCCUPANCY_UNIT)
        return True

    # ---- uniforms
    def _uniforms_2d(
        self, snapshot: Snapshot, camera: Camera2D | Camera3D, options: ViewOptions
    ) -> dict[str, Uniform]:
        if not isinstance(camera, Camera2D):
            raise TypeError("a 2D field needs a Camera2D")
        origin, axis_x, axis_y = camera.mapping(options.width, options.height, image_size(snapshot))
        return {
            "u_origin": tuple(origin),
            "u_axis_x": tuple(axis_x),
            "u_axis_y": tuple(axis_y),
            "u_mode": MODES_2D.index(options.mode),
            "u_channels": min(4, int(snapshot.config.out_dims)),
            "u_error_gain": float(options.error_gain),
            "u_grad_step": float(options.gradient_step),
            "u_grad_scale": self._gradient_scale(snapshot, camera, options),
        }

    def _gradient_scale(self, snapshot: Snapshot, camera: Camera2D, options: ViewOptions) -> float:
        """|d field / d x| at full colour in mode "gradient": options.gradient_scale, or (0) the 99th
        percentile over a small picture of the view inside the image."""
        if options.mode != "gradient" or options.gradient_scale > 0:
            return float(options.gradient_scale or 1.0)
        width = 48
        height = max(1, round(width * options.height / max(1, options.width)))
        small = replace(options, width=width, height=height, mode="gradient_raw", heatmap="none", points=(), blocks=-1)
        values = self.draw(snapshot, camera, small)[..., 0]
        inside = camera.field_coords(width, height, image_size(snapshot))
        shown = ((inside >= 0) & (inside <= 1)).all(axis=-1)
        return float(max(np.percentile(values[shown], 99), 1e-6)) if shown.any() else 1.0

    def _uniforms_3d(
        self, snapshot: Snapshot, camera: Camera2D | Camera3D, options: ViewOptions
    ) -> dict[str, Uniform]:
        if not isinstance(camera, Camera3D):
            raise TypeError("a 3D field needs a Camera3D")
        eye, forward, right, up = camera.basis()
        mask = options.level_mask or tuple(snapshot.level_mask)
        return {
            "u_eye": tuple(eye),
            "u_forward": tuple(forward),
            "u_right": tuple(right),
            "u_up": tuple(up),
            "u_tan_half_fov": float(np.tan(np.radians(camera.fov) / 2)),
            "u_mode": MODES_3D.index(options.mode),
            "u_task": TASK_3D.get(str(snapshot.scene.get("task", "sdf")), 2),
            "u_slice_axis": int(options.slice_axis),
            "u_slice_pos": float(options.slice_position),
            "u_slice_scale": float(options.slice_scale),
            "u_steps": int(options.steps),
            "u_normal_eps": NORMAL_CELLS / finest_active_resolution(snapshot.config, mask),
            "u_density_scale": float(options.density_scale),
            "u_sdf_beta": 0.01,
            "u_level": float(snapshot.scene.get("level", 0.5)),
            **nerf_head_gl.render_uniforms(snapshot, options.sample_spacing),
        }


@dataclass
class Uploaded:
    """A snapshot's GL objects: its field's buffers, its NeRF colour head (if any), the level mask
    they hold, and the shader code (#defines) that reads them."""

    snapshot: Snapshot
    gpu: field_gl.GpuField
    head: nerf_head_gl.HeadBuffer | None
    mask: tuple[bool, ...]
    code: str

    def bind(self, program: moderngl.Program) -> None:
        self.gpu.bind(program)
        if self.head is not None:
            self.head.bind()

    def release(self) -> None:
        self.gpu.release()
        if self.head is not None:
            self.head.release()


def upload_snapshot(ctx: moderngl.Context, snapshot: Snapshot, mask: tuple[bool, ...]) -> Uploaded:
    """Buffers and shader code of a snapshot (packing the decoder's defines is slow: once a snapshot)."""
    config = snapshot.config
    gpu = field_gl.for_config(config).upload(ctx, config, snapshot.params, mask)
    head = None
    code = field_gl.for_config(config).glsl(config, snapshot.params)
    if config.dims == 3:
        code = "\n".join([nerf_head_gl.glsl(snapshot), code])
        if nerf_head_gl.has_head(snapshot):
            head = nerf_head_gl.HeadBuffer(ctx, snapshot.params)
    return Uploaded(snapshot, gpu, head, mask, code)


def _set(program: moderngl.Program, name: str, value: Uniform) -> None:
    """Set a uniform the compiler kept (unused ones are optimised away)."""
    if name in program:
        program[name].value = value
