"""Float pixels to 8-bit ones: the one conversion every image, video and colour writer uses."""

from __future__ import annotations

import numpy as np


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Float values (...) in [0,1] -> uint8 (...): clipped to [0,1], rounded to the nearest of 0..255."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
