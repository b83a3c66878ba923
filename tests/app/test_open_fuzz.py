"""Fuzz of the open path (app.session.open_path, what a drop on the window calls; no window): every
bad file the test makes raises FieldscopeError naming the file, nothing else, and changes no
file; a good image opens afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import trimesh

from fieldscope.app.state.session import open_path
from fieldscope.fields.errors import FieldscopeError

SUFFIXES = (".png", ".jpg", ".webp", ".tif", ".exr", ".npy", ".nii", ".nii.gz", ".obj", ".ply", ".off", ".stl",
            ".glb", ".fsnap")  # fmt: skip


class Unpickled:
    """Unpickling this touches `marker`: proof that a loader ran pickle on a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def good_files(folder: Path) -> dict[str, bytes]:
    """Small valid files of every suffix fieldscope writes itself here (their cut copies are bad)."""
    import nibabel

    pixels = (np.arange(12 * 10 * 3) % 251).astype(np.uint8).reshape(12, 10, 3)
    files = {s: iio.imwrite("<bytes>", pixels, extension=s) for s in (".png", ".jpg", ".webp", ".tif")}
    np.save(folder / "v.npy", np.ones((6, 6, 6), np.float32))
    nibabel.save(nibabel.Nifti1Image(np.ones((6, 6, 6), np.float32), np.eye(4)), folder / "v.nii")
    nibabel.save(nibabel.Nifti1Image(np.ones((6, 6, 6), np.float32), np.eye(4)), folder / "v.nii.gz")
    for suffix in (".npy", ".nii", ".nii.gz"):
        files[suffix] = (folder / f"v{suffix}").read_bytes()
        (folder / f"v{suffix}").unlink()
    box = trimesh.creation.box()
    for suffix in (".obj", ".ply", ".off", ".stl", ".glb"):
        data = box.export(file_type=suffix[1:])
        files[suffix] = data.encode() if isinstance(data, str) else data
    return files


def absurd_headers() -> dict[str, bytes]:
    """Well-formed starts that promise absurd sizes."""
    npy_header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + npy_header.ljust(117) + b"\n"
    ihdr = struct.pack(">IIBBBBB", 2**31 - 1, 2**31 - 1, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return {
        "huge.npy": npy + bytes(64),
        "negative.npy": npy.replace(b"100000, 100000, 100000", b"-5, 3, 2              "),
        "huge.png": png + bytes(32),
        "huge.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\n"
        b"element face 4000000000\nproperty list uchar int vertex_indices\nend_header\n" + bytes(100),
        "huge.glb": b"glTF" + struct.pack("<II", 2, 2**32 - 1) + bytes(40),
        "huge.stl": bytes(80) + struct.pack("<I", 2**32 - 1) + bytes(50),
        "huge.fsnap": struct.pack("<Q", 2**62) + b"{}",
        "huge.nii": struct.pack("<i", 348) + bytes(36) + struct.pack("<8h", 3, 30000, 30000, 30000, 1, 1, 1, 1)
        + bytes(348 - 56) + bytes(4),
        "text.exr": b"v/1\x01" + b"channels" * 20,
        "huge.obj": b"v 1e308 1e308 1e308\nv -1e308 0 0\nv 0 1e308 0\nf 1 2 3\nf 1 2 99999999\n",
        "nan.off": b"OFF\n3 1 0\nnan 0 0\n0 1 0\n0 0 1\n3 0 1 2\n",
    }


def frames(files: list[str], matrix: object) -> str:
    return json.dumps({"camera_angle_x": 0.7, "frames": [{"file_path": f, "transform_matrix": matrix} for f in files]})


def nerf_folders(folder: Path) -> list[Path]:
    """Broken NeRF data sets: no poses, poses that are not JSON, not a dict, no frames, missing images."""
    made = []
    cases = {
        "no_poses": None,
        "bad_json": "{ not json",
        "a_list": "[1, 2, 3]",
        "no_frames": json.dumps({"camera_angle_x": 0.7, "frames": []}),
        "missing_images": frames(["./train/r_0", "./train/r_9"], np.eye(4).tolist()),
        "bad_matrix": frames(["./train/r_0", "./train/r_0"], 3),
        "nan_matrix": frames(["./train/r_0", "./train/r_0"], np.full((4, 4), np.nan).tolist()),
    }
    for name, transforms in cases.items():
        root = folder / f"nerf {name}"
        (root / "train").mkdir(parents=True)
        iio.imwrite(root / "train" / "r_0.png", np.zeros((8, 8, 4), np.uint8))
        if transforms is not None:
            (root / "transforms_train.json").write_text(transforms)
        made.append(root)
    return made


def bad_paths(folder: Path) -> list[Path]:
    rng = np.random.default_rng(7)
    paths = []

    def write(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        paths.append(folder / name)

    for i, (suffix, data) in enumerate(good_files(folder).items()):
        write(f"empty{suffix}", b"")
        write(f"cut half{suffix}", data[: len(data) // 2])
        write(f"cut head{suffix}", data[: min(len(data) - 1, 24)])
        write(f"junk ü 雪 {i}{suffix}", data[:8] + rng.bytes(400))
    for suffix in SUFFIXES:
        for size in (1, 100, 5000):
            write(f"random {size}{suffix}", rng.bytes(size))
    for name, data in absurd_headers().items():
        write(name, data)
    marker = folder / "unpickled-marker"
    np.save(folder / "pickled.npy", np.array([Unpickled(marker)], dtype=object), allow_pickle=True)
    paths.append(folder / "pickled.npy")
    (folder / "empty folder").mkdir()
    paths.append(folder / "empty folder")
    paths += nerf_folders(folder)
    os.mkfifo(folder / "pipe.png")
    (folder / "null.png").symlink_to("/dev/null")
    (folder / "gone.glb").symlink_to(folder / "deleted.glb")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    paths += [folder / name for name in ("pipe.png", "null.png", "gone.glb", "loop.png", "no such.exr")]
    return paths


def fingerprint(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`: its type, and for files the size, mtime and content hash."""
    prints = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
        prints[str(path)] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return prints


def test_bad_files_raise_fieldscope_errors_naming_them_and_change_nothing(tmp_path, astronaut_path):
    paths = bad_paths(tmp_path)
    assert len(paths) > 100
    before = fingerprint(tmp_path)
    problems = []
    for path in paths:
        try:
            session = open_path(path)
        except FieldscopeError as error:
            if path.name not in str(error) or "\n" in str(error):
                problems.append(f"{path.name}: message {str(error)!r}")
        except Exception as error:  # a bug: listed with the others
            problems.append(f"{path.name}: {type(error).__name__}: {error}")
        else:
            problems.append(f"{path.name}: opened as {session.name}")
    assert problems == []
    assert not (tmp_path / "unpickled-marker").exists()
    assert fingerprint(tmp_path) == before
    session = open_path(astronaut_path)
    assert session.name == "astronaut.png" and session.can_train and not session.running
