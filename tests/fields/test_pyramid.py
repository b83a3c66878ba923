"""The Laplacian pyramid: exact reconstruction in 2D and 3D, box averages, sizes, bad settings."""

import pytest
import torch

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.laplacian_blocks import pyramid


def reconstruct(levels: list[torch.Tensor], finest: int = 0) -> torch.Tensor:
    """Sum the levels from the coarsest down to scale `finest`, upsampling on the way: the signal at
    that scale (finest=0: the whole signal)."""
    out = levels[-1]
    for j in range(len(levels) - 2, finest - 1, -1):
        out = levels[j] + pyramid.upsample(out, tuple(levels[j].shape[:-1]))
    return out


def signal(shape, channels, seed=0, dtype=torch.float32):
    return torch.rand(*shape, channels, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize(
    ("shape", "channels", "scales"),
    [((64, 48), 3, 4), ((37, 53), 1, 4), ((100, 7), 4, 3), ((16, 20, 24), 1, 3), ((13, 9, 17), 2, 4)],
)
def test_sum_of_upsampled_levels_reconstructs_the_signal(shape, channels, scales):
    x = signal(shape, channels)
    levels = pyramid.build(x, scales)
    assert len(levels) == scales
    for j, level in enumerate(levels):
        assert tuple(level.shape) == (*pyramid.scale_shape(shape, j), channels)
    out = reconstruct(levels)
    assert out.shape == x.shape
    assert float((out - x).abs().max()) < 2e-6
    x64 = x.double()
    assert float((reconstruct(pyramid.build(x64, scales)) - x64).abs().max()) < 1e-12


def test_coarse_levels_are_box_averages_and_partial_sums_are_coarser_signals():
    x = signal((32, 24), 3, seed=1)
    levels = pyramid.build(x, 3)
    coarse = x.reshape(8, 4, 6, 4, 3).mean(dim=(1, 3))
    assert torch.allclose(levels[2], coarse, atol=1e-6)
    half = x.reshape(16, 2, 12, 2, 3).mean(dim=(1, 3))
    assert torch.allclose(reconstruct(levels, finest=1), half, atol=1e-6)
    # residual levels of a smooth ramp are small next to the signal
    ramp = torch.linspace(0, 1, 32)[:, None, None].expand(32, 24, 1).contiguous()
    residual = pyramid.build(ramp, 3)[0]
    assert float(residual[2:-2].abs().max()) < 1e-6


def test_odd_sizes_repeat_the_last_sample():
    x = torch.arange(5, dtype=torch.float32)[:, None, None].expand(5, 3, 1).contiguous()
    down = pyramid.downsample(x, 2)
    assert down.shape == (3, 2, 1)
    assert down[:, 0, 0].tolist() == [0.5, 2.5, 4.0]


def test_too_many_scales_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"5 scales is too many for a signal of 12x40 samples"):
        pyramid.build(signal((12, 40), 1), 5)
