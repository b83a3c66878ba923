"""Recently opened paths, kept in $XDG_CONFIG_HOME/fieldscope/recent.json (newest first)."""

from __future__ import annotations

import json
import os
from pathlib import Path

LIMIT = 10


def store_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fieldscope" / "recent.json"


def load() -> list[str]:
    """The recent paths; an unreadable store counts as empty."""
    try:
        items = json.loads(store_path().read_text())
    except (OSError, ValueError):
        return []
    return [str(item) for item in items if isinstance(item, str)][:LIMIT] if isinstance(items, list) else []


def remember(path: str | Path) -> list[str]:
    """Put `path` first, save (best effort: a read-only home is no error), return the list."""
    text = str(Path(path).expanduser().resolve())
    items = [text] + [item for item in load() if item != text]
    items = items[:LIMIT]
    try:
        store_path().parent.mkdir(parents=True, exist_ok=True)
        store_path().write_text(json.dumps(items, indent=1))
    except OSError:
        pass
    return items
