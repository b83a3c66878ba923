"""Headless renderer of 3D fields (torch and Warp, no OpenGL): what `fieldscope render` draws for a
3D model, and the torch reference for the GUI's GLSL raymarcher.

By the scene's task:
- sdf, surface: sphere tracing of the zero level (steps of 0.9 * |f|), shaded by the numerical normal;
- occupancy, and volume with an iso-level: the first crossing of the level along the ray (fixed
  steps, then bisection), skipping cells a coarse grid of the field shows to be far from it;
- volume: maximum intensity projection of output 0;
- nerf: volume rendering of density and colour (gpu/volume_render.py) with the scene's head.
Surfaces are lit by a headlight: albedo * (0.25 + 0.75 * |n . ray|) (a normal never faces away from the
viewer). Normals are central differences over the larger of NORMAL_CELLS finest active cells and the
pixel's footprint: a smaller step sees the grid's piecewise-linear kinks and hash noise, which speckle
the picture (the GLSL view, shaders/view3d.frag, takes the same step). Images are RGBA float32
(H, W, 4) with alpha 0 where nothing was hit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.cameras import Camera, camera_rays, transform_rays
from fieldscope.fields.render.mesh_export import field_grid
from fieldscope.fields.render.volume_rendering import Samples, march_rays, render_rays
from fieldscope.fields.scenes.levels import finest_active_step, numerical_gradient

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase
    from fieldscope.fields.scenes.nerf import NerfHead

ALBEDO = (0.82, 0.8, 0.76)
#: Least normal step, in cells of the finest active level (one or two cells leave speckles on a
#: briefly trained hash grid; see the report of issue 12).
NORMAL_CELLS = 4.0
RAY_CHUNK = 1 << 15


@dataclass(frozen=True)
class RenderOptions:
    """Settings of a render: iso-level (None: the task's), samples per cube diagonal, sphere-tracing
    iterations and hit tolerance, resolution of the skipping grid."""

    level: float | None = None
    steps: int = 512
    max_iterations: int = 160
    tolerance: float = 5e-4
    grid: int = 96


def unit_rays(camera: Camera, unit_from_world: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pixel's ray (H * W, 3) in unit-cube coordinates."""
    origins, directions = camera_rays(camera)
    return transform_rays(origins, directions, unit_from_world)


def ray_box(origins: torch.Tensor, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry (>= 0) and exit distances (R,) of rays through [0,1]^3 (exit < entry: a miss)."""
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    lo, hi = (0.0 - origins) / safe, (1.0 - origins) / safe
    entry = torch.minimum(lo, hi).max(dim=-1).values.clamp_min(0.0)
    return entry, torch.maximum(lo, hi).min(dim=-1).values


def shade(normals: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Headlight Lambert shading (N, 3) of unit normals (N, 3) seen along directions (N, 3); a
    normal facing away (a noisy one, or a grazing hit) is lit as its mirror towards the viewer."""
    light = (normals * directions).sum(-1, keepdim=True).abs()
    return torch.tensor(ALBEDO, device=normals.device) * (0.25 + 0.75 * light)


def pixel_angle(camera: Camera, unit_from_world: np.ndarray | None) -> float:
    """Width of a pixel in unit-cube coordinates at unit distance along a ray (the footprint at t
    is t times this)."""
    scale = 1.0 if unit_from_world is None else abs(float(np.linalg.det(unit_from_world[:3, :3]))) ** (1 / 3)
    return scale / max(camera.fx, camera.fy)


def surface_normals(
    field: FieldBase, points: torch.Tensor, inside_is_low: bool, footprints: torch.Tensor
) -> torch.Tensor:
    """Outward unit normals (N, 3) from the numerical gradient of output 0 at points (N, 3), over the
    larger of NORMAL_CELLS finest active cells and each point's pixel footprint (N,)."""
    steps = footprints.clamp_min(NORMAL_CELLS * finest_active_step(field))
    grad = numerical_gradient(field, points, steps)
    grad = grad if inside_is_low else -grad
    return torch.nn.functional.normalize(grad, dim=-1)


@torch.no_grad()
def sphere_trace(
    field: FieldBase, origins: torch.Tensor, directions: torch.Tensor, options: RenderOptions, level: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hit mask (R,) and distance (R,) of the first zero of a signed distance field along rays."""
    entry, exit_ = ray_box(origins, directions)
    t = entry.clone()
    hit = torch.zeros_like(t, dtype=torch.bool)
    # the last distances seen outside and inside: a ray that bounces around a noisy surface without
    # meeting the tolerance (a hole in the picture) is bisected between them at the end
    outside, inside = entry.clone(), torch.full_like(t, math.inf)
    active = torch.nonzero(t < exit_).reshape(-1)
    for _ in range(options.max_iterations):
        if active.numel() == 0:
            break
        value = field(origins[active] + t[active, None] * directions[active])[:, 0] - level
        done = value.abs() < options.tolerance
        hit[active[done]] = True
        outside[active] = torch.where(value > 0, t[active], outside[active])
        inside[active] = torch.where(value < 0, t[active], inside[active])
        # a learned SDF is not an exact distance: 0.9 of it, and back again after an overshoot
        t[active] += torch.where(done, torch.zeros_like(value), 0.9 * value)
        alive = ~done & (t[active] < exit_[active]) & (t[active] > entry[active] - options.tolerance)
        active = active[alive]
    bracketed = torch.nonzero(~hit & inside.isfinite() & (inside > outside)).reshape(-1)
    t[bracketed] = bisect(
        field, origins[bracketed], directions[bracketed], outside[bracketed], inside[bracketed], level
    )
    hit[bracketed] = True
    return hit, t


def bisect(
    field: FieldBase,
    origins: torch.Tensor,
    directions: torch.Tensor,
    outside: torch.Tensor,
    inside: torch.Tensor,
    level: float,
) -> torch.Tensor:
    """The zero (R,) of output 0 - level between distances outside (R,, value above) and inside
    (R,, below) along rays (R, 3), to 2^-12 of the bracket."""
    for _ in range(12):
        mid = 0.5 * (outside + inside)
        above = field(origins + mid[:, None] * directions)[:, 0] > level
        outside, inside = torch.where(above, mid, outside), torch.where(above, inside, mid)
    return 0.5 * (outside + inside)


def sample_values(field: FieldBase, origins: torch.Tensor, directions: torch.Tensor, samples: Samples) -> torch.Tensor:
    """Output 0 of the field at every sample (S,) of marched rays, in chunks."""
    parts = []
    for s in range(0, samples.t.numel(), RAY_CHUNK):
        ray = samples.ray[s : s + RAY_CHUNK]
        parts.append(field(origins[ray] + samples.t[s : s + RAY_CHUNK, None] * directions[ray])[:, 0])
    return torch.cat(parts) if parts else origins.new_zeros(0)


def candidate_cells(field: FieldBase, level: float, inside_is_low: bool, res: int) -> torch.Tensor:
    """Cells (res, res, res) bool that may hold the inside region: a corner of the cell or of a
    neighbouring cell is inside (one cell of dilation catches thin parts between grid vertices)."""
    values = torch.from_numpy(field_grid(field, res + 1))
    inside = (values < level) if inside_is_low else (values > level)
    corners = inside.float()[None, None]
    cells = torch.nn.functional.max_pool3d(corners, kernel_size=2, stride=1)  # any of 8 corners
    dilated = torch.nn.functional.max_pool3d(cells, kernel_size=3, stride=1, padding=1)
    return dilated[0, 0] > 0


@torch.no_grad()
def first_crossing(
    field: FieldBase,
    origins: torch.Tensor,
    directions: torch.Tensor,
    options: RenderOptions,
    level: float,
    inside_is_low: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hit mask (R,) and distance (R,) where rays first enter the inside of a level set: lattice
    steps in candidate cells, then bisection between the last outside and first inside sample."""
    dt = math.sqrt(3.0) / options.steps
    samples = march_rays(origins, directions, candidate_cells(field, level, inside_is_low, options.grid), dt)
    hit = torch.zeros(origins.shape[0], dtype=torch.bool, device=origins.device)
    t_hit = torch.zeros(origins.shape[0], device=origins.device)
    if samples.t.numel() == 0:
        return hit, t_hit
    values = sample_values(field, origins, directions, samples)
    inside = values < level if inside_is_low else values > level
    first = torch.full((origins.shape[0],), samples.t.numel(), dtype=torch.long)
    first.scatter_reduce_(0, samples.ray[inside], torch.nonzero(inside).reshape(-1), "amin")
    rays = torch.nonzero(first < samples.t.numel()).reshape(-1)
    hi = samples.t[first[rays]]
    lo = (hi - dt).clamp_min(0.0)
    for _ in range(10):
        mid = 0.5 * (lo + hi)
        value = field(origins[rays] + mid[:, None] * directions[rays])[:, 0]
        now_inside = value < level if inside_is_low else value > level
        hi, lo = torch.where(now_inside, mid, hi), torch.where(now_inside, lo, mid)
    hit[rays], t_hit[rays] = True, hi
    return hit, t_hit


@torch.no_grad()
def max_intensity(
    field: FieldBase, origins: torch.Tensor, directions: torch.Tensor, options: RenderOptions
) -> torch.Tensor:
    """Maximum of output 0 along each ray inside the cube (R,) (0 for rays that miss it)."""
    dt = math.sqrt(3.0) / options.steps
    everywhere = torch.ones(1, 1, 1, dtype=torch.bool)
    samples = march_rays(origins, directions, everywhere, dt)
    best = torch.zeros(origins.shape[0])
    return best.scatter_reduce_(0, samples.ray, sample_values(field, origins, directions, samples).float(), "amax")


def surface_image(
    field: FieldBase,
    origins: torch.Tensor,
    directions: torch.Tensor,
    hit: torch.Tensor,
    t: torch.Tensor,
    inside_is_low: bool,
    pixel: float,
) -> torch.Tensor:
    """RGBA (R, 4): shaded surface where hit, transparent elsewhere; `pixel` is pixel_angle()."""
    image = torch.zeros(origins.shape[0], 4)
    if bool(hit.any()):
        points = origins[hit] + t[hit, None] * directions[hit]
        normals = surface_normals(field, points, inside_is_low, t[hit] * pixel)
        image[hit, :3] = shade(normals, directions[hit])
        image[hit, 3] = 1.0
    return image


@torch.no_grad()
def render_field(
    field: FieldBase,
    facts: dict[str, Any],
    camera: Camera,
    world_camera: bool = False,
    head: NerfHead | None = None,
    options: RenderOptions | None = None,
) -> np.ndarray:
    """Render a 3D field trained on a scene described by `facts` (its describe(): task, level,
    inside_is_low, unit_from_world) -> RGBA float32 (H, W, 4). world_camera: the camera is in the
    scene's world coordinates (a NeRF test view), else in unit-cube coordinates."""
    options = options or RenderOptions()
    task = facts.get("task")
    unit_from_world = facts.get("unit_from_world") if world_camera else None
    unit_from_world = np.asarray(unit_from_world) if unit_from_world is not None else None
    origins, directions = unit_rays(camera, unit_from_world)
    pixel = pixel_angle(camera, unit_from_world)
    inside_is_low = bool(facts.get("inside_is_low", True))
    level = options.level if options.level is not None else float(facts.get("level", 0.0))
    if task == "nerf":
        if head is None:
            raise ConfigError("a NeRF field renders with its scene's colour head (the snapshot's)")
        image = nerf_image(field, head, origins, directions, facts, options)
    elif task in ("sdf", "surface"):
        hit, t = sphere_trace(field, origins, directions, options, level)
        image = surface_image(field, origins, directions, hit, t, inside_is_low, pixel)
    elif task in ("occupancy", "volume") and (task == "occupancy" or options.level is not None):
        hit, t = first_crossing(field, origins, directions, options, level, inside_is_low)
        image = surface_image(field, origins, directions, hit, t, inside_is_low, pixel)
    elif task == "volume":
        grey = max_intensity(field, origins, directions, options).clamp(0.0, 1.0)
        image = torch.cat([grey[:, None].expand(-1, 3), torch.ones(grey.shape[0], 1)], dim=1)
    else:
        raise ValueError(f"no 3D renderer for task {task!r}")
    return image.reshape(camera.height, camera.width, 4).numpy().astype(np.float32)


def nerf_image(
    field: FieldBase,
    head: NerfHead,
    origins: torch.Tensor,
    directions: torch.Tensor,
    facts: dict[str, Any],
    options: RenderOptions,
) -> torch.Tensor:
    """Volume rendering of a NeRF field and head over the scene's background (what its test PSNR
    measures): RGBA (R, 4), opaque."""
    dt = math.sqrt(3.0) / int(facts.get("render_steps", options.steps))
    background = torch.ones(3) if facts.get("background", "white") == "white" else torch.zeros(3)
    parts = []
    with torch.no_grad():
        for s in range(0, origins.shape[0], RAY_CHUNK):
            out = render_rays(
                field,
                head,
                origins[s : s + RAY_CHUNK],
                directions[s : s + RAY_CHUNK],
                background,
                head.grid.occupied,
                dt,
            )
            parts.append(torch.cat([out.color, torch.ones_like(out.opacity)[:, None]], dim=1))
    return torch.cat(parts)
