"""Surfaces out of any 3D field: evaluate it on a grid, marching cubes (scikit-image), and write the
mesh as .ply or .obj (atomically, optionally with vertex colours)."""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.paths import write_atomic
from fieldscope.fields.pixels import to_uint8

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase

MESH_OUTPUTS = (".ply", ".obj")
#: Largest marching-cubes grid (its values are held in memory as float32: 4 GiB at 1024^3).
MAX_RESOLUTION = 1024


def grid_points(resolution: int, centres: bool, slab: slice | None = None) -> torch.Tensor:
    """Points of a resolution^3 grid over [0,1]^3, x slowest, as (n, 3): cell centres (i + 0.5) / R
    or vertices i / (R - 1). `slab` keeps only some x indices."""
    i = torch.arange(resolution, dtype=torch.float32)
    axis = (i + 0.5) / resolution if centres else i / max(1, resolution - 1)
    xs = axis[slab] if slab is not None else axis
    grid = torch.meshgrid(xs, axis, axis, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grid], dim=-1)


@torch.no_grad()
def field_grid(
    field: FieldBase, resolution: int, centres: bool = False, channel: int = 0, chunk: int = 1 << 18
) -> np.ndarray:
    """Output `channel` of a 3D field on a resolution^3 grid -> float32 (R, R, R), [i, j, k] at
    point (x_i, y_j, z_k) (see grid_points)."""
    device = device_of(field)
    per_slab = max(1, chunk // (resolution * resolution))
    out = np.empty((resolution, resolution, resolution), dtype=np.float32)
    for start in range(0, resolution, per_slab):
        slab = slice(start, min(resolution, start + per_slab))
        values = field(grid_points(resolution, centres, slab).to(device))[:, channel]
        out[slab] = values.float().cpu().numpy().reshape(-1, resolution, resolution)
    return out


def device_of(field: FieldBase) -> torch.device:
    """The device of a field's parameters (CPU for a module without any)."""
    parameter = next(iter(field.parameters()), None) if hasattr(field, "parameters") else None
    return parameter.device if parameter is not None else torch.device("cpu")


def check_resolution(resolution: int) -> None:
    if not 8 <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"mesh resolution must be between 8 and {MAX_RESOLUTION}, not {resolution}")


def marching_cubes(values: np.ndarray, level: float, inside_is_low: bool) -> tuple[np.ndarray, np.ndarray]:
    """Isosurface of grid vertex values (R, R, R) over [0,1]^3 -> vertices (V, 3) float64 in [0,1]^3
    and triangles (F, 3) int64, oriented so that normals point out of the inside region.

    Raises ConfigError when the level is not crossed anywhere (no surface).
    """
    from skimage import measure  # lazy: scikit-image is heavy, and only mesh export needs it

    low, high = float(values.min()), float(values.max())
    if not low < level < high:
        raise ConfigError(f"no surface at level {level:g}: the field ranges over [{low:.4g}, {high:.4g}] on the grid")
    spacing = (1.0 / (values.shape[0] - 1),) * 3
    direction = "descent" if inside_is_low else "ascent"
    vertices, faces, _normals, _ = measure.marching_cubes(values, level, spacing=spacing, gradient_direction=direction)
    return vertices.astype(np.float64), faces.astype(np.int64)


def extract_mesh(
    field: FieldBase, resolution: int, level: float = 0.0, inside_is_low: bool = True, channel: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The level set of a 3D field's output `channel` at a resolution^3 grid of [0,1]^3:
    vertices (V, 3) in [0,1]^3, triangles (F, 3) (see marching_cubes)."""
    check_resolution(resolution)
    return marching_cubes(field_grid(field, resolution, channel=channel), level, inside_is_low)


def scene_surface(
    field: FieldBase,
    facts: dict[str, Any],
    resolution: int,
    level: float | None = None,
    world: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The surface of a 3D field fitted to a scene, as export-mesh writes it: marching cubes at
    the scene's iso-level (`level` overrides it) with its inside side, vertices (V, 3) mapped by the
    scene's world_from_unit (its world coordinates: a mesh file's own, a NeRF data set's) unless
    `world` is False, triangles (F, 3), and the level used. `facts` is the scene's describe() (a
    snapshot keeps it). Raises ConfigError when the field has no surface at that level."""
    level = float(facts.get("level", 0.0)) if level is None else level
    check_resolution(resolution)
    vertices, faces = extract_mesh(field, resolution, level, bool(facts.get("inside_is_low", True)))
    return transform_points(vertices, facts.get("world_from_unit") if world else None), faces, level


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of an outward-oriented mesh."""
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], cross)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)


def area_and_volume(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    """Surface area and enclosed (signed, divergence theorem) volume of a closed, outward mesh."""
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    area = 0.5 * float(np.linalg.norm(cross, axis=1).sum())
    volume = float(np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum()) / 6.0
    return area, volume


def transform_points(points: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """Apply a 4x4 affine map (or none) to points (N, 3)."""
    if matrix is None:
        return points
    m = np.asarray(matrix, dtype=np.float64)
    return points @ m[:3, :3].T + m[:3, 3]


def load_trimesh() -> ModuleType:
    """The trimesh module, imported on first use (lazy: trimesh takes seconds to load, and only mesh
    files need it)."""
    import trimesh

    return trimesh


def mesh_bytes(vertices: np.ndarray, faces: np.ndarray, suffix: str, colors: np.ndarray | None = None) -> bytes:
    """The mesh as a binary .ply or a text .obj file's bytes; colors (V, 3) in [0,1] as vertex colours."""
    trimesh = load_trimesh()
    suffix = suffix.lower()
    if suffix not in MESH_OUTPUTS:
        raise ConfigError(f"unsupported mesh output type {suffix or '(none)'}; use {' or '.join(MESH_OUTPUTS)}")
    rgba = None
    if colors is not None:
        rgba = to_uint8(np.concatenate([colors, np.ones((len(colors), 1))], axis=1))
    mesh = trimesh.Trimesh(vertices, faces, vertex_colors=rgba, process=False)
    data = mesh.export(file_type="obj", include_color=True) if suffix == ".obj" else mesh.export(file_type=suffix[1:])
    return data.encode() if isinstance(data, str) else bytes(data)


def write_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> None:
    """Write a mesh file atomically (.ply or .obj by the path's suffix)."""
    path = Path(path)
    write_atomic(path, mesh_bytes(vertices, faces, path.suffix, colors))


def read_mesh_bytes(data: bytes, suffix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Vertices, faces and vertex colours (or None) of a mesh file's bytes (for checks and tests)."""
    trimesh = load_trimesh()
    mesh = trimesh.load(io.BytesIO(data), file_type=suffix.lstrip("."), process=False, force="mesh")
    if not isinstance(mesh, trimesh.Trimesh):
        raise ConfigError(f"the {suffix} data holds no single mesh")
    colors = None
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        colors = np.asarray(visual.vertex_colors)[:, :3] / 255.0
    return np.asarray(mesh.vertices), np.asarray(mesh.faces), colors
