"""Paths that are not files say what they are; written files get the mode a plain open() gives
(0666 less the umask), and stay atomic; damaged meshes are refused before the mesh readers load."""

import os
import socket
import stat
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.paths import path_problem, plain_file_mode
from fieldscope.fields.scenes import open_scene


@pytest.fixture
def specials(tmp_path):
    """name -> the words its error must hold: links to a device, a FIFO, a socket, and nowhere."""
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "device.png").symlink_to("/dev/null")
    (tmp_path / "pipe.png").symlink_to(tmp_path / "pipe")
    (tmp_path / "gone.png").symlink_to(tmp_path / "deleted.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.png"))
    yield {
        "device.png": "is a character device",
        "pipe.png": "is a FIFO (named pipe)",
        "pipe": "is a FIFO (named pipe)",
        "sock.png": "is a socket",
        "gone.png": f"points to a missing file {tmp_path / 'deleted.png'}",
    }
    server.close()


def test_special_files_and_broken_links_say_what_they_are(tmp_path, specials):
    for name, words in specials.items():
        assert words in path_problem(tmp_path / name)
        with pytest.raises(FieldscopeError) as error:
            open_scene(tmp_path / name)
        assert str(error.value).startswith(f"{tmp_path / name}: ") and words in str(error.value)
        assert "no such file" not in str(error.value)
    with pytest.raises(FieldscopeError, match="is a FIFO"):
        snapshots.load(tmp_path / "pipe")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_writes_give_the_mode_of_a_plain_open(tmp_path, umask):
    """Snapshots (snapshots.save) and PNGs (render, screenshot) go through atomic_output."""
    old = os.umask(umask)
    try:
        assert plain_file_mode() == 0o666 & ~umask
        with open(tmp_path / "plain", "wb"):
            pass
        snapshots.write_atomic(tmp_path / "model.fsnap", b"one")
        with snapshots.atomic_output(tmp_path / "picture.png") as handle:
            iio.imwrite(handle, np.zeros((4, 4, 3), np.uint8), extension=".png")
        snapshots.write_atomic(tmp_path / "model.fsnap", b"two")  # over an existing file: still atomic
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert expected == 0o666 & ~umask
    for name in ("model.fsnap", "picture.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fsnap", "picture.png", "plain"]  # no temporaries
    assert (tmp_path / "model.fsnap").read_bytes() == b"two"


def test_empty_and_truncated_meshes_are_refused_before_the_mesh_readers_load(tmp_path):
    """trimesh and SciPy take seconds to import (12 s in a busy window): a file that cannot be a
    mesh is refused without them."""
    script = textwrap.dedent(
        """
        import struct, sys
        from pathlib import Path
        from fieldscope.fields.scenes import open_scene
        from fieldscope.fields.errors import InputError
        folder = Path(sys.argv[1])
        glb = b"glTF" + struct.pack("<II", 2, 900) + struct.pack("<I", 4) + b"JSON" + b"{}  "
        files = {"empty.glb": b"", "cut.glb": glb, "junk.glb": b"hello", "short.stl": b"x" * 40,
                 "cut.stl": bytes(80) + struct.pack("<I", 10) + bytes(100), "noface.ply":
                 b"ply\\nformat ascii 1.0\\nelement vertex 0\\nend_header\\n", "binary.obj": bytes(range(256)),
                 "nomesh.glb": b"glTF" + struct.pack("<II", 2, 22) + struct.pack("<I", 2) + b"JSON" + b"{}"}
        for name, data in files.items():
            (folder / name).write_bytes(data)
            try:
                open_scene(folder / name)
            except InputError as error:
                assert str(error).startswith(str(folder / name) + ": "), error
                print(error)
            else:
                raise AssertionError(name)
        assert "trimesh" not in sys.modules and "scipy.spatial" not in sys.modules
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 8
    assert "the file is empty" in lines[0] and "truncated" in lines[1] and "not a GLB file" in lines[2]
    assert "truncated" in lines[3] and "truncated or damaged" in lines[4] and "no faces" in lines[5]
    assert "binary data" in lines[6] and "no faces" in lines[7]
