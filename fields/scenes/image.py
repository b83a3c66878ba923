"""The image scene: a 2D field regressing pixel values (L2 loss, PSNR over the whole image).

Pixel (row r, column c) of an H x W image sits at coordinates ((c + 0.5) / W, (r + 0.5) / H):
x runs along the columns, y along the rows, both in [0,1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fields.errors import InputError
from fields.scenes.base import Batch, psnr_from_mse

#: Default cap on the decoded image (float32), so a huge file fails early with a clear message.
DEFAULT_MEMORY_BUDGET = 4 << 30
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".exr", ".bmp", ".gif")


def load_image(path: str | Path, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> np.ndarray:
    """Read an image file as float32 (H, W, C), C in 1..4, 8/16-bit integers scaled to [0,1].

    Raises InputError naming the file for a missing, empty, unreadable, damaged or too large file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    shape = _image_shape(path)
    needed = int(np.prod(shape)) * 4
    if needed > memory_budget:
        raise InputError(
            f"{path}: a {shape[1]}x{shape[0]} image needs {needed / 2**30:.1f} GiB as float32, "
            f"over the memory budget of {memory_budget / 2**30:.1f} GiB"
        )
    pixels = _read_exr(path) if path.suffix.lower() == ".exr" else _read_imageio(path)
    return _normalise(path, pixels)


def _image_shape(path: Path) -> tuple[int, ...]:
    if path.suffix.lower() == ".exr":
        return _read_exr(path).shape
    import imageio.v3 as iio

    try:
        props = iio.improps(path)
    except Exception as error:
        raise InputError(f"{path}: not a readable image ({_reason(error)})") from None
    shape = tuple(props.shape[1:] if props.is_batch else props.shape)
    return shape if len(shape) == 3 else (*shape, 1)


def _read_imageio(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        pixels = iio.imread(path, **_sixteen_bit_png_reader(path))
    except Exception as error:
        raise InputError(f"{path}: not a readable image ({_reason(error)})") from None
    return pixels[0] if pixels.ndim == 4 else pixels


def _sixteen_bit_png_reader(path: Path) -> dict[str, Any]:
    """imageio's default PNG reader (Pillow) drops 16-bit colour to 8 bits; its OpenCV plugin keeps them."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 26 or head[24] != 16:
        return {}
    import cv2

    return {"plugin": "opencv", "flags": cv2.IMREAD_UNCHANGED}


def _read_exr(path: Path) -> np.ndarray:
    # imageio reads EXR only through FreeImage, a binary it downloads at run time; OpenEXR's own
    # Python binding needs no download.
    import OpenEXR

    try:
        with OpenEXR.File(str(path)) as exr:
            channels = {name: np.array(channel.pixels) for name, channel in exr.channels().items()}
    except Exception as error:
        raise InputError(f"{path}: not a readable EXR image ({_reason(error)})") from None
    for group in ("RGBA", "RGB"):
        if group in channels:
            return channels[group]
    planes = [channels[name] for name in ("R", "G", "B", "A", "Y") if name in channels]
    if not planes:
        if not channels:
            raise InputError(f"{path}: the EXR image has no channels")
        planes = [next(iter(channels.values()))]
    return np.stack(planes, axis=-1) if planes[0].ndim == 2 else planes[0]


def _normalise(path: Path, pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or not 1 <= pixels.shape[2] <= 4 or min(pixels.shape[:2]) < 1:
        raise InputError(f"{path}: unsupported image layout {pixels.shape} (need H x W with 1 to 4 channels)")
    if pixels.dtype == np.bool_:
        out = pixels.astype(np.float32)
    elif np.issubdtype(pixels.dtype, np.integer):
        out = pixels.astype(np.float32) / float(np.iinfo(pixels.dtype).max)
    else:
        out = pixels.astype(np.float32)
        if not np.isfinite(out).all():
            raise InputError(f"{path}: the image holds NaN or infinite values")
    return np.ascontiguousarray(out)


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def row_chunks(height: int, width: int, chunk: int) -> list[slice]:
    """Slices of whole rows holding about `chunk` pixels each."""
    step = max(1, chunk // max(1, width))
    return [slice(start, min(height, start + step)) for start in range(0, height, step)]


def pixel_centers(height: int, width: int, rows: slice | None = None) -> torch.Tensor:
    """Coordinates (H'*W, 2) of the pixel centers of an H x W grid (optionally only some rows)."""
    r = torch.arange(height, dtype=torch.float32)[rows if rows is not None else slice(None)]
    c = torch.arange(width, dtype=torch.float32)
    yy, xx = torch.meshgrid((r + 0.5) / height, (c + 0.5) / width, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


class ImageScene:
    """An image as a 2D regression task."""

    task = "image"
    dims = 2

    def __init__(self, pixels: np.ndarray, name: str = "image", device: str | torch.device = "cpu") -> None:
        if pixels.ndim != 3:
            raise InputError(f"{name}: expected an H x W x C array, got shape {pixels.shape}")
        self.name = name
        self.height, self.width, self.out_dims = pixels.shape
        self.device = torch.device(device)
        self.pixels = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)
        self._flat = self.pixels.reshape(-1, self.out_dims)

    @classmethod
    def from_file(
        cls, path: str | Path, memory_budget: int = DEFAULT_MEMORY_BUDGET, device: str | torch.device = "cpu"
    ) -> ImageScene:
        return cls(load_image(path, memory_budget), name=Path(path).name, device=device)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """n random pixels: coords (n, 2) at pixel centers, targets (n, C)."""
        index = torch.randint(self.height * self.width, (n,), generator=generator, device=generator.device)
        index = index.to(self.device)
        rows, cols = index // self.width, index % self.width
        coords = torch.stack([(cols + 0.5) / self.width, (rows + 0.5) / self.height], dim=-1).float()
        return Batch(coords, self._flat[index])

    def read_region(self, lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
        """Pixels [lo, hi) per axis, given in coordinate order (x, y) -> float32 (rows, columns, C)."""
        return self.pixels[lo[1] : hi[1], lo[0] : hi[0]].cpu().numpy()

    def loss(self, field: Any, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean squared error over the batch, and the batch's PSNR."""
        mse = torch.mean((field(batch.coords) - batch.targets) ** 2)
        return mse, {"batch_psnr": psnr_from_mse(float(mse.detach()))}

    @torch.no_grad()
    def evaluate(self, field: Any, chunk: int = 1 << 16) -> dict[str, float]:
        """PSNR (dB, peak 1) and MSE over every pixel, evaluated in chunks of rows."""
        total = 0.0
        for rows in row_chunks(self.height, self.width, chunk):
            pred = field(pixel_centers(self.height, self.width, rows).to(self.device))
            target = self.pixels[rows].reshape(-1, self.out_dims)
            total += float(torch.sum((pred - target).double() ** 2))
        mse = total / (self.height * self.width * self.out_dims)
        return {"psnr": psnr_from_mse(mse), "mse": mse}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "size": [self.width, self.height],
            "channels": self.out_dims,
            "bounds": [[0.0, 0.0], [1.0, 1.0]],
            "extent": max(self.width, self.height),
        }


@torch.no_grad()
def render_image(field: Any, width: int, height: int, chunk: int = 1 << 16) -> np.ndarray:
    """Evaluate a 2D field at the pixel centers of a width x height grid -> float32 (H, W, C)."""
    device = next(field.parameters()).device
    parts = []
    for rows in row_chunks(height, width, chunk):
        parts.append(field(pixel_centers(height, width, rows).to(device)).float().cpu())
    return torch.cat(parts).reshape(height, width, -1).numpy()
