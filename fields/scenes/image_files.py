"""Reading image files: their header (shape and dtype) and their pixels in the file's own dtype, from
imageio's formats and OpenEXR (read with its own binding); errors name the file."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from fieldscope.fields.errors import InputError


def _imageio() -> ModuleType:
    """imageio.v3, imported on first use (lazy: ~70 ms that `fieldscope --help`, which loads this
    module, skips)."""
    import imageio.v3 as iio

    return iio


def image_info(path: Path) -> tuple[tuple[int, int, int], np.dtype]:
    """(height, width, channels) and dtype of an image file, from its header where the format allows."""
    if path.suffix.lower() == ".exr":
        pixels = _read_exr(path)
        return _three_axes(pixels.shape), pixels.dtype
    iio = _imageio()

    try:
        props = iio.improps(path)
    except Exception as error:
        raise InputError(f"{path}: not a readable image ({_reason(error)})") from None
    return _three_axes(tuple(props.shape[1:] if props.is_batch else props.shape)), np.dtype(props.dtype)


def _three_axes(shape: tuple[int, ...]) -> tuple[int, int, int]:
    return tuple(int(n) for n in shape) if len(shape) == 3 else (*(int(n) for n in shape), 1)  # type: ignore[return-value]


def read_native(path: Path) -> np.ndarray:
    """The decoded pixels in the file's own dtype, (H, W, C)."""
    pixels = _read_exr(path) if path.suffix.lower() == ".exr" else _read_imageio(path)
    return pixels if pixels.ndim != 2 else pixels[:, :, None]


def _read_imageio(path: Path) -> np.ndarray:
    iio = _imageio()

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
    import cv2  # lazy: OpenCV takes ~0.3 s to load, and only 16-bit PNGs need it

    return {"plugin": "opencv", "flags": cv2.IMREAD_UNCHANGED}


def _read_exr(path: Path) -> np.ndarray:
    # imageio reads EXR only through FreeImage, a binary it downloads at run time; OpenEXR's own
    # Python binding needs no download.
    import OpenEXR  # lazy: only EXR files need it

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


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
