"""Images larger than memory: the tiled cache (built once, stale or damaged caches rebuilt with a
message), the streamed image scene, and peak resident memory under a cap while training."""

import json
import os
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import torch

from fieldscope.fields.errors import InputError
from fieldscope.fields.scenes import tiles
from fieldscope.fields.scenes.image import ImageScene, load_image
from fieldscope.fields.scenes.tiles import TileCache


def rgb(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def open_cache(path, root, messages, memory=1 << 20):
    return TileCache.open(path, memory=memory, root=root, notify=messages.append)


@pytest.mark.parametrize(
    "writer",
    ["tiled_tiff", "striped_tiff", "png16_grey", "png_rgba"],
)
def test_the_cache_reads_back_the_image(tmp_path, writer):
    if writer == "tiled_tiff":
        path, pixels = tmp_path / "a.tif", rgb(300, 530)
        tifffile.imwrite(path, pixels, tile=(128, 128))
    elif writer == "striped_tiff":
        path, pixels = tmp_path / "a.tif", rgb(300, 530)
        tifffile.imwrite(path, pixels, rowsperstrip=37)
    elif writer == "png16_grey":
        path = tmp_path / "a.png"
        pixels = np.random.default_rng(1).integers(0, 65536, (270, 260), dtype=np.uint16)
        iio.imwrite(path, pixels)
    else:
        path, pixels = tmp_path / "a.png", np.random.default_rng(2).integers(0, 256, (257, 258, 4), dtype=np.uint8)
        iio.imwrite(path, pixels)
    messages = []
    cache = open_cache(path, tmp_path / "cache", messages)
    assert any("converting" in m for m in messages)
    expected = load_image(path)
    assert (cache.height, cache.width, cache.channels) == expected.shape
    assert np.array_equal(cache.read_region(0, cache.height, 0, cache.width), expected)
    h, w = cache.height, cache.width
    y0, y1, x0, x1 = h // 3, h - 7, w // 2 - 3, w - 1
    assert np.array_equal(cache.read_region(y0, y1, x0, x1), expected[y0:y1, x0:x1])
    with pytest.raises(ValueError, match="outside"):
        cache.read_region(0, h + 1, 0, w)
    edge = cache.read_tile(cache.tiles_y - 1, cache.tiles_x - 1)  # padded by repeating the last pixels
    h, w = cache.tile_shape(cache.tiles_y - 1, cache.tiles_x - 1)
    assert np.array_equal(edge[h:, :w], np.repeat(edge[h - 1 : h, :w], 256 - h, axis=0))
    again = []
    open_cache(path, tmp_path / "cache", again)
    assert again == []  # built once


def test_a_stale_cache_is_rebuilt_with_a_message(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, rgb(200, 300, seed=0), tile=(64, 64))
    open_cache(path, tmp_path / "c", [])
    tifffile.imwrite(path, rgb(200, 300, seed=1), tile=(64, 64))
    os.utime(path, ns=(1, 1))
    messages = []
    cache = open_cache(path, tmp_path / "c", messages)
    assert any("is stale (its source changed); rebuilding it" in m for m in messages)
    assert np.array_equal(cache.read_region(0, 200, 0, 300), load_image(path))


@pytest.mark.parametrize("damage", ["truncate", "header", "tile"])
def test_a_damaged_cache_is_rebuilt_with_a_message(tmp_path, damage):
    path = tmp_path / "a.tif"
    pixels = rgb(300, 400)
    tifffile.imwrite(path, pixels)
    cache = open_cache(path, tmp_path / "c", [])
    file = cache.path
    cache.close()
    data = bytearray(file.read_bytes())
    if damage == "truncate":
        file.write_bytes(bytes(data[: len(data) - 1000]))
    elif damage == "header":
        data[:20] = b"\xff" * 20
        file.write_bytes(bytes(data))
    else:
        data[-5] ^= 0xFF  # a byte of the last tile
        file.write_bytes(bytes(data))
    messages = []
    cache = open_cache(path, tmp_path / "c", messages)
    assert np.array_equal(cache.read_region(0, 300, 0, 400), load_image(path))
    assert len(messages) == 1 and "is damaged" in messages[0] and "rebuilding it" in messages[0]
    assert not list((tmp_path / "c" / "tiles").glob("*.tmp"))


def test_an_interrupted_build_leaves_no_cache(tmp_path, monkeypatch):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, rgb(600, 300), rowsperstrip=16)

    def failing_bands(source, shape, budget):
        def bands():
            yield np.zeros((256, 300, 3), np.uint8)
            raise OSError("disk full")

        return bands(), np.dtype(np.uint8)

    monkeypatch.setattr(tiles, "row_bands", failing_bands)
    with pytest.raises(InputError, match=r"cannot write its tile cache .*disk full"):
        open_cache(path, tmp_path / "c", [])
    assert list((tmp_path / "c" / "tiles").iterdir()) == []


def test_a_missing_source_is_a_clear_error(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, rgb(40, 40))
    open_cache(path, tmp_path / "c", [])
    path.unlink()
    with pytest.raises(InputError, match=r"a\.tif: no such file"):
        open_cache(path, tmp_path / "c", [])


class Known(torch.nn.Module):
    """A 'field' with a known error: the image plus a constant offset."""

    def __init__(self, pixels, offset):
        super().__init__()
        self.pixels, self.offset, self.p = torch.from_numpy(pixels), offset, torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        h, w = self.pixels.shape[:2]
        cols = (x[:, 0] * w).long().clamp(max=w - 1)
        rows = (x[:, 1] * h).long().clamp(max=h - 1)
        return self.pixels[rows, cols] + self.offset


def test_a_streamed_scene_behaves_like_the_loaded_one(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDSCOPE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, rgb(700, 600), tile=(256, 256))
    pixels = load_image(path)
    scene = ImageScene.from_file(path, memory_budget=32 << 20, stream=True)
    assert scene.describe()["streamed"] and scene.describe()["size"] == [600, 700]
    batch = scene.sample(5000, torch.Generator().manual_seed(0))
    cols = (batch.coords[:, 0] * 600 - 0.5).round().long()
    rows = (batch.coords[:, 1] * 700 - 0.5).round().long()
    assert torch.equal(batch.targets, torch.from_numpy(pixels)[rows, cols])
    assert len(set((rows // 256 * 3 + cols // 256).tolist())) > 3  # drawn through several tiles
    assert np.array_equal(scene.read_region((10, 20), (590, 650)), pixels[20:650, 10:590])
    metrics = scene.evaluate(Known(pixels, 0.1), chunk=50_000)
    assert metrics["psnr"] == pytest.approx(20.0, abs=1e-4)
    monkeypatch.setattr("fieldscope.fields.scenes.image.EXACT_EVAL_PIXELS", 1000)
    monkeypatch.setattr("fieldscope.fields.scenes.image.EVAL_TILES", 4)
    sampled = scene.evaluate(Known(pixels, 0.1))
    assert sampled["psnr"] == pytest.approx(20.0, abs=1e-4) and sampled["psnr_pixels"] <= 4 * 256 * 256
    with pytest.raises(InputError, match=r"over the memory budget of .* \(streaming it from disk needs at least"):
        ImageScene.from_file(path, memory_budget=1 << 20)


def test_an_image_over_the_budget_streams_by_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDSCOPE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, rgb(1500, 1500), tile=(256, 256))  # 27 MB as float32
    assert ImageScene.from_file(path, memory_budget=32 << 20).stream is not None
    assert ImageScene.from_file(path, memory_budget=64 << 20).stream is None


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np, torch
    from fieldscope.fields import config as configs
    from fieldscope.fields.kinds.hashgrid import HashGridConfig
    from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig
    from fieldscope.fields.scenes.image import ImageScene
    from fieldscope.fields.training.trainer import TrainConfig, Trainer

    path, cap = sys.argv[1], int(sys.argv[2])
    grid = HashGridConfig(levels=8, log2_table_size=14, base_resolution=16, growth=2.0)
    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    # warm up everything the fit uses (kernels, allocator: one full evaluation chunk) in memory
    small = ImageScene(np.random.default_rng(0).random((256, 256, 3), dtype=np.float32))
    for config in (grid, LaplacianBlocksConfig(size=(256, 256), scales=2)):
        warm = Trainer(configs.build_field(config), small, TrainConfig(batch_size=1 << 14))
        for _ in range(3):
            warm.step()
        warm.evaluate()
        with torch.no_grad():  # the forward at points (evaluate may take a faster way on a small image)
            warm.field(torch.rand(1 << 14, 2))
    baseline = peak()

    scene = ImageScene.from_file(path, memory_budget=cap)
    trainer = Trainer(configs.build_field(grid), scene, TrainConfig(batch_size=1 << 14))
    for _ in range(5):
        trainer.step()
    psnr = trainer.evaluate()["psnr"]
    facts = scene.describe()
    miner = LaplacianBlocksConfig(size=tuple(facts["size"]), scales=4)
    blocks = Trainer(configs.build_field(miner), scene, TrainConfig(batch_size=1 << 14))
    for _ in range(5):
        blocks.step()
    print(json.dumps({"baseline": baseline, "peak": peak(), "psnr": psnr, "streamed": facts.get("streamed", False),
                      "scale": blocks.strategy.run.scale.scale}))
    """
)


def test_an_image_larger_than_the_memory_cap_trains_under_the_cap(tmp_path):
    """A 3-megapixel image (36 MB as float32) trains a few steps with a hash grid and with Laplacian
    blocks, and gets a PSNR over every pixel, while the process's peak resident memory grows by less
    than the 32 MB budget given to the loader (measured in a fresh process, after a warm-up).

    glibc's malloc raises its mmap threshold as large blocks are freed and then keeps freed memory
    in its heaps; the fixed threshold below makes resident memory show what the program holds."""
    from fieldscope.app.commands.bigimage import make_test_image

    path = tmp_path / "big.tif"
    width, height = make_test_image(path, 3)
    cap = 32 << 20
    assert width * height * 3 * 4 > cap  # loading it whole would not fit
    env = {
        **os.environ,
        "FIELDSCOPE_CACHE": str(tmp_path / "cache"),
        "MALLOC_MMAP_THRESHOLD_": str(128 << 10),
    }
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), str(cap)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["streamed"] and report["scale"] == 3
    assert 5.0 < report["psnr"] < 60.0
    grown = report["peak"] - report["baseline"]
    assert grown < cap, f"peak resident memory grew by {grown / 2**20:.0f} MiB, over the {cap >> 20} MiB cap"


def test_an_unwritable_cache_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, rgb(40, 40))
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(InputError, match=r"cannot write its tile cache .* set FIELDSCOPE_CACHE"):
        open_cache(path, blocker, [])
