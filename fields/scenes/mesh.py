"""Triangle meshes for the SDF and occupancy scenes: loading (trimesh), normalising into the unit
cube, ground truth from Warp mesh queries (gpu/mesh_query.py), surface and near-surface samples,
and a pool of samples with their ground truth that training draws from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import warp as wp

from fieldscope.fields.errors import ConfigError, InputError
from fieldscope.fields.render.mesh_export import load_trimesh
from fieldscope.fields.scenes import MESH_SUFFIXES
from fieldscope.fields.scenes.files import first_line
from fieldscope.fields.scenes.mesh_header import check_mesh_file
from fieldscope.fields.warp_bridge import warp_call
from fieldscope.gpu import mesh_query, runtime

SIGN_MODES = {"winding": mesh_query.WINDING, "parity": mesh_query.PARITY, "none": mesh_query.UNSIGNED}


def load_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) float64 and triangles (F, 3) int64 of a mesh file (.obj .ply .off .stl .glb;
    a .glb scene is flattened with its node transforms). Duplicate vertices are merged.

    Raises InputError naming the file when it is missing, empty, unreadable or holds no triangles.
    """
    vertices, faces, _ = load_coloured_mesh(path)
    return vertices, faces


def load_coloured_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """load_mesh's vertices (V, 3) and triangles (F, 3), and the vertex colours (V, 3) in [0,1]
    float64 if the file has per-vertex colours (else None)."""
    path = check_mesh_file(path)  # before the slow import
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise InputError(f"{path}: not a mesh type fieldscope reads (supported: {', '.join(MESH_SUFFIXES)})")
    trimesh = load_trimesh()
    try:
        loaded = trimesh.load(str(path), file_type=suffix[1:], force="mesh")
    except Exception as error:
        raise InputError(f"{path}: not a readable {suffix[1:].upper()} mesh ({first_line(error)})") from None
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    vertices, faces = check_mesh(path, vertices, faces)
    visual = getattr(loaded, "visual", None)
    colours = None
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        rgba = np.asarray(visual.vertex_colors, dtype=np.float64)
        if rgba.shape[0] == vertices.shape[0]:
            colours = rgba[:, :3] / 255.0
    return vertices, faces, colours


def check_mesh(name: str | Path, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The arrays unchanged if they make a usable mesh, else InputError naming `name`."""
    if faces.shape[0] == 0:
        raise InputError(f"{name}: the mesh has no faces (triangles); a point cloud cannot be a scene")
    if faces.min() < 0 or faces.max() >= vertices.shape[0]:
        raise InputError(f"{name}: a face refers to a vertex that does not exist")
    if not np.isfinite(vertices).all():
        raise InputError(f"{name}: the mesh has NaN or infinite vertex coordinates")
    used = vertices[np.unique(faces)]
    if float((used.max(axis=0) - used.min(axis=0)).max()) <= 0.0:
        raise InputError(f"{name}: the mesh has zero extent (all its vertices are one point)")
    return vertices, faces


def normalise(vertices: np.ndarray, faces: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale and move a mesh so that its bounding box is centred in [0,1]^3 and its longest side is
    1 - 2*margin. Returns the new vertices (V, 3) and world_from_unit (4, 4), the map back."""
    if not 0.0 <= margin < 0.5:
        raise ConfigError(f"margin must be in [0, 0.5), not {margin}")
    used = vertices[np.unique(faces)]
    low, high = used.min(axis=0), used.max(axis=0)
    centre = (low + high) / 2.0
    scale = (1.0 - 2.0 * margin) / float((high - low).max())
    world_from_unit = np.eye(4)
    world_from_unit[:3, :3] /= scale
    world_from_unit[:3, 3] = centre - 0.5 / scale
    return (vertices - centre) * scale + 0.5, world_from_unit


def is_watertight(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """Every edge shared by exactly two triangles (after merging duplicate vertices)."""
    trimesh = load_trimesh()

    return bool(trimesh.Trimesh(vertices, faces, process=True).is_watertight)


class MeshOracle:
    """Ground truth about one triangle mesh, answered by Warp's BVH queries.

    sign: "winding" (robust to holes), "parity" (exact for watertight meshes, faster), "none"
    (unsigned distances only) or "auto" (parity if the mesh is watertight, else winding).
    """

    def __init__(
        self, vertices: np.ndarray, faces: np.ndarray, sign: str = "auto", accuracy: float = 2.0, device: str = "cpu"
    ) -> None:
        if sign == "auto":
            sign = "parity" if is_watertight(vertices, faces) else "winding"
        if sign not in SIGN_MODES:
            raise ConfigError(f"sign must be one of auto, {', '.join(SIGN_MODES)}; not {sign!r}")
        runtime.init()
        self.sign = sign
        self.accuracy = float(accuracy)
        self.device = torch.device(device)
        self.vertices = torch.tensor(vertices, dtype=torch.float32, device=self.device)
        self.faces = torch.tensor(faces, dtype=torch.int64, device=self.device)
        self._mesh = wp.Mesh(
            points=wp.array(self.vertices.cpu().numpy(), dtype=wp.vec3, device=str(self.device)),
            indices=wp.array(self.faces.cpu().numpy().astype(np.int32).ravel(), dtype=wp.int32, device=str(device)),
            support_winding_number=sign == "winding",
        )
        corners = self.vertices[self.faces]  # (F, 3, 3)
        cross = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        self.face_area = 0.5 * cross.norm(dim=-1)
        self.face_normal = cross / cross.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        self._area_cdf = torch.cumsum(self.face_area.double(), 0) / self.face_area.double().sum()

    @property
    def area(self) -> float:
        return float(self.face_area.double().sum())

    def signed_distance(self, points: torch.Tensor, max_dist: float = 4.0) -> tuple[torch.Tensor, torch.Tensor]:
        """points (N, 3) -> distance (N,) (negative inside; unsigned for sign="none"; max_dist where
        no face is closer) and the unit normal (N, 3) of the closest face."""
        points = points.detach().float().contiguous()
        distance = torch.empty(points.shape[0], device=points.device)
        normal = torch.empty(points.shape[0], 3, device=points.device)
        mode = SIGN_MODES[self.sign]
        warp_call(mesh_query.signed_distance, self._mesh.id, points, max_dist, mode, self.accuracy, distance, normal)
        return distance, normal

    def inside(self, points: torch.Tensor) -> torch.Tensor:
        """points (N, 3) -> bool (N,), True inside the mesh."""
        if self.sign == "none":
            raise ConfigError("an unsigned mesh oracle cannot tell inside from outside")
        points = points.detach().float().contiguous()
        out = torch.empty(points.shape[0], dtype=torch.int32, device=points.device)
        warp_call(mesh_query.inside, self._mesh.id, points, SIGN_MODES[self.sign], self.accuracy, out)
        return out.bool()

    def sample_surface(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n points (n, 3) uniformly distributed over the surface area, and their face normals."""
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=generator.device).to(self.device)
        face = torch.searchsorted(self._area_cdf, u).clamp_max(self.faces.shape[0] - 1)
        r = torch.rand(n, 2, generator=generator, device=generator.device).to(self.device)
        s = r[:, :1].sqrt()
        a, b = 1.0 - s, s * (1.0 - r[:, 1:])
        corners = self.vertices[self.faces[face]]
        points = a * corners[:, 0] + b * corners[:, 1] + (1.0 - a - b) * corners[:, 2]
        return points, self.face_normal[face]


def sample_points(
    oracle: MeshOracle, n: int, generator: torch.Generator, uniform_share: float, sigmas: tuple[float, ...]
) -> torch.Tensor:
    """n points (n, 3) in [0,1]^3: a uniform_share uniformly in the box, the rest on the surface plus
    Gaussian offsets, split evenly between the standard deviations `sigmas`."""
    uniform = round(n * uniform_share)
    near = n - uniform
    parts = [torch.rand(uniform, 3, generator=generator, device=generator.device).to(oracle.device)]
    for k, sigma in enumerate(sigmas):
        count = near // len(sigmas) + (1 if k < near % len(sigmas) else 0)
        surface, _ = oracle.sample_surface(count, generator)
        noise = torch.randn(count, 3, generator=generator, device=generator.device).to(oracle.device)
        parts.append(surface + sigma * noise)
    return torch.cat(parts).clamp(0.0, 1.0)


class SamplePool:
    """A fixed-size pool of training samples with their ground truth.

    Computing ground truth for every batch costs as much as the training step on a CPU, so batches
    are drawn from the pool and `refresh(m)` replaces the m oldest samples with fresh ones each step.
    `make(n, generator)` returns a tuple of tensors with first dimension n (coords first).
    """

    def __init__(self, make: Callable[[int, torch.Generator], tuple[torch.Tensor, ...]], size: int, seed: int) -> None:
        if size < 1:
            raise ConfigError(f"the sample pool needs at least one sample, not {size}")
        self.make = make
        self.generator = torch.Generator().manual_seed(seed)
        self.arrays = list(make(size, self.generator))
        self.size = size
        self._next = 0

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """n random samples (with replacement): a tuple like make's."""
        index = torch.randint(self.size, (n,), generator=generator, device=generator.device)
        index = index.to(self.arrays[0].device)
        return tuple(a[index] for a in self.arrays)

    def refresh(self, m: int) -> None:
        """Replace the m oldest samples by fresh ones (cyclically)."""
        m = min(m, self.size)
        if m <= 0:
            return
        fresh = self.make(m, self.generator)
        rows = (torch.arange(m) + self._next) % self.size
        for array, new in zip(self.arrays, fresh, strict=True):
            array[rows.to(array.device)] = new
        self._next = (self._next + m) % self.size
