"""Headless drawing and surfaces: cameras, the 3D renderer, NeRF volume rendering, mesh export."""
