"""Snapshot files: a trained field (config, parameters, metrics) in one safetensors file.

safetensors stores named arrays next to a JSON header without pickling, so a file from anywhere is
safe to open. Our header metadata adds a format name and version and a SHA-256 over the arrays
and the metadata, so truncated, damaged, foreign and newer files are told apart. Writes are
atomic: a temporary file in the same folder, fsync, then rename over the target.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from fieldscope.fields import config as configs
from fieldscope.fields.errors import FieldscopeError, SnapshotError

# atomic_output and write_atomic are this module's too (where callers have long found them)
from fieldscope.fields.paths import atomic_output as atomic_output
from fieldscope.fields.paths import path_problem, write_atomic
from fieldscope.fields.training.trainer import Snapshot, TrainConfig, frozen_arrays, split_params

if TYPE_CHECKING:
    from fieldscope.fields.field import FieldBase

FORMAT = "fieldscope-snapshot"
FORMAT_VERSION = 1


def _checksum(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(metadata, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.asarray(arrays[name], order="C")
        digest.update(name.encode() + str(array.dtype).encode() + str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def to_bytes(snapshot: Snapshot) -> bytes:
    """Serialise a snapshot into the file format."""
    arrays = {name: np.asarray(array, order="C") for name, array in snapshot.params.items()}
    train = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(snapshot.train).items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": snapshot.config.kind,
        "config": configs.to_json(snapshot.config),
        "metrics": json.dumps(dict(snapshot.metrics)),
        "step": str(snapshot.step),
        "elapsed": repr(snapshot.elapsed),
        "loss": repr(snapshot.loss),
        "level_mask": json.dumps(list(snapshot.level_mask)),
        "scene": json.dumps(dict(snapshot.scene)),
        "train": json.dumps(train),
    }
    metadata["checksum"] = _checksum(arrays, metadata)
    return st_save(arrays, metadata=metadata)


def save(path: str | Path, snapshot: Snapshot) -> None:
    """Write atomically: the target is either the old file or the complete new one."""
    write_atomic(Path(path), to_bytes(snapshot))


def _header(path: Path, data: bytes) -> dict[str, Any]:
    if len(data) < 8:
        raise SnapshotError(f"{path}: truncated or not a snapshot ({len(data)} bytes)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        if data[:1] in (b"{", b"\x89") or length > 1 << 32:
            raise SnapshotError(f"{path}: not a fieldscope snapshot (foreign file)")
        raise SnapshotError(f"{path}: truncated (the header promises more bytes than the file holds)")
    try:
        header = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SnapshotError(f"{path}: not a fieldscope snapshot (unreadable header)") from None
    if not isinstance(header, dict):
        raise SnapshotError(f"{path}: not a fieldscope snapshot (unreadable header)")
    return header


def _check_metadata(path: Path, metadata: dict[str, str], kind: str | None) -> None:
    if metadata.get("format") != FORMAT:
        raise SnapshotError(f"{path}: not a fieldscope snapshot (foreign file)")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise SnapshotError(f"{path}: damaged (bad format version)") from None
    if version > FORMAT_VERSION:
        raise SnapshotError(
            f"{path}: written by a newer fieldscope (format version {version}; this one reads up to {FORMAT_VERSION})"
        )
    if kind is not None and metadata.get("kind") != kind:
        raise SnapshotError(f"{path}: holds a {metadata.get('kind')} field, not a {kind} field")


def from_bytes(path: Path, data: bytes, kind: str | None = None) -> Snapshot:
    """Parse and verify a snapshot file's bytes; errors name `path` and the problem."""
    header = _header(path, data)
    metadata = header.get("__metadata__") or {}
    _check_metadata(path, metadata, kind)
    end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    if len(data) < 8 + struct.unpack("<Q", data[:8])[0] + end:
        raise SnapshotError(f"{path}: truncated (the arrays are cut short)")
    try:
        arrays = st_load(data)
    except Exception as error:
        raise SnapshotError(f"{path}: damaged ({error})") from None
    expected = metadata.pop("checksum", None)
    if expected != _checksum(arrays, metadata):
        raise SnapshotError(f"{path}: damaged (checksum mismatch)")
    try:
        config = configs.from_json(metadata["config"])
        train = json.loads(metadata["train"])
        train_values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in train.items()}
        return Snapshot(
            version=0,
            step=int(metadata["step"]),
            elapsed=float(metadata["elapsed"]),
            loss=float(metadata["loss"]),
            metrics=json.loads(metadata["metrics"]),
            config=config,
            level_mask=tuple(bool(m) for m in json.loads(metadata["level_mask"])),
            params=frozen_arrays(arrays, copy=False),
            state="loaded",
            scene=json.loads(metadata.get("scene", "{}")),
            train=TrainConfig(**train_values),
        )
    except FieldscopeError as error:
        raise SnapshotError(f"{path}: damaged ({error})") from None
    except (KeyError, ValueError, TypeError) as error:
        raise SnapshotError(f"{path}: damaged (bad metadata: {error})") from None


def load(path: str | Path, kind: str | None = None) -> Snapshot:
    """Read and verify a snapshot; `kind` (optional) is the field kind the caller expects."""
    path = Path(path)
    problem = path_problem(path)
    if problem is not None:
        raise SnapshotError(f"{path}: {problem}")
    return from_bytes(path, path.read_bytes(), kind)


def field_from(snapshot: Snapshot, **options: Any) -> FieldBase:
    """Build the field a snapshot describes and load its parameters and level mask (a scene head's
    parameters, if any, are left out: see fields.scenes.nerf.head_from)."""
    field = configs.build_field(snapshot.config, **options)
    field.load_state(split_params(snapshot.params)[0])
    field.set_level_mask(snapshot.level_mask)
    return field
