"""The image scene: every supported file type, bad files, sampling, PSNR, reconstruction."""

import math
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from fieldscope.fields.errors import InputError
from fieldscope.fields.scenes.image import ImageScene, load_image, pixel_centers, render_image


def gradient_image(h=12, w=20, c=3):
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    planes = [xx, yy, xx * yy, 1 - xx][:c]
    return np.stack(planes, axis=-1).astype(np.float32)


def write_png16(path, pixels):
    """A minimal 16-bit PNG writer (filter 0 on every row)."""
    h, w, c = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].astype(">u2").tobytes() for r in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def write_exr(path, pixels):
    import OpenEXR

    name = {1: "Y", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    data = pixels[:, :, 0] if name == "Y" else pixels
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {name: np.ascontiguousarray(data)}) as f:
        f.write(str(path))


@pytest.mark.parametrize(
    ("suffix", "dtype", "channels", "tolerance"),
    [
        (".png", np.uint8, 3, 0.5 / 255),
        (".png", np.uint8, 1, 0.5 / 255),
        (".png", np.uint8, 4, 0.5 / 255),
        (".png", np.uint16, 3, 0.5 / 65535),
        (".png", np.uint16, 1, 0.5 / 65535),
        (".jpg", np.uint8, 3, 0.08),
        (".webp", np.uint8, 3, 0.08),
        (".webp", np.uint8, 4, 0.08),
        (".tif", np.uint8, 3, 0.5 / 255),
        (".tif", np.uint16, 4, 0.5 / 65535),
        (".tif", np.float32, 3, 0.0),
        (".tif", np.float32, 1, 0.0),
        (".exr", np.float32, 3, 0.0),
        (".exr", np.float32, 4, 0.0),
        (".exr", np.float32, 1, 0.0),
    ],
)
def test_every_supported_file_type_loads(tmp_path, suffix, dtype, channels, tolerance):
    pixels = gradient_image(c=channels)
    path = tmp_path / f"image{suffix}"
    if suffix == ".exr":
        write_exr(path, pixels)
    else:
        stored = pixels if dtype == np.float32 else np.round(pixels * np.iinfo(dtype).max).astype(dtype)
        if channels == 1 and suffix != ".tif":
            stored = stored[:, :, 0]
        if suffix == ".png" and dtype == np.uint16 and channels > 1:
            write_png16(path, stored)  # Pillow cannot write 16-bit colour PNGs
        else:
            extra = {"quality": 100} if suffix in (".jpg", ".webp") else {}
            if suffix == ".webp":
                extra["lossless"] = channels == 4  # lossy WebP drops the colour of transparent pixels
            iio.imwrite(path, stored, **extra)
    loaded = load_image(path)
    assert loaded.dtype == np.float32
    assert loaded.shape == (12, 20, channels)
    assert np.abs(loaded - pixels).max() <= tolerance + 1e-6


def test_missing_empty_foreign_truncated_and_too_large_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "missing.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png: the file is empty"):
        load_image(empty)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n" * 10)
    with pytest.raises(InputError, match=r"notes\.png: not a readable image"):
        load_image(text)
    good = tmp_path / "good.png"
    iio.imwrite(good, (gradient_image(64, 64) * 255).astype(np.uint8))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.png"):
        load_image(cut)
    with pytest.raises(InputError, match=r"good\.png: a 64x64 image needs .* over the memory budget"):
        load_image(good, memory_budget=1000)
    bad_exr = tmp_path / "bad.exr"
    bad_exr.write_bytes(b"v/1\x01" + b"\x00" * 40)
    with pytest.raises(InputError, match=r"bad\.exr: not a readable EXR"):
        load_image(bad_exr)


def test_pixel_centers_follow_columns_then_rows():
    coords = pixel_centers(2, 4)
    assert coords.shape == (8, 2)
    assert torch.allclose(coords[0], torch.tensor([0.125, 0.25]))
    assert torch.allclose(coords[3], torch.tensor([0.875, 0.25]))
    assert torch.allclose(coords[4], torch.tensor([0.125, 0.75]))


def test_samples_pair_coordinates_with_their_pixels():
    pixels = gradient_image(7, 9)
    scene = ImageScene(pixels)
    batch = scene.sample(500, torch.Generator().manual_seed(0))
    cols = (batch.coords[:, 0] * 9 - 0.5).round().long()
    rows = (batch.coords[:, 1] * 7 - 0.5).round().long()
    assert torch.equal(batch.targets, torch.from_numpy(pixels)[rows, cols])


class Known(torch.nn.Module):
    """A 'field' with a known error: the image plus a constant offset."""

    def __init__(self, scene, offset):
        super().__init__()
        self.scene, self.offset, self.p = scene, offset, torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        cols = (x[:, 0] * self.scene.width).long().clamp(max=self.scene.width - 1)
        rows = (x[:, 1] * self.scene.height).long().clamp(max=self.scene.height - 1)
        return self.scene.pixels[rows, cols] + self.offset


def test_psnr_covers_every_pixel_in_chunks():
    scene = ImageScene(gradient_image(33, 17))
    metrics = scene.evaluate(Known(scene, 0.1), chunk=40)
    assert metrics["mse"] == pytest.approx(0.01, rel=1e-5)
    assert metrics["psnr"] == pytest.approx(20.0, abs=1e-4)
    assert math.isinf(scene.evaluate(Known(scene, 0.0))["psnr"])


def test_reconstruction_at_any_resolution():
    scene = ImageScene(gradient_image(10, 10))
    field = Known(scene, 0.0)
    for w, h in [(10, 10), (25, 7), (3, 40)]:
        out = render_image(field, w, h, chunk=16)
        assert out.shape == (h, w, 3)
    same = render_image(field, 10, 10)
    assert np.array_equal(same, scene.pixels.numpy())
