"""The one float-to-8-bit conversion: clipped to [0,1], rounded to the nearest level."""

import numpy as np

from fieldscope.fields.pixels import to_uint8


def test_to_uint8_clips_and_rounds_to_the_nearest_level():
    values = np.array([-1.0, 0.0, 0.49 / 255, 0.51 / 255, 0.5, 254.49 / 255, 1.0, 7.0, np.float32(0.2)])
    out = to_uint8(values)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 0, 1, 128, 254, 255, 255, 51]
    assert to_uint8(np.zeros((4, 3, 2), np.float32)).shape == (4, 3, 2)
