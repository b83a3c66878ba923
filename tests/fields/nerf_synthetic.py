"""The NeRF data set the tests render themselves (an analytic coloured ball): fieldscope.app.commands.bench.scenes."""

from fieldscope.app.commands.bench.scenes import ANGLE_X, RADIUS, look_at_origin, render, surface_colour, write_dataset

__all__ = ["ANGLE_X", "RADIUS", "look_at_origin", "render", "surface_colour", "write_dataset"]
