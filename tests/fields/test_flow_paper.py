"""HashEncoding's flow experiment (fields/analysis/flow_paper.py) at tiny sizes: the border rule, the
3x3 patches sharing a displacement, and the three estimates recovering a known shift of an exactly
known field (no training)."""

import math

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.analysis import flow_paper
from fieldscope.fields.analysis.flow import Matcher, pixel_grid
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.hashgrid import HashGridConfig, growth_for

SIZE = 48


def rows_cols(index: torch.Tensor, width: int) -> tuple[np.ndarray, np.ndarray]:
    return (index // width).numpy(), (index % width).numpy()


def test_border_rule_keeps_exactly_the_pixels_border_px_inside():
    height, width, border = 13, 11, 3
    drawn = flow_paper.interior_index(height, width, border, 20000, torch.Generator().manual_seed(0))
    kept = {(r, c) for r in range(border, height - border) for c in range(border, width - border)}
    assert (0, 0) not in kept and (border, border) in kept and (height - border, border) not in kept
    assert set(zip(*rows_cols(drawn, width), strict=True)) == kept  # every kept pixel drawn, no other
    assert len(kept) == (height - 6) * (width - 6)
    with pytest.raises(ConfigError):
        flow_paper.interior_index(6, 20, 3, 1, torch.Generator())  # no row 3 px inside a 6 px image


def test_patches_are_3x3_blocks_whose_pixels_all_obey_the_border_rule():
    options = flow_paper.PaperFlowOptions(points=500, border=4)
    groups = flow_paper.point_groups("patch", 20, 17, options, torch.Generator().manual_seed(1))
    assert groups.shape == (500, 9)
    rows, cols = rows_cols(groups, 17)
    assert rows.min() == 4 and rows.max() == 20 - 4 - 1 and cols.min() == 4 and cols.max() == 17 - 4 - 1
    drow, dcol = rows - rows[:, 4:5], cols - cols[:, 4:5]  # the centre is the middle entry
    assert drow.tolist() == [[-1, -1, -1, 0, 0, 0, 1, 1, 1]] * 500
    assert dcol.tolist() == [[-1, 0, 1, -1, 0, 1, -1, 0, 1]] * 500
    assert flow_paper.point_groups("pixel", 20, 17, options, torch.Generator()).shape == (500, 1)
    assert flow_paper.point_groups("image", 20, 17, options, torch.Generator()).shape == (1, 500)


def exact_field() -> torch.nn.Module:
    """A one-level dense field of 3 smooth channels with an identity decoder: its picture is
    known without training, so a pair rendered from it has an exact translation."""
    res = 12
    config = HashGridConfig(dims=2, out_dims=3, levels=1, features=4, log2_table_size=12, base_resolution=res,
                            growth=1.0, hidden_layers=0)  # fmt: skip
    field = configs.build_field(config)
    v, u = torch.meshgrid(torch.arange(res + 1.0) / res, torch.arange(res + 1.0) / res, indexing="ij")
    channels = [
        torch.sin(2 * math.pi * (1.1 * u + 0.4 * v)),
        torch.cos(2 * math.pi * (0.3 * u - 1.2 * v)),
        torch.sin(2 * math.pi * (0.8 * u + 0.9 * v) + 1.0),
    ]
    with torch.no_grad():
        field.encoding.table.zero_()
        for c, channel in enumerate(channels):
            field.encoding.table[:, c] = 0.5 + 0.25 * channel.reshape(-1)  # dense index: x fastest
        field.decoder.layers[0].weight.copy_(torch.eye(3, 4))
        field.decoder.layers[0].bias.zero_()
    return field


def render(field: torch.nn.Module, shift: tuple[float, float]) -> np.ndarray:
    """B (SIZE, SIZE, 3) with B(x) = field at x + shift."""
    p = pixel_grid(SIZE, SIZE) + torch.tensor(shift)
    with torch.no_grad():
        return field(p / SIZE).reshape(SIZE, SIZE, 3).numpy()


@pytest.mark.parametrize("shift", [(1.7, -1.2), (-2.4, 0.9)])
def test_every_estimate_recovers_a_known_small_shift(shift):
    field = exact_field()
    options = flow_paper.PaperFlowOptions(steps=150, points=32, border=6, lr=0.3)
    errors = flow_paper.pair_errors(field, render(field, shift), shift, options, seed=0)
    assert set(errors) == set(flow_paper.ESTIMATES)
    for estimate, epe in errors.items():
        assert epe < 0.1, (estimate, epe)
    zero = flow_paper.PaperFlowOptions(steps=0, points=32, border=6)  # no steps: the zero flow's error
    assert flow_paper.pair_errors(field, render(field, shift), shift, zero, seed=0)["image"] == pytest.approx(
        math.hypot(*shift), rel=1e-6
    )


class Spy(Matcher):
    """A Matcher that records the (index, d) of every error it computes."""

    def __init__(self, field: torch.nn.Module, target: np.ndarray) -> None:
        super().__init__(field, target)
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def error(self, index: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        self.calls.append((index.clone(), d.detach().clone()))
        return super().error(index, d)


def test_patch_estimate_shares_one_displacement_per_3x3_patch():
    field = exact_field()
    spy = Spy(field, render(field, (1.5, 0.5)))
    options = flow_paper.PaperFlowOptions(steps=4, points=10, border=5, lr=0.5)
    d = flow_paper.estimate_displacements(spy, "patch", options, torch.Generator().manual_seed(3))
    assert d.shape == (10, 2)
    first_index = spy.calls[0][0]
    for index, moved in spy.calls:
        assert torch.equal(index, first_index)  # the same patches at every step
        per_patch = moved.reshape(10, 9, 2)
        assert torch.equal(per_patch, per_patch[:, :1].expand(10, 9, 2))  # one displacement per patch
    assert len(spy.calls) == 4 and spy.calls[0][0].shape == (90,)


def test_image_estimate_draws_fresh_points_each_step_and_shares_one_displacement():
    field = exact_field()
    spy = Spy(field, render(field, (1.5, 0.5)))
    options = flow_paper.PaperFlowOptions(steps=3, points=16, border=5)
    d = flow_paper.estimate_displacements(spy, "image", options, torch.Generator().manual_seed(3))
    assert d.shape == (1, 2)
    assert not torch.equal(spy.calls[0][0], spy.calls[1][0])
    for _, moved in spy.calls:
        assert torch.equal(moved, moved[:1].expand(16, 2))


def test_paper_grid_is_the_papers():
    settings = flow_paper.PaperGrid().settings(2)
    assert settings["interpolation"] == "lagrange" and settings["lagrange_k"] == 2
    assert flow_paper.PaperGrid().settings(1)["interpolation"] == "linear"
    config = HashGridConfig(dims=2, out_dims=3, **settings)
    assert config.table_size == 2**12 and config.levels == 12 and config.base_resolution == 4
    assert settings["growth"] == pytest.approx(growth_for(4, 346, 12))
    assert math.floor(4 * settings["growth"] ** 11 + 1e-6) == 346
    with pytest.raises(ConfigError):
        flow_paper.PaperGrid().settings(3)
