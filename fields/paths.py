"""Paths a user names and files we write: what keeps a path from being read (a link to nowhere, a
device, a FIFO, a socket), told without opening it, the mode a new file gets, and writing a file atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fieldscope.fields.errors import FieldscopeError

_UMASK_LOCK = threading.Lock()

#: What a path is when it is neither a file nor a folder (never opened: a FIFO would block).
SPECIAL_KINDS = (
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISFIFO, "is a FIFO (named pipe)"),
    (stat.S_ISSOCK, "is a socket"),
)


def path_problem(path: str | Path, folder_ok: bool = False) -> str | None:
    """What keeps `path` from being read as a regular file (or a folder, when `folder_ok`), for a
    message after "PATH: "; None when nothing does. Looks at the path without opening it."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"a link that points to a missing file {os.path.realpath(path)}"
        return "no such file or folder" if folder_ok else "no such file"
    except OSError as error:  # a link loop, a name too long, no permission on a folder above
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = next((text for test, text in SPECIAL_KINDS if test(mode)), "is not a regular file")
    return f"{kind}, not a file fieldscope can read"


def plain_file_mode() -> int:
    """The permission bits a plain open() gives a new file: 0666 less the process's umask."""
    return 0o666 & ~_umask()


def plain_folder_mode() -> int:
    """The permission bits a plain mkdir() gives a new folder: 0777 less the process's umask."""
    return 0o777 & ~_umask()


def _umask() -> int:
    try:  # Linux tells it without changing it
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore (process-wide, hence the lock)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to path through a temporary file in the same folder, fsync and rename."""
    with atomic_output(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a temporary file in the same folder, fsynced and renamed
    over `path` when the block ends, removed if it raises (the target is then untouched)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FieldscopeError(f"{path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.fchmod(fd, plain_file_mode())  # mkstemp's 0600 would stay with the file after the rename
    os.close(fd)
    try:
        with open(tmp, "wb") as handle:  # by name: some writers (tifffile) want the handle's name
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise FieldscopeError(f"{path}: could not write ({error.strerror or error})") from None
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
