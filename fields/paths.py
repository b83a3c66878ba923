"""Paths a user names and files we write: what keeps a path from being read (a link to nowhere, a
device, a FIFO, a socket), told without opening it, and the mode a new file gets."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

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
