"""The NeRF scene: a density field and a colour head learn a scene from posed images (Instant-NGP's
recipe: occupancy-grid ray marching, compaction, Huber loss, random background colours for RGBA
data; mip-NeRF 360's distortion loss, weight 1e-3), evaluated by PSNR on the test views.

How the field and the colour head share the work (any field kind works):
- the field has out_dims = 1 + k: output 0 is the log-density, sigma = exp(output 0), and all its
  outputs are the geometry features the colour head reads (Instant-NGP's 16);
- the colour head (`scene.head`, a NerfHead: the SH-encoded view direction + those features -> RGB,
  and the occupancy grid) belongs to the scene. The trainer optimises it with the field and the
  snapshot stores it under "head." (fields.train.HEAD_PREFIX); `head_from(snapshot)` rebuilds it,
  so a saved model renders without the data set.

Gaussian-bucket guidance (Lagrangian Hashing, NeRF): W(x) is the rendering weight. After each
loss, `scene.guidance(batch)` returns the points the field was evaluated at, as a Batch whose
`weights` are their (detached) rendering weights; the trainer passes that Batch, instead of the ray
batch, to `field.extra_loss(batch, step)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from fieldscope.fields.config import check
from fieldscope.fields.errors import SnapshotError
from fieldscope.fields.render.cameras import Camera, camera_rays, pixel_rays, transform_rays
from fieldscope.fields.render.volume_rendering import (
    TERMINATION,
    OccupancyGrid,
    Rendered,
    Samples,
    density,
    distortion_loss,
    render_rays,
)
from fieldscope.fields.scenes.appearance import AppearanceConfig, AppearanceHead
from fieldscope.fields.scenes.base import Batch, Scene, psnr_from_mse
from fieldscope.fields.scenes.nerf_data import NerfData, Views, load_nerf
from fieldscope.fields.training.trainer import split_params

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase
    from fieldscope.fields.training.trainer import Snapshot

BACKGROUNDS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}
#: Rays rendered at once when evaluating (bounds the memory of a render).
RAY_CHUNK = 1 << 13


@dataclass(frozen=True)
class RayBatch(Batch):
    """Rays in unit-cube coordinates: coords = origins (R, 3), targets = colours over `background`
    (R, 3), directions (R, 3) unit length, background (R, 3)."""

    directions: torch.Tensor | None = None
    background: torch.Tensor | None = None


class NerfHead(nn.Module):
    """What a NeRF scene learns besides the field: the colour head and the occupancy grid."""

    def __init__(self, appearance: AppearanceConfig, grid_resolution: int = 128, grid_share: float = 0.125) -> None:
        super().__init__()
        self.colour = AppearanceHead(appearance)
        self.grid = OccupancyGrid(grid_resolution, share=grid_share)

    def forward(self, features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """features (N, k), unit directions (N, 3) -> colour (N, 3)."""
        return self.colour(features, directions)

    def sigma(self, raw: torch.Tensor, samples: Samples | None = None, dt: float = 0.0) -> torch.Tensor:
        """Density (S,) from the field's output 0 (S,) at the samples along rays (S,): exp (the
        log-density; a NeRF's density needs nothing but the sample's own value)."""
        return density(raw)

    def colour_at(
        self, field: FieldBase, points: torch.Tensor, outputs: torch.Tensor, directions: torch.Tensor
    ) -> torch.Tensor:
        """Colour (N, 3) at points (N, 3) where the field gave outputs (N, k), seen along unit
        directions (N, 3): the MLP of the outputs and the direction."""
        return self(outputs, directions)

    def describe(self) -> dict[str, Any]:
        return {"appearance": self.colour.config.to_dict(), "grid_resolution": self.grid.resolution}


def head_from(snapshot: Snapshot) -> NerfHead:
    """The colour head and occupancy grid stored in a NeRF snapshot."""
    facts = snapshot.scene.get("head")
    if not facts:
        raise SnapshotError("the snapshot holds no NeRF colour head (it was not trained on a NeRF scene)")
    head = NerfHead(AppearanceConfig(**facts["appearance"]), facts["grid_resolution"])
    head.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in split_params(snapshot.params)[1].items()})
    return head


def default_steps(width: int, height: int) -> int:
    """Samples per unit-cube diagonal: a power of two near twice the image size, 256 to 1024."""
    return int(min(1024, max(256, 2 ** math.ceil(math.log2(2 * max(width, height))))))


@torch.no_grad()
def render_camera(
    field: FieldBase,
    head: NerfHead,
    camera: Camera,
    unit_from_world: np.ndarray,
    background: torch.Tensor,
    dt: float,
    threshold: float = TERMINATION,
) -> torch.Tensor:
    """A whole view (H, W, 3) of a camera given in world coordinates (unit_from_world maps them);
    rays stop where their transmittance falls under `threshold`."""
    device = background.device
    parts = []
    rows = max(1, RAY_CHUNK // camera.width)
    for start in range(0, camera.height, rows):
        origins, directions = camera_rays(camera, slice(start, start + rows))
        origins, directions = transform_rays(origins.to(device), directions.to(device), unit_from_world)
        occupied = head.grid.occupied
        parts.append(render_rays(field, head, origins, directions, background, occupied, dt, threshold=threshold).color)
    return torch.cat(parts).reshape(camera.height, camera.width, 3)


class NerfScene(Scene):
    """Posed images as a 3D task. `batch_size` (the trainer's) counts samples, not rays: the number
    of rays per batch adapts so that a step evaluates about that many points (Instant-NGP)."""

    task = "nerf"
    dims = 3
    head: NerfHead

    def __init__(
        self,
        data: NerfData,
        name: str = "nerf",
        features: int = 16,
        sh_degree: int = 4,
        head_width: int = 64,
        head_layers: int = 2,
        grid_resolution: int = 128,
        grid_interval: int = 16,
        grid_share: float = 0.125,
        render_steps: int | None = None,
        background: str = "white",
        train_background: str = "random",
        distortion_weight: float = 1e-3,
        huber_delta: float = 0.1,
        quick_pixels: int = 1 << 12,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        check(background in BACKGROUNDS, f"background must be white or black, not {background!r}")
        check(train_background in (*BACKGROUNDS, "random"), "train_background must be white, black or random")
        check(grid_interval >= 1, f"grid_interval must be at least 1, not {grid_interval}")
        check(distortion_weight >= 0.0 and huber_delta > 0.0, "distortion_weight >= 0 and huber_delta > 0")
        self.data, self.name = data, name
        self.out_dims = features
        self.device = torch.device(device)
        self.head = self.make_head(
            AppearanceConfig(features, sh_degree, head_width, head_layers), grid_resolution, grid_share
        )
        self.head.to(self.device)
        self.steps = render_steps or default_steps(data.train.width, data.train.height)
        check(16 <= self.steps <= 4096, f"render_steps must be between 16 and 4096, not {self.steps}")
        self.dt = math.sqrt(3.0) / self.steps
        self.background_name, self.train_background = background, train_background
        self.background = torch.tensor(BACKGROUNDS[background], device=self.device)
        self.grid_interval, self.distortion_weight, self.huber_delta = grid_interval, distortion_weight, huber_delta
        self.unit_from_world = data.unit_from_world
        self.generator = torch.Generator().manual_seed(seed)
        self.samples_per_ray = float(self.steps) / 2.0
        self._last: Rendered | None = None
        self._quick = self._quick_pixels(quick_pixels, seed)

    def make_head(self, appearance: AppearanceConfig, grid_resolution: int, grid_share: float) -> NerfHead:
        """The scene's learned head (a subclass's may read more than the field's outputs)."""
        return NerfHead(appearance, grid_resolution, grid_share)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        memory_budget: int = 4 << 30,
        scale: float | None = None,
        offset: Sequence[float] | None = None,
        aabb_scale: float | None = None,
        **options: Any,
    ) -> NerfScene:
        data = load_nerf(path, memory_budget, scale, offset, aabb_scale)
        return cls(data, name=Path(path).resolve().name, **options)

    # ---- rays
    def _rays(self, views: Views, index: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Unit-cube rays and RGBA targets (float32) of pixels (u, v) of views `index`."""
        origins, directions = pixel_rays(views.c2w[index], views.intrinsics[index], views.distortion[index], u, v)
        origins, directions = transform_rays(origins, directions, self.unit_from_world)
        rgba = views.images[index, v, u].float()
        return origins.to(self.device), directions.to(self.device), rgba.to(self.device)

    def _quick_pixels(self, count: int, seed: int) -> tuple[torch.Tensor, ...]:
        test = self.data.test
        g = torch.Generator().manual_seed(seed + 1)
        count = min(count, test.count * test.width * test.height)
        index = torch.randint(test.count, (count,), generator=g)
        u, v = torch.randint(test.width, (count,), generator=g), torch.randint(test.height, (count,), generator=g)
        return self._rays(test, index, u, v)

    @staticmethod
    def over(rgba: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        """Straight-alpha colours (N, 4) composited over a background (N, 3) or (3,)."""
        return rgba[:, :3] * rgba[:, 3:] + background * (1.0 - rgba[:, 3:])

    def rays_per_batch(self, samples: int) -> int:
        return int(min(1 << 16, max(64, samples / max(1.0, self.samples_per_ray))))

    def sample(self, n: int, generator: torch.Generator) -> RayBatch:
        """Random pixels of random training views: about n / (samples per ray) rays."""
        train = self.data.train
        rays = self.rays_per_batch(n)
        index = torch.randint(train.count, (rays,), generator=generator)
        u = torch.randint(train.width, (rays,), generator=generator)
        v = torch.randint(train.height, (rays,), generator=generator)
        origins, directions, rgba = self._rays(train, index, u, v)
        if self.train_background == "random":
            background = torch.rand(rays, 3, generator=generator).to(self.device)
        else:
            background = torch.tensor(BACKGROUNDS[self.train_background], device=self.device).expand(rays, 3)
        return RayBatch(origins, self.over(rgba, background), None, directions, background)

    # ---- training
    def before_step(self, field: FieldBase, step: int) -> None:
        """Every grid_interval steps: update the occupancy grid from the field's density."""
        if step > 0 and step % self.grid_interval == 0:
            self.head.grid.update(field, self.dt, self.generator, to_sigma=self.grid_sigma)

    def grid_sigma(self, raw: torch.Tensor) -> torch.Tensor:
        """The density (N,) the occupancy grid thresholds, of the field's output 0 (N,): exp."""
        return density(raw)

    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Huber loss on the rendered colours (+ distortion loss), and batch statistics."""
        assert isinstance(batch, RayBatch) and batch.directions is not None and batch.background is not None
        jitter = torch.rand(batch.coords.shape[0], generator=self.generator).to(self.device)
        out = render_rays(
            field, self.head, batch.coords, batch.directions, batch.background, self.head.grid.occupied, self.dt, jitter
        )
        self._last = out
        loss = nnf.huber_loss(out.color, batch.targets, delta=self.huber_delta)
        metrics = {
            "batch_psnr": psnr_from_mse(float(torch.mean((out.color.detach() - batch.targets) ** 2))),
            "rays": float(batch.coords.shape[0]),
            "samples_per_ray": out.points.shape[0] / max(1, batch.coords.shape[0]),
            "occupied": self.head.grid.occupancy(),
        }
        if self.distortion_weight > 0.0 and out.points.shape[0]:
            distortion = distortion_loss(out.weights, out.t, out.dt, out.offsets).mean()
            loss = loss + self.distortion_weight * distortion
            metrics["distortion"] = float(distortion.detach())
        # cost of a step ~ the samples run with gradients + a third of those only marched (no gradients)
        cost = (out.points.shape[0] + out.marched / 3.0) / max(1, batch.coords.shape[0])
        self.samples_per_ray = 0.9 * self.samples_per_ray + 0.1 * cost
        return loss, metrics

    def guidance(self, batch: Batch) -> Batch:
        """The points the last loss rendered (S, 3), with their rendering weights (S,) as W(x)."""
        if self._last is None:
            return batch
        points = self._last.points.detach()
        return Batch(points, points.new_zeros(points.shape[0], 0), self._last.weights.detach())

    # ---- evaluation
    @torch.no_grad()
    def render_rays(self, field: FieldBase, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Colours (R, 3) of unit-cube rays over the evaluation background, in chunks."""
        parts = []
        for s in range(0, origins.shape[0], RAY_CHUNK):
            o, d = origins[s : s + RAY_CHUNK], directions[s : s + RAY_CHUNK]
            parts.append(render_rays(field, self.head, o, d, self.background, self.head.grid.occupied, self.dt).color)
        return torch.cat(parts) if parts else origins.new_zeros(0, 3)

    def render_view(self, field: FieldBase, index: int, split: str = "test") -> np.ndarray:
        """A whole view of a split as float32 (H, W, 3) over the evaluation background."""
        views = self.data.test if split == "test" else self.data.train
        image = render_camera(field, self.head, views.camera(index), self.unit_from_world, self.background, self.dt)
        return image.cpu().numpy()

    def target_view(self, index: int, split: str = "test") -> np.ndarray:
        views = self.data.test if split == "test" else self.data.train
        rgba = views.images[index].float().reshape(-1, 4)
        return self.over(rgba, self.background.cpu()).reshape(views.height, views.width, 3).numpy()

    def evaluate(self, field: FieldBase) -> dict[str, float]:
        """PSNR over a fixed random subset of test pixels (quick, for live training)."""
        origins, directions, rgba = self._quick
        mse = float(torch.mean((self.render_rays(field, origins, directions) - self.over(rgba, self.background)) ** 2))
        return {"psnr": psnr_from_mse(mse)}

    def evaluate_full(self, field: FieldBase) -> dict[str, float]:
        """Mean PSNR over every test view (whole images over the evaluation background)."""
        scores = []
        for index in range(self.data.test.count):
            error = np.mean((self.render_view(field, index) - self.target_view(index)) ** 2, dtype=np.float64)
            scores.append(psnr_from_mse(float(error)))
        return {"psnr": float(np.mean(scores)), "psnr_worst_view": float(np.min(scores))}

    def describe(self) -> dict[str, Any]:
        test = self.data.test
        return {
            "name": self.name,
            "task": self.task,
            "size": [self.data.train.width, self.data.train.height],
            "views": {"train": self.data.train.count, "test": test.count, "test_split": self.data.test_split},
            "layout": self.data.layout,
            "bounds": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
            "extent": int(min(2048, 2 * max(test.width, test.height))),
            "head": self.head.describe(),
            "render_steps": self.steps,
            "background": self.background_name,
            "unit_from_world": np.asarray(self.unit_from_world).tolist(),
            "world_from_unit": np.linalg.inv(self.unit_from_world).tolist(),
            "test_views": [test.camera(i).to_dict() for i in range(test.count)],
            "level": math.log(10.0),
            "inside_is_low": False,
        }


@torch.no_grad()
def vertex_colours(field: FieldBase, head: NerfHead, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Colours (V, 3) of mesh vertices (V, 3) in the unit cube, seen from outside along their
    normals (V, 3) (the head's colour_at: a surface head takes its own SDF normal)."""
    device = head.grid.occupied.device
    points = torch.tensor(vertices, dtype=torch.float32, device=device)
    view = -torch.nn.functional.normalize(torch.tensor(normals, dtype=torch.float32, device=device), dim=-1)
    parts = []
    for s in range(0, len(points), RAY_CHUNK):
        chunk = points[s : s + RAY_CHUNK]
        parts.append(head.colour_at(field, chunk, field(chunk), view[s : s + RAY_CHUNK]).cpu())
    return torch.cat(parts).numpy().astype(np.float64) if parts else np.zeros((0, 3))
