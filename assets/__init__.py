"""Bundled scenes (the default image), shipped as package data (read through importlib.resources)."""
