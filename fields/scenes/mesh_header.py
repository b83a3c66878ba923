"""A quick look at a mesh file's header before the mesh readers are imported (trimesh and SciPy
take seconds to import, more while a trainer thread holds the CPU): empty, truncated and foreign
files are refused at once with a message naming the file."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import BinaryIO

from fieldscope.fields.errors import InputError
from fieldscope.fields.scenes.files import existing_file

#: Bytes read for the look (a PLY header longer than this is accepted unread).
HEAD_BYTES = 1 << 16
#: Control bytes that never occur in a text mesh file (tab, line feeds and form feed do).
BINARY_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 26})
NO_FACES = "the mesh has no faces (triangles); a point cloud cannot be a scene"


def check_mesh_file(path: str | Path) -> Path:
    """The path if its header looks like its suffix's format (.glb .stl .ply binary layouts, .obj
    and .off text); else InputError naming the file and the problem."""
    path = existing_file(path)
    size = path.stat().st_size
    suffix = path.suffix.lower()
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        problem = {".glb": _glb, ".stl": _stl, ".ply": _ply}.get(suffix, _text)(head, size)
        if problem is None and suffix == ".glb":
            problem = _glb_meshes(handle, head)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    return path


def _glb(head: bytes, size: int) -> str | None:
    """glTF binary: 12-byte header (magic, version 2, total length), then a JSON chunk."""
    if size < 20 or head[:4] != b"glTF":
        return "not a GLB file (no glTF header)" if head[:4] != b"glTF" else f"truncated ({size} bytes)"
    version, length = struct.unpack("<II", head[4:12])
    if version != 2:
        return f"a glTF version {version} file (fieldscope reads version 2)"
    if length != size:
        return f"truncated or damaged (its header says {length} bytes, the file has {size})"
    chunk_length, chunk_type = struct.unpack("<I4s", head[12:20])
    if chunk_type != b"JSON" or 20 + chunk_length > size:
        return "damaged (no complete JSON chunk after the header)"
    return None


def _glb_meshes(handle: BinaryIO, head: bytes) -> str | None:
    """A GLB's JSON chunk (after _glb accepted the header) must list meshes."""
    (chunk_length,) = struct.unpack("<I", head[12:16])
    handle.seek(20)
    try:
        document = json.loads(handle.read(chunk_length))
    except (UnicodeDecodeError, ValueError):
        return "damaged (its JSON chunk is not JSON)"
    if not isinstance(document, dict):
        return "damaged (its JSON chunk is not a glTF document)"
    if not document.get("meshes"):
        return NO_FACES
    return None


def _stl(head: bytes, size: int) -> str | None:
    """Binary STL: an 80-byte header, a triangle count, 50 bytes per triangle; or text from "solid"."""
    if size >= 84:
        (count,) = struct.unpack("<I", head[80:84])
        if 84 + 50 * count == size:
            return None
    if head.lstrip()[:5].lower() == b"solid" and not _is_binary(head):
        return None
    if size < 84:
        return f"truncated ({size} bytes; a binary STL has at least 84)"
    return f"truncated or damaged (a binary STL of {count:,} triangles has {84 + 50 * count:,} bytes, not {size:,})"


def _ply(head: bytes, size: int) -> str | None:
    if not head.startswith(b"ply"):
        return "not a PLY file (it does not start with 'ply')"
    if b"end_header" not in head:
        return "truncated or damaged (its header has no end_header)" if size <= HEAD_BYTES else None
    lines = head[: head.index(b"end_header")].decode("ascii", "replace").splitlines()
    faces = [line.split() for line in lines if line.split()[:2] == ["element", "face"]]
    if not faces or faces[0][2:] == ["0"]:
        return NO_FACES
    return None


def _text(head: bytes, size: int) -> str | None:
    """OBJ and OFF are text files."""
    return "not a text mesh file (binary data)" if _is_binary(head) else None


def _is_binary(head: bytes) -> bool:
    return any(byte in BINARY_BYTES for byte in head[:4096])
