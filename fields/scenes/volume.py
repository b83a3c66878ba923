"""The volume scene: a 3D field regressing the voxel values of a scalar (or up to 4-channel) volume
from a .npy file or a NIfTI image (.nii, .nii.gz; nibabel). Values are scaled to [0,1] by the
volume's own range; L2 loss; PSNR (peak 1) over every voxel.

Voxel [i, j, k] of an X x Y x Z volume sits at ((i + 0.5) / X, (j + 0.5) / Y, (k + 0.5) / Z).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fieldscope.fields.errors import InputError
from fieldscope.fields.scenes.base import Batch, Scene, psnr_from_mse
from fieldscope.fields.scenes.files import existing_file, first_line
from fieldscope.fields.scenes.image import gradient_norm

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase

DEFAULT_MEMORY_BUDGET = 4 << 30
#: Voxels the quick evaluation (during training) looks at; evaluate_full looks at all.
QUICK_VOXELS = 1 << 18


def load_volume(path: str | Path, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> tuple[np.ndarray, np.ndarray]:
    """A volume file as float32 (X, Y, Z, C) and its voxel-to-world affine (4, 4) (NIfTI's, or the
    identity: voxel units). InputError names the file for anything unusable."""
    path = existing_file(path)
    name = path.name.lower()
    if name.endswith(".npy"):
        data, affine = _read_npy(path), np.eye(4)
    elif name.endswith((".nii", ".nii.gz")):
        data, affine = _read_nifti(path)
    else:
        raise InputError(f"{path}: not a volume type fieldscope reads (.npy, .nii, .nii.gz)")
    return _normalise_layout(path, data, memory_budget), affine


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:
        raise InputError(f"{path}: not a readable .npy array ({first_line(error)})") from None


def _read_nifti(path: Path) -> tuple[Any, np.ndarray]:
    import nibabel  # lazy: nibabel takes ~1 s to load, and only NIfTI files need it

    try:
        image = nibabel.load(str(path))
        if not isinstance(image, nibabel.spatialimages.SpatialImage):
            raise InputError(f"{path}: not a NIfTI image with voxels")
        return image.dataobj, np.asarray(image.affine, dtype=np.float64)
    except Exception as error:
        raise InputError(f"{path}: not a readable NIfTI image ({first_line(error)})") from None


def _normalise_layout(path: Path, data: Any, memory_budget: int) -> np.ndarray:
    shape = tuple(int(n) for n in data.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] > 4):
        raise InputError(f"{path}: a volume must be X x Y x Z (or with up to 4 channels), not {shape}")
    if min(shape[:3]) < 2:
        raise InputError(
            f"{path}: a volume needs at least 2 voxels along each axis, this one is {'x'.join(map(str, shape[:3]))}"
        )
    needed = int(np.prod(shape)) * 4
    if needed > memory_budget:
        raise InputError(
            f"{path}: a {'x'.join(map(str, shape))} volume needs {needed / 2**30:.1f} GiB as float32, "
            f"over the memory budget of {memory_budget / 2**30:.1f} GiB"
        )
    dtype = getattr(data, "dtype", None)
    if dtype is not None and not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise InputError(f"{path}: the array holds {dtype}, not numbers")
    try:
        values = np.asarray(data, dtype=np.float32).reshape(*shape[:3], -1)
    except (ValueError, TypeError, OSError, EOFError) as error:
        raise InputError(f"{path}: the voxel data cannot be read ({first_line(error)})") from None
    if not np.isfinite(values).all():
        raise InputError(f"{path}: the volume holds NaN or infinite values")
    return np.ascontiguousarray(values)


def voxel_coords(shape: tuple[int, int, int], index: torch.Tensor) -> torch.Tensor:
    """Centres (n, 3) in [0,1]^3 of flat voxel indices (C order) of an X x Y x Z volume."""
    x, y, z = shape
    i = torch.stack([index // (y * z), (index // z) % y, index % z], dim=-1).float()
    return (i + 0.5) / torch.tensor([x, y, z], dtype=torch.float32, device=index.device)


class VolumeScene(Scene):
    """A volume as a 3D regression task: targets are the voxel values scaled to [0,1]."""

    task = "volume"
    dims = 3

    def __init__(
        self, values: np.ndarray, name: str = "volume", affine: np.ndarray | None = None, device: str = "cpu"
    ) -> None:
        if values.ndim == 3:
            values = values[..., None]
        if values.ndim != 4 or min(values.shape[:3]) < 2:
            raise InputError(f"{name}: a volume needs at least 2 voxels along each axis, not shape {values.shape}")
        self.name = name
        x, y, z = values.shape[:3]
        self.shape = (int(x), int(y), int(z))
        self.out_dims = int(values.shape[3])
        self.low, self.high = float(values.min()), float(values.max())
        scale = 1.0 / (self.high - self.low) if self.high > self.low else 1.0
        self.device = torch.device(device)
        self.values = torch.from_numpy((values - self.low) * scale).float().to(self.device)
        self._flat = self.values.reshape(-1, self.out_dims)
        self.affine = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
        count = self._flat.shape[0]
        quick = torch.randperm(count, generator=torch.Generator().manual_seed(0))[: min(QUICK_VOXELS, count)]
        self._quick = quick.sort().values.to(self.device)
        self._detail: torch.Tensor | None = None

    @classmethod
    def from_file(
        cls, path: str | Path, memory_budget: int = DEFAULT_MEMORY_BUDGET, device: str = "cpu"
    ) -> VolumeScene:
        values, affine = load_volume(path, memory_budget)
        return cls(values, name=Path(path).name, affine=affine, device=device)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """n random voxels: coords (n, 3) at voxel centres, targets (n, C)."""
        index = torch.randint(self._flat.shape[0], (n,), generator=generator, device=generator.device)
        index = index.to(self.device)
        return Batch(voxel_coords(self.shape, index), self._flat[index])

    def guidance(self, batch: Batch) -> Batch:
        """The batch with weights W(x) (n,) for a Lagrangian field's guidance loss: the norm of the
        volume's gradient at the voxels sampled (as the image scene's), so points gather at edges."""
        size = torch.tensor(self.shape, device=batch.coords.device)
        voxel = (batch.coords * size).long().clamp(min=torch.zeros_like(size), max=size - 1)
        index = (voxel[:, 0] * self.shape[1] + voxel[:, 1]) * self.shape[2] + voxel[:, 2]
        return Batch(batch.coords, batch.targets, self.detail()[index.to(self.device)])

    def detail(self) -> torch.Tensor:
        """(X*Y*Z,) norm of the volume's gradient per voxel (C order; computed once)."""
        if self._detail is None:
            self._detail = gradient_norm(self.values).reshape(-1)
        return self._detail

    def read_region(self, lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
        """Voxels [lo, hi) per axis, given in coordinate order (x, y, z) -> float32 (z, y, x, C), the
        array order of the Laplacian-block field's pyramid (as ImageScene's (rows, columns, C))."""
        block = self.values[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        return block.permute(2, 1, 0, 3).contiguous().cpu().numpy()

    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        mse = torch.mean((field(batch.coords) - batch.targets) ** 2)
        return mse, {"batch_psnr": psnr_from_mse(float(mse.detach()))}

    @torch.no_grad()
    def _psnr(self, field: FieldBase, index: torch.Tensor, chunk: int = 1 << 18) -> dict[str, float]:
        total = 0.0
        for start in range(0, index.numel(), chunk):
            part = index[start : start + chunk]
            pred = field(voxel_coords(self.shape, part))
            total += float(torch.sum((pred - self._flat[part]).double() ** 2))
        mse = total / (index.numel() * self.out_dims)
        return {"psnr": psnr_from_mse(mse), "mse": mse}

    def evaluate(self, field: FieldBase) -> dict[str, float]:
        """PSNR over a fixed random subset of up to QUICK_VOXELS voxels (quick, for live training)."""
        return self._psnr(field, self._quick)

    def evaluate_full(self, field: FieldBase) -> dict[str, float]:
        """PSNR (dB, peak 1) and MSE over every voxel."""
        return self._psnr(field, torch.arange(self._flat.shape[0], device=self.device))

    def describe(self) -> dict[str, Any]:
        x, y, z = self.shape
        world_from_unit = self.affine @ np.array([[x, 0, 0, -0.5], [0, y, 0, -0.5], [0, 0, z, -0.5], [0, 0, 0, 1.0]])
        return {
            "name": self.name,
            "task": self.task,
            "size": list(self.shape),
            "channels": self.out_dims,
            "value_range": [self.low, self.high],
            "bounds": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
            "extent": max(self.shape),
            "level": 0.5,
            "inside_is_low": False,
            "world_from_unit": world_from_unit.tolist(),
        }
