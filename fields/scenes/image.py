"""The image scene: a 2D field regressing pixel values (L2 loss, PSNR over the whole image).

Pixel (row r, column c) of an H x W image sits at coordinates ((c + 0.5) / W, (r + 0.5) / H):
x runs along the columns, y along the rows, both in [0,1].
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fieldscope.fields.errors import InputError
from fieldscope.fields.field import FieldBase
from fieldscope.fields.scenes.base import Batch, Scene, psnr_from_mse
from fieldscope.fields.scenes.files import existing_file
from fieldscope.fields.scenes.image_files import image_info, read_native
from fieldscope.fields.scenes.tiles import TileCache

#: Default memory for an image's pixels: images whose float32 pixels need more than half of it are
#: streamed from a tiled cache on disk instead of loaded.
DEFAULT_MEMORY_BUDGET = 4 << 30
#: Streaming needs room for a few decoded tiles, a band of rows and a batch.
MIN_STREAM_BUDGET = 16 << 20
#: Tiles a streamed batch is drawn from; tiles of a streamed image's sampled PSNR.
TILES_PER_BATCH = 64
EVAL_TILES = 64
#: A streamed image up to this many pixels gets an exact PSNR; above, one over EVAL_TILES tiles.
EXACT_EVAL_PIXELS = 1 << 25
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".exr", ".bmp", ".gif")


def load_image(path: str | Path, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> np.ndarray:
    """Read an image file as float32 (H, W, C), C in 1..4, 8/16-bit integers scaled to [0,1].

    Raises InputError naming the file for a missing, empty, unreadable, damaged or too large file.
    """
    path = Path(path)
    existing_file(path)
    shape = image_info(path)[0]
    needed = int(np.prod(shape)) * 4
    if needed > memory_budget:
        raise InputError(
            f"{path}: a {shape[1]}x{shape[0]} image needs {needed / 2**30:.1f} GiB as float32, "
            f"over the memory budget of {memory_budget / 2**30:.1f} GiB"
        )
    return _normalise(path, read_native(path))


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


def gradient_norm(pixels: torch.Tensor) -> torch.Tensor:
    """(H, W, C) -> (H, W), or a volume (X, Y, Z, C) -> (X, Y, Z): sqrt of the sum over channels of
    the squared central differences along every spatial axis (one-sided at the borders), in value
    units per sample."""
    axes = tuple(range(pixels.ndim - 1))
    flat = min(pixels.shape[:-1]) <= 1
    grads = (torch.zeros_like(pixels),) * len(axes) if flat else torch.gradient(pixels, dim=axes)
    return torch.sqrt(torch.stack([(g * g).sum(dim=-1) for g in grads]).sum(dim=0))


def gradient_norm_at(pixels: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """gradient_norm(pixels)[rows, cols] (n,) from the neighbours of those pixels only."""
    height, width = pixels.shape[:2]
    if min(height, width) <= 1:
        return torch.zeros(rows.shape[0], dtype=pixels.dtype, device=pixels.device)

    def along(
        index: torch.Tensor, size: int, at: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        low, high = (index - 1).clamp(min=0), (index + 1).clamp(max=size - 1)
        return (pixels[at(high)] - pixels[at(low)]) / (high - low).clamp(min=1)[:, None]

    dy = along(rows, height, lambda r: (r, cols))
    dx = along(cols, width, lambda c: (rows, c))
    return torch.sqrt((dy * dy + dx * dx).sum(dim=-1))


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


class ImageScene(Scene):
    """An image as a 2D regression task.

    The pixels live in memory (`pixels`, an (H, W, C) float32 tensor), or, for images too large
    for the memory budget, in a tiled cache on disk (`stream`, a TileCache) read tile by tile:
    batches then come from a few random tiles at a time, and PSNR is exact up to EXACT_EVAL_PIXELS
    pixels and estimated on a fixed sample of tiles above that.
    """

    task = "image"
    dims = 2

    def __init__(
        self,
        pixels: np.ndarray | None,
        name: str = "image",
        device: str | torch.device = "cpu",
        stream: TileCache | None = None,
    ) -> None:
        self.name = name
        self.device = torch.device(device)
        self.stream = stream
        self._detail: torch.Tensor | None = None
        if stream is not None:
            self.height, self.width, self.out_dims = stream.height, stream.width, stream.channels
            self.pixels = None
            return
        if pixels is None or pixels.ndim != 3:
            raise InputError(f"{name}: expected an H x W x C array, got shape {getattr(pixels, 'shape', None)}")
        self.height, self.width, self.out_dims = pixels.shape
        self.pixels = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)
        self._flat = self.pixels.reshape(-1, self.out_dims)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        device: str | torch.device = "cpu",
        stream: bool | None = None,
    ) -> ImageScene:
        """Load the image, or stream it from a tiled cache when its float32 pixels need more than
        half the memory budget (the cache's resident tiles then take at most a quarter of it);
        stream=True/False forces the choice."""
        path = Path(path)
        existing_file(path)
        (height, width, channels), _dtype = image_info(path)
        needed = height * width * channels * 4
        if stream is False or (stream is None and needed <= memory_budget // 2):
            return cls(load_image(path, memory_budget), name=path.name, device=device)
        if memory_budget < MIN_STREAM_BUDGET:
            raise InputError(
                f"{path}: a {width}x{height} image needs {needed / 2**30:.1f} GiB as float32, over the memory "
                f"budget of {memory_budget / 2**30:.4g} GiB (streaming it from disk needs at least "
                f"{MIN_STREAM_BUDGET >> 20} MiB)"
            )
        cache = TileCache.open(path, memory=min(memory_budget // 4, 512 << 20), build_budget=memory_budget)
        return cls(None, name=path.name, device=device, stream=cache)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """n random pixels: coords (n, 2) at pixel centers, targets (n, C), and weights (n,) the
        image's gradient norm there (Lagrangian Hashing's guidance weight W for images)."""
        if self.stream is not None:
            return self._sample_tiles(n, generator)
        index = torch.randint(self.height * self.width, (n,), generator=generator, device=generator.device)
        index = index.to(self.device)
        rows, cols = index // self.width, index % self.width
        return Batch(self._coords(rows, cols), self._flat[index], self.detail()[index])

    def detail(self) -> torch.Tensor:
        """(H*W,) norm of the image's spatial gradient per pixel (computed once; in-memory images)."""
        if self._detail is None:
            assert self.pixels is not None
            self._detail = gradient_norm(self.pixels).reshape(-1)
        return self._detail

    def _coords(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return torch.stack([(cols + 0.5) / self.width, (rows + 0.5) / self.height], dim=-1).float()

    def _sample_tiles(self, n: int, generator: torch.Generator) -> Batch:
        """Uniform pixels drawn through a few tiles: each tile is picked with probability in
        proportion to its pixels (through a uniform anchor pixel), then pixels uniform inside it.
        The weights are the gradient norm within the tile (one-sided at its borders)."""
        cache = self.stream
        assert cache is not None
        tiles = max(1, min(TILES_PER_BATCH, n // 1024))
        anchors = torch.randint(self.height * self.width, (tiles,), generator=generator)
        counts = [n // tiles + (1 if k < n % tiles else 0) for k in range(tiles)]
        rows, cols, targets, weights = [], [], [], []
        for anchor, count in zip(anchors.tolist(), counts, strict=True):
            ty, tx = (anchor // self.width) // cache.tile, (anchor % self.width) // cache.tile
            h, w = cache.tile_shape(ty, tx)
            r = torch.randint(h, (count,), generator=generator)
            c = torch.randint(w, (count,), generator=generator)
            tile = torch.from_numpy(cache.read_tile(ty, tx))
            targets.append(tile[r, c])
            weights.append(gradient_norm_at(tile, r, c))
            rows.append(r + ty * cache.tile)
            cols.append(c + tx * cache.tile)
        coords = self._coords(torch.cat(rows), torch.cat(cols))
        return Batch(coords.to(self.device), torch.cat(targets).to(self.device), torch.cat(weights).to(self.device))

    def read_region(self, lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
        """Pixels [lo, hi) per axis, given in coordinate order (x, y) -> float32 (rows, columns, C)."""
        if self.stream is not None:
            return self.stream.read_region(lo[1], hi[1], lo[0], hi[0])
        assert self.pixels is not None
        return self.pixels[lo[1] : hi[1], lo[0] : hi[0]].cpu().numpy()

    def loss(self, field: FieldBase, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean squared error over the batch, and the batch's PSNR."""
        mse = torch.mean((field(batch.coords) - batch.targets) ** 2)
        return mse, {"batch_psnr": psnr_from_mse(float(mse.detach()))}

    @torch.no_grad()
    def evaluate(self, field: FieldBase, chunk: int = 1 << 16) -> dict[str, float]:
        """PSNR (dB, peak 1) and MSE over every pixel, evaluated in chunks of rows (a streamed image
        above EXACT_EVAL_PIXELS: over a fixed sample of whole tiles, with psnr_pixels saying how many)."""
        if self.stream is not None and self.height * self.width > EXACT_EVAL_PIXELS:
            return self._evaluate_tiles(field, chunk)
        grid = pixel_grid(field, self.height, self.width) if self.stream is None else None
        if grid is not None:
            assert self.pixels is not None
            mse = float(torch.mean((grid.to(self.pixels.device) - self.pixels).double() ** 2))
            return {"psnr": psnr_from_mse(mse), "mse": mse}
        total = 0.0
        for rows in row_chunks(self.height, self.width, chunk):
            pred = field(pixel_centers(self.height, self.width, rows).to(self.device))
            target = self._rows(rows).reshape(-1, self.out_dims)
            total += float(torch.sum((pred - target).double() ** 2))
        mse = total / (self.height * self.width * self.out_dims)
        return {"psnr": psnr_from_mse(mse), "mse": mse}

    def _rows(self, rows: slice) -> torch.Tensor:
        if self.stream is None:
            assert self.pixels is not None
            return self.pixels[rows]
        region = self.stream.read_region(rows.start, rows.stop, 0, self.width)
        return torch.from_numpy(region).to(self.device)

    def _evaluate_tiles(self, field: FieldBase, chunk: int) -> dict[str, float]:
        cache = self.stream
        assert cache is not None
        picks = np.random.default_rng(0).choice(cache.tiles_y * cache.tiles_x, EVAL_TILES, replace=False)
        total, pixels = 0.0, 0
        for index in sorted(picks.tolist()):
            ty, tx = divmod(index, cache.tiles_x)
            h, w = cache.tile_shape(ty, tx)
            r = torch.arange(ty * cache.tile, ty * cache.tile + h).repeat_interleave(w)
            c = torch.arange(tx * cache.tile, tx * cache.tile + w).repeat(h)
            target = torch.from_numpy(cache.read_tile(ty, tx)[:h, :w].reshape(-1, self.out_dims))
            for start in range(0, r.numel(), chunk):
                part = slice(start, start + chunk)
                pred = field(self._coords(r[part], c[part]).to(self.device)).cpu()
                total += float(torch.sum((pred - target[part]).double() ** 2))
            pixels += h * w
        mse = total / (pixels * self.out_dims)
        return {"psnr": psnr_from_mse(mse), "mse": mse, "psnr_pixels": float(pixels)}

    def describe(self) -> dict[str, Any]:
        facts = {
            "name": self.name,
            "task": self.task,
            "size": [self.width, self.height],
            "channels": self.out_dims,
            "bounds": [[0.0, 0.0], [1.0, 1.0]],
            "extent": max(self.width, self.height),
        }
        if self.stream is not None:
            facts["streamed"] = True
        return facts


def pixel_grid(field: FieldBase, height: int, width: int) -> torch.Tensor | None:
    """The field's own whole-image evaluation (H, W, C) where it has one (FieldBase.pixel_grid); None
    for any other module (a plain callable evaluates its points)."""
    return field.pixel_grid(height, width) if isinstance(field, FieldBase) else None


@torch.no_grad()
def render_image(field: FieldBase, width: int, height: int, chunk: int = 1 << 16) -> np.ndarray:
    """Evaluate a 2D field at the pixel centers of a width x height grid -> float32 (H, W, C)."""
    return np.concatenate(list(render_bands(field, width, height, chunk)))


@torch.no_grad()
def render_bands(field: FieldBase, width: int, height: int, chunk: int = 1 << 16) -> Iterator[np.ndarray]:
    """The same, as float32 bands of whole rows (rows, W, C), top to bottom (memory: one band; a field
    with its own whole-image evaluation, FieldBase.pixel_grid, builds the whole image first)."""
    grid = pixel_grid(field, height, width)
    if grid is not None:
        for rows in row_chunks(height, width, chunk):
            yield grid[rows].float().cpu().numpy()
        return
    device = next(field.parameters()).device
    for rows in row_chunks(height, width, chunk):
        values = field(pixel_centers(height, width, rows).to(device)).float().cpu()
        yield values.reshape(rows.stop - rows.start, width, -1).numpy()
