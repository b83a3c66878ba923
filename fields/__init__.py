"""The headless core: field modules, scenes, trainer and snapshots (imports gpu and torch only)."""
