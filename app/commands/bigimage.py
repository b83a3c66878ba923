"""Images larger than memory from the command line: a procedural test image of any size written
tile by tile (`fieldscope make-test-image`), and a PNG writer fed row bands (`fieldscope render`)."""

from __future__ import annotations

import argparse
import math
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.snapshot import atomic_output

TILE = 256


def size_for_megapixels(megapixels: float) -> tuple[int, int]:
    """(width, height) of a test image of about `megapixels` million pixels, aspect 4:3."""
    pixels = megapixels * 1e6
    height = max(1, round(math.sqrt(pixels * 3 / 4)))
    return max(1, round(pixels / height)), height


def pattern(rows: np.ndarray, cols: np.ndarray, height: int, width: int) -> np.ndarray:
    """The test image's RGB uint8 pixels at rows (h,) x cols (w,): a smooth colour wash, a flat grey
    region, rings whose frequency rises towards their edge (detail at every scale), a checkerboard
    of 8-pixel squares and fine text-like stripes, so that a multiscale field has both flat blocks to
    prune and detailed ones to fit."""
    y = (rows.astype(np.float32)[:, None] + 0.5) / height
    x = (cols.astype(np.float32)[None, :] + 0.5) / width
    wash = np.stack(
        [
            0.5 + 0.35 * np.sin(2 * np.pi * (1.3 * x + 0.4 * y)),
            0.45 + 0.3 * np.cos(2 * np.pi * (0.7 * y - 0.2 * x)),
            0.55 + 0.25 * np.sin(2 * np.pi * (x * y + 0.25)),
        ],
        axis=-1,
    )
    d2 = (x - 0.32) ** 2 + ((y - 0.55) * height / width) ** 2
    rings = 0.5 + 0.5 * np.cos(2 * np.pi * 0.35 * min(width, height) * d2)
    inside = (d2 < 0.04)[..., None]
    out = np.where(inside, 0.25 + 0.6 * rings[..., None] * np.array([1.0, 0.8, 0.6]), wash)
    r = rows[:, None]
    c = cols[None, :]
    checker = (((r // 8) + (c // 8)) % 2).astype(np.float32)
    board = (x > 0.62) & (x < 0.9) & (y > 0.58) & (y < 0.86)
    out = np.where(board[..., None], (0.15 + 0.7 * checker)[..., None], out)
    stripes = (x > 0.62) & (x < 0.9) & (y > 0.12) & (y < 0.3)
    ink = ((c % 11) < 2) & ((r % 17) < 12)
    out = np.where((stripes & ink)[..., None], 0.08, out)
    flat = (x < 0.2) & (y < 0.25)
    out = np.where(flat[..., None], 0.5, out)
    return to_uint8(out)


def make_test_image(path: str | Path, megapixels: float) -> tuple[int, int]:
    """Write a tiled RGB TIFF of about `megapixels` million pixels, one tile at a time (memory stays
    small whatever the size), atomically; returns (width, height)."""
    import tifffile  # ~0.1 s to import: only when a test image is written, not at --help time

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"{path}: the test image is a tiled TIFF; name it .tif")
    if not 0 < megapixels <= 20000:
        raise ConfigError(f"megapixels must be in (0, 20000], not {megapixels}")
    width, height = size_for_megapixels(megapixels)

    def tiles() -> Iterator[np.ndarray]:
        for ty in range(0, height, TILE):
            rows = np.arange(ty, min(height, ty + TILE))
            for tx in range(0, width, TILE):
                block = pattern(rows, np.arange(tx, min(width, tx + TILE)), height, width)
                full = np.zeros((TILE, TILE, 3), np.uint8)
                full[: block.shape[0], : block.shape[1]] = block
                yield full

    with atomic_output(path) as handle:
        tifffile.imwrite(
            handle,
            tiles(),
            shape=(height, width, 3),
            dtype=np.uint8,
            tile=(TILE, TILE),
            photometric="rgb",
            bigtiff=width * height * 3 > 2**31,
        )
    return width, height


def write_png(handle: BinaryIO, width: int, height: int, channels: int, bands: Iterable[np.ndarray]) -> None:
    """Write an 8-bit PNG from row bands (rows, width, channels) uint8, top to bottom, compressing as
    they come (memory: one band)."""
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def chunk(tag: bytes, data: bytes) -> None:
        handle.write(struct.pack(">I", len(data)) + tag + data)
        handle.write(struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    handle.write(b"\x89PNG\r\n\x1a\n")
    chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
    packer = zlib.compressobj(6)
    written = 0
    for band in bands:
        if band.shape[1:] != (width, channels) or band.dtype != np.uint8:
            raise ValueError(f"band of shape {band.shape} {band.dtype}, expected (rows, {width}, {channels}) uint8")
        rows = np.concatenate([np.zeros((band.shape[0], 1), np.uint8), band.reshape(band.shape[0], -1)], axis=1)
        data = packer.compress(rows.tobytes())
        if data:
            chunk(b"IDAT", data)
        written += band.shape[0]
    if written != height:
        raise ValueError(f"{written} rows written, the PNG has {height}")
    chunk(b"IDAT", packer.flush())
    chunk(b"IEND", b"")


def add_parser(sub: Subparsers) -> None:
    test_image = command_parser(sub, "make-test-image")
    test_image.add_argument("out", help="TIFF file to write (.tif)")
    test_image.add_argument("--megapixels", type=float, default=1000.0, help="size in millions of pixels")
    test_image.set_defaults(run=cmd_make_test_image)


def cmd_make_test_image(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    width, height = make_test_image(args.out, args.megapixels)
    print(
        f"wrote a {width}x{height} test image ({width * height / 1e6:,.0f} MP) to {args.out} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0
