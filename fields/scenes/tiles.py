"""Tiled caches of images too large for memory: converted once from the source file into one raw
file of square tiles under the cache folder, then read back tile by tile.

File layout: a JSON header (HEADER_BYTES, space-padded) naming the source (path, size, mtime) and
the image (height, width, channels, stored dtype, tile side); a CRC-32 per tile; then the tiles,
row-major, each tile x tile x channels in the source's dtype (edge tiles padded by repeating the
last row and column). A cache whose source changed is stale and one whose header, length or a
tile's CRC does not check out is damaged: either is rebuilt from the source, with a message.
Builds write a temporary file and rename it, so an interrupted build leaves no cache behind.

Sources are read in row bands where the format allows it (TIFF, tiled or striped, through
tifffile), otherwise decoded whole once (PNG, JPEG, WebP, ... within the memory budget).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from fieldscope.fields.errors import InputError
from fieldscope.fields.paths import plain_file_mode
from fieldscope.fields.scenes.image_files import image_info, read_native

FORMAT = "fieldscope-tiles"
VERSION = 1
HEADER_BYTES = 4096
TILE = 256


def default_cache_root() -> Path:
    """$FIELDSCOPE_CACHE, else $XDG_CACHE_HOME/fieldscope, else ~/.cache/fieldscope."""
    if os.environ.get("FIELDSCOPE_CACHE"):
        return Path(os.environ["FIELDSCOPE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fieldscope"


def notify_stderr(message: str) -> None:
    print(f"fieldscope: {message}", file=sys.stderr, flush=True)


def source_stamp(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"source": str(path.resolve()), "source_bytes": stat.st_size, "source_mtime_ns": stat.st_mtime_ns}


def cache_path_for(source: Path, root: Path) -> Path:
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return root / "tiles" / f"{source.name}.{key}.fstiles"


class CacheProblem(Exception):
    """Why an existing cache cannot be used (stale or damaged)."""


class TileCache:
    """Read access to a tiled cache of an image: read_region() returns float32 pixels in [0,1] for
    integer images (as load_image does). Decoded tiles are kept in a small LRU of `memory` bytes."""

    def __init__(
        self, path: Path, source: Path, memory: int, notify: Callable[[str], None], build_budget: int = 4 << 30
    ) -> None:
        self.path = path
        self.source = source
        self.notify = notify
        self.build_budget = build_budget
        self._lock = threading.Lock()
        self._lru: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._memory = memory
        self._fd = -1
        self._open_checked()

    @classmethod
    def open(
        cls,
        source: str | Path,
        memory: int = 256 << 20,
        root: Path | None = None,
        notify: Callable[[str], None] = notify_stderr,
        build_budget: int = 4 << 30,
    ) -> TileCache:
        """The cache of `source`, built (or rebuilt, saying why) when missing, stale or damaged."""
        source = Path(source)
        path = cache_path_for(source, root or default_cache_root())
        try:
            if path.exists():
                try:
                    check_header(path, source)
                except CacheProblem as problem:
                    notify(f"tile cache {path} is {problem}; rebuilding it from {source}")
                    build(source, path, build_budget)
            else:
                notify(f"converting {source} into a tiled cache at {path} (once)")
                build(source, path, build_budget)
        except OSError as error:
            raise InputError(
                f"{source}: cannot write its tile cache at {path} ({error.strerror or error}); "
                "set FIELDSCOPE_CACHE to a folder with room"
            ) from None
        return cls(path, source, memory, notify, build_budget)

    def _open_checked(self) -> None:
        header = check_header(self.path, self.source)
        self.height, self.width, self.channels = header["height"], header["width"], header["channels"]
        self.dtype = np.dtype(header["dtype"])
        self.scale = float(header["scale"])
        self.tile = header["tile"]
        self.tiles_y, self.tiles_x = -(-self.height // self.tile), -(-self.width // self.tile)
        self.tile_bytes = self.tile * self.tile * self.channels * self.dtype.itemsize
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDONLY)
        count = self.tiles_y * self.tiles_x
        self._crcs = np.frombuffer(os.pread(self._fd, 4 * count, HEADER_BYTES), dtype="<u4")
        self._data = HEADER_BYTES + 4 * count
        self._capacity = max(4, self._memory // (self.tile * self.tile * self.channels * 4))
        self._lru.clear()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    def tile_shape(self, ty: int, tx: int) -> tuple[int, int]:
        """Rows and columns of real pixels in tile (ty, tx)."""
        return min(self.tile, self.height - ty * self.tile), min(self.tile, self.width - tx * self.tile)

    def read_tile(self, ty: int, tx: int) -> np.ndarray:
        """Tile (ty, tx) as float32 (tile, tile, C), padded at the image's edges."""
        with self._lock:
            key = (ty, tx)
            if key in self._lru:
                self._lru.move_to_end(key)
                return self._lru[key]
            raw = self._read_raw(ty, tx)
            pixels = raw.astype(np.float32)
            if self.scale != 1.0:
                pixels /= self.scale
            self._lru[key] = pixels
            while len(self._lru) > self._capacity:
                self._lru.popitem(last=False)
            return pixels

    def _read_raw(self, ty: int, tx: int) -> np.ndarray:
        index = ty * self.tiles_x + tx
        data = os.pread(self._fd, self.tile_bytes, self._data + index * self.tile_bytes)
        if len(data) != self.tile_bytes or zlib.crc32(data) != int(self._crcs[index]):
            self.notify(f"tile cache {self.path} is damaged (tile {ty},{tx} fails its check); rebuilding it")
            build(self.source, self.path, self.build_budget)
            self._open_checked()
            data = os.pread(self._fd, self.tile_bytes, self._data + index * self.tile_bytes)
            if zlib.crc32(data) != int(self._crcs[index]):
                raise InputError(f"{self.path}: the rebuilt tile cache does not read back; is the disk failing?")
        return np.frombuffer(data, dtype=self.dtype).reshape(self.tile, self.tile, self.channels)

    def read_region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Pixels of rows [y0, y1) and columns [x0, x1) (inside the image) -> float32 (rows, cols, C)."""
        if not (0 <= y0 <= y1 <= self.height and 0 <= x0 <= x1 <= self.width):
            raise ValueError(f"region rows {y0}:{y1}, columns {x0}:{x1} is outside a {self.width}x{self.height} image")
        out = np.empty((y1 - y0, x1 - x0, self.channels), np.float32)
        t = self.tile
        for ty in range(y0 // t, -(-y1 // t)):
            for tx in range(x0 // t, -(-x1 // t)):
                tile = self.read_tile(ty, tx)
                r0, r1 = max(y0, ty * t), min(y1, (ty + 1) * t)
                c0, c1 = max(x0, tx * t), min(x1, (tx + 1) * t)
                out[r0 - y0 : r1 - y0, c0 - x0 : c1 - x0] = tile[r0 - ty * t : r1 - ty * t, c0 - tx * t : c1 - tx * t]
        return out


def check_header(path: Path, source: Path) -> dict[str, Any]:
    """The cache's header if the cache is complete and matches the source; CacheProblem otherwise."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_BYTES)
        header = json.loads(head.decode().strip())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise CacheProblem("damaged (unreadable header)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        raise CacheProblem("damaged (not a tile cache of this version)")
    try:
        stamp = source_stamp(source)
    except OSError:
        raise InputError(f"{source}: no such file") from None
    if any(header.get(k) != v for k, v in stamp.items()):
        raise CacheProblem("stale (its source changed)")
    try:
        tiles = -(-header["height"] // header["tile"]) * -(-header["width"] // header["tile"])
        tile_bytes = header["tile"] ** 2 * header["channels"] * np.dtype(header["dtype"]).itemsize
    except (KeyError, TypeError):
        raise CacheProblem("damaged (incomplete header)") from None
    if path.stat().st_size != HEADER_BYTES + 4 * tiles + tiles * tile_bytes:
        raise CacheProblem("damaged (wrong length)")
    return header


def build(source: Path, path: Path, budget: int, tile: int = TILE) -> None:
    """Convert `source` into a tile cache at `path` (written to a temporary file, then renamed)."""
    shape = source_info(source)[0]
    height, width, channels = shape
    bands, dtype = row_bands(source, shape, budget)
    stored, scale = storage_of(dtype)
    tiles_y, tiles_x = -(-height // tile), -(-width // tile)
    count = tiles_y * tiles_x
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, plain_file_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\0" * (HEADER_BYTES + 4 * count))
            crcs = np.zeros(count, dtype="<u4")
            for ty, band in enumerate(tile_rows(bands, tile, width)):
                for tx in range(tiles_x):
                    block = pad_to(band[:, tx * tile : (tx + 1) * tile], tile)
                    data = np.ascontiguousarray(block, dtype=stored).tobytes()
                    crcs[ty * tiles_x + tx] = zlib.crc32(data)
                    handle.write(data)
            header = {
                "format": FORMAT,
                "version": VERSION,
                **source_stamp(source),
                "height": height,
                "width": width,
                "channels": channels,
                "dtype": np.dtype(stored).str,
                "scale": scale,
                "tile": tile,
            }
            handle.seek(0)
            handle.write(json.dumps(header).encode().ljust(HEADER_BYTES, b" "))
            handle.write(crcs.tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pad_to(block: np.ndarray, tile: int) -> np.ndarray:
    """Pad a (rows, cols, C) block to (tile, tile, C) by repeating its last row and column."""
    rows, cols = block.shape[:2]
    if rows < tile:
        block = np.concatenate([block, np.repeat(block[-1:], tile - rows, axis=0)], axis=0)
    if cols < tile:
        block = np.concatenate([block, np.repeat(block[:, -1:], tile - cols, axis=1)], axis=1)
    return block


def storage_of(dtype: np.dtype) -> tuple[np.dtype, float]:
    """How pixels are stored in the cache and the divisor that maps them to [0,1]."""
    if dtype == np.bool_:
        return np.dtype(np.uint8), 1.0
    if np.issubdtype(dtype, np.integer):
        if dtype.itemsize > 2:
            return np.dtype(np.float32), 1.0  # scaled while converting
        return dtype, float(np.iinfo(dtype).max)
    return np.dtype(np.float32), 1.0


def tile_rows(bands: Iterator[np.ndarray], tile: int, width: int) -> Iterator[np.ndarray]:
    """Regroup row bands of any height into bands of `tile` rows (the last may be shorter)."""
    pending: list[np.ndarray] = []
    rows = 0
    for band in bands:
        pending.append(band)
        rows += band.shape[0]
        while rows >= tile:
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield joined[:tile]
            rest = joined[tile:]
            pending, rows = ([rest] if rest.shape[0] else []), rest.shape[0]
    if rows:
        yield np.concatenate(pending)


def source_info(path: Path) -> tuple[tuple[int, int, int], np.dtype]:
    """(height, width, channels) and dtype of an image file, without decoding it (TIFF) or by
    reading its header."""
    if path.suffix.lower() in (".tif", ".tiff"):
        page = _tiff_page(path)
        shape = page.shape if len(page.shape) == 3 else (*page.shape, 1)
        return (int(shape[0]), int(shape[1]), int(shape[2])), np.dtype(page.dtype)
    return image_info(path)


def _tifffile() -> ModuleType:
    """The tifffile module, imported on first use (lazy: only TIFF files need it, and `fieldscope
    --help` loads this module)."""
    import tifffile

    return tifffile


def _tiff_page(path: Path) -> Any:
    tifffile = _tifffile()

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            if page.planarconfig == 2 and page.samplesperpixel > 1:
                raise InputError(f"{path}: planar (separate-plane) TIFF images cannot be streamed; save it contiguous")
            if len(page.shape) not in (2, 3):
                raise InputError(f"{path}: unsupported TIFF layout {page.shape}")
            return page
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"{path}: not a readable TIFF image ({error})") from None


def row_bands(path: Path, shape: tuple[int, int, int], budget: int) -> tuple[Iterator[np.ndarray], np.dtype]:
    """The image's rows, top to bottom, as bands (rows, W, C) ready to store (ints wider than 16
    bits become float32 in [0,1], floats float32), and the image's own dtype."""
    if path.suffix.lower() in (".tif", ".tiff"):
        return _tiff_bands(path, shape), np.dtype(_tiff_page(path).dtype)
    height, width, channels = shape
    needed = height * width * channels * 4
    if needed > budget:
        raise InputError(
            f"{path}: a {width}x{height} {path.suffix.lstrip('.').upper()} image cannot be read in parts and "
            f"decoding it needs up to {needed / 2**30:.1f} GiB, over the memory budget; convert it to a tiled TIFF"
        )
    pixels = read_native(path)
    return (_storable(pixels[y : y + TILE]) for y in range(0, height, TILE)), pixels.dtype


def _storable(band: np.ndarray) -> np.ndarray:
    if np.issubdtype(band.dtype, np.integer) and band.dtype.itemsize > 2:
        return band.astype(np.float32) / float(np.iinfo(band.dtype).max)
    if band.dtype == np.bool_:
        return band.astype(np.uint8)
    if np.issubdtype(band.dtype, np.floating) and band.dtype != np.float32:
        band = band.astype(np.float32)
    if np.issubdtype(band.dtype, np.floating) and not np.isfinite(band).all():
        raise InputError("the image holds NaN or infinite values")
    return band


def _tiff_bands(path: Path, shape: tuple[int, int, int]) -> Iterator[np.ndarray]:
    tifffile = _tifffile()

    height, width, channels = shape
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        band: np.ndarray | None = None
        band_y = -1
        for segment, index, seg_shape in page.segments(buffersize=8 << 20):
            y, x = index[2], index[3]
            rows, cols = seg_shape[1], seg_shape[2]
            if y != band_y:
                if band is not None:
                    yield _storable(band[: min(band.shape[0], height - band_y)])
                band = np.zeros((rows, width, channels), dtype=page.dtype)
                band_y = y
            assert band is not None
            if segment is not None:
                data = segment.reshape(seg_shape[1], seg_shape[2], -1)[:, : width - x]
                band[:, x : x + min(cols, width - x)] = data[:, : min(cols, width - x)]
        if band is not None:
            yield _storable(band[: min(band.shape[0], height - band_y)])
