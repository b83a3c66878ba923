"""Colour maps of the view in numpy, the same functions as shaders/colormaps.glsl (legends are
drawn from these), and the categorical colours of the levels."""

from __future__ import annotations

import numpy as np

#: shaders/colormaps.glsl inferno(): a polynomial fit of matplotlib's inferno, lowest power first.
INFERNO = np.array(
    [
        [0.0002189403691192265, 0.001651004631001012, -0.01948089843709184],
        [0.1065134194856116, 0.5639564367884091, 3.932712388889277],
        [11.60249308247187, -3.972853965665698, -15.9423941062914],
        [-41.70399613139459, 17.43639888205313, 44.35414519872813],
        [77.162935699427, -33.40235894210092, -81.80730925738993],
        [-71.31942824499214, 32.62606426397723, 73.20951985803202],
        [25.13112622477341, -12.24266895238567, -23.07032500287172],
    ]
)

#: One colour per level (cycled): distinct hues that read on photographs and on inferno heatmaps.
LEVEL_COLOURS = np.array(
    [
        (0.12, 0.47, 0.71),
        (1.00, 0.50, 0.05),
        (0.17, 0.63, 0.17),
        (0.84, 0.15, 0.16),
        (0.58, 0.40, 0.74),
        (0.55, 0.34, 0.29),
        (0.89, 0.47, 0.76),
        (0.74, 0.74, 0.13),
        (0.09, 0.75, 0.81),
        (0.40, 0.76, 0.65),
        (0.99, 0.55, 0.38),
        (0.55, 0.63, 0.80),
    ],
    np.float32,
)


def inferno(t: np.ndarray | float) -> np.ndarray:
    """t (...) in [0,1] (clamped) -> RGB (..., 3) float32, as colormaps.glsl's inferno."""
    t = np.clip(np.asarray(t, np.float64), 0.0, 1.0)[..., None]
    rgb = np.zeros((*t.shape[:-1], 3))
    for coefficients in INFERNO[::-1]:
        rgb = rgb * t + coefficients
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def level_colour(level: int) -> np.ndarray:
    """RGB (3,) float32 of a level."""
    return LEVEL_COLOURS[level % len(LEVEL_COLOURS)]
