"""Small helpers the scene loaders share for clear, one-line errors about input files."""

from __future__ import annotations

from pathlib import Path

from fieldscope.fields.errors import InputError
from fieldscope.fields.paths import path_problem


def existing_file(path: str | Path) -> Path:
    """The path, if it names a non-empty regular file; else InputError saying what is wrong with it."""
    path = Path(path)
    problem = path_problem(path)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    return path


def first_line(error: Exception) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
