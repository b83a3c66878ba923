"""Snapshot files: exact round trip, atomic writes, and a clear error for every kind of bad file."""

import json
import os
import struct

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import SnapshotError
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.trainer import Trainer


@pytest.fixture
def trained():
    torch.manual_seed(0)
    config = HashGridConfig(levels=4, log2_table_size=10, base_resolution=4, growth=2.0)
    scene = ImageScene(np.random.default_rng(0).random((16, 16, 3), dtype=np.float32), name="noise")
    trainer = Trainer(configs.build_field(config), scene)
    for _ in range(3):
        trainer.step()
    trainer.evaluate()
    trainer.field.set_level_mask((True, True, False, True))
    trainer.publish("stopped")
    return trainer.latest()


def test_round_trip_is_exact(tmp_path, trained):
    path = tmp_path / "model.fsnap"
    snapshots.save(path, trained)
    loaded = snapshots.load(path)
    assert loaded.config == trained.config
    assert loaded.step == trained.step and loaded.elapsed == trained.elapsed and loaded.loss == trained.loss
    assert dict(loaded.metrics) == dict(trained.metrics)
    assert loaded.level_mask == (True, True, False, True)
    assert dict(loaded.scene) == dict(trained.scene)
    assert loaded.train == trained.train
    assert set(loaded.params) == set(trained.params)
    for name, array in trained.params.items():
        assert loaded.params[name].dtype == array.dtype
        assert np.array_equal(loaded.params[name], array)
    field = snapshots.field_from(loaded)
    x = torch.rand(64, 2)
    original = snapshots.field_from(trained)
    assert torch.equal(field(x), original(x))


def test_truncated_files_are_reported(tmp_path, trained):
    data = snapshots.to_bytes(trained)
    for cut in (4, 60, len(data) // 2, len(data) - 3):
        path = tmp_path / f"cut{cut}.fsnap"
        path.write_bytes(data[:cut])
        with pytest.raises(SnapshotError, match=rf"cut{cut}\.fsnap: truncated"):
            snapshots.load(path)


def test_damaged_files_are_reported(tmp_path, trained):
    data = bytearray(snapshots.to_bytes(trained))
    data[-10] ^= 0xFF  # a flipped byte in the arrays
    path = tmp_path / "flipped.fsnap"
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match=r"flipped\.fsnap: damaged \(checksum mismatch\)"):
        snapshots.load(path)


def test_foreign_files_are_reported(tmp_path, astronaut_path):
    with pytest.raises(SnapshotError, match=r"astronaut\.png: not a fieldscope snapshot"):
        snapshots.load(astronaut_path)
    text = tmp_path / "notes.fsnap"
    text.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(SnapshotError, match="not a fieldscope snapshot"):
        snapshots.load(text)
    from safetensors.numpy import save

    other = tmp_path / "other.safetensors"
    other.write_bytes(save({"w": np.zeros(3, np.float32)}, metadata={"format": "pt"}))
    with pytest.raises(SnapshotError, match=r"other\.safetensors: not a fieldscope snapshot \(foreign file\)"):
        snapshots.load(other)
    with pytest.raises(SnapshotError, match="no such file"):
        snapshots.load(tmp_path / "missing.fsnap")


def rewrite_metadata(data: bytes, **changes: str) -> bytes:
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header["__metadata__"].update(changes)
    new = json.dumps(header).encode()
    return struct.pack("<Q", len(new)) + new + data[8 + length :]


def test_newer_versions_and_other_kinds_are_reported(tmp_path, trained):
    data = snapshots.to_bytes(trained)
    newer = tmp_path / "newer.fsnap"
    newer.write_bytes(rewrite_metadata(data, format_version="7"))
    with pytest.raises(SnapshotError, match=r"newer\.fsnap: written by a newer fieldscope \(format version 7"):
        snapshots.load(newer)
    good = tmp_path / "good.fsnap"
    good.write_bytes(data)
    with pytest.raises(SnapshotError, match="holds a hashgrid field, not a gaussian_buckets field"):
        snapshots.load(good, kind="gaussian_buckets")
    edited = tmp_path / "edited.fsnap"
    edited.write_bytes(rewrite_metadata(data, step="999"))
    with pytest.raises(SnapshotError, match="checksum mismatch"):
        snapshots.load(edited)


def test_a_failed_save_leaves_the_target_untouched(tmp_path, trained, monkeypatch):
    path = tmp_path / "model.fsnap"
    snapshots.save(path, trained)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(Exception, match="could not write"):
        snapshots.save(path, trained)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fsnap"]  # no temporary file left
    monkeypatch.undo()

    class Exploding(dict):
        def items(self):
            raise RuntimeError("serialisation failed half way")

    bad = type(trained)(**{**vars(trained), "params": Exploding(trained.params)})
    with pytest.raises(RuntimeError):
        snapshots.save(path, bad)
    assert path.read_bytes() == before


def test_zero_dimensional_arrays_keep_their_shape(tmp_path, trained):
    params = {**trained.params, "scalar": np.array(2.5, dtype=np.float32)}
    snapshot = type(trained)(**{**vars(trained), "params": params})
    path = tmp_path / "s.fsnap"
    snapshots.save(path, snapshot)
    assert snapshots.load(path).params["scalar"].shape == ()
