"""Float pixels to 8-bit ones: the one conversion every image, video and colour writer uses, and the
one image writer (atomic)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from fieldscope.fields.paths import atomic_output


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Float values (...) in [0,1] -> uint8 (...): clipped to [0,1], rounded to the nearest of 0..255."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def encode_image(handle: BinaryIO, pixels: np.ndarray, suffix: str) -> None:
    """Float pixels (H, W, C) in [0,1], or uint8 ones, -> an 8-bit image file of type `suffix` on handle."""
    import imageio.v3 as iio  # lazy: ~70 ms that `fieldscope --help`, which loads this module, skips

    image = pixels if pixels.dtype == np.uint8 else to_uint8(pixels)
    handle.write(iio.imwrite("<bytes>", image[:, :, 0] if image.shape[2] == 1 else image, extension=suffix))


def write_image(out: Path, pixels: np.ndarray) -> None:
    """Float pixels (H, W, C) in [0,1], or uint8 ones, -> an 8-bit image file of out's type, written atomically."""
    with atomic_output(out) as handle:
        encode_image(handle, pixels, out.suffix.lower())
