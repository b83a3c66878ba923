"""GLSL sources of the renderer, shipped as package data (read through importlib.resources)."""
