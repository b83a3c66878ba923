"""The hash-grid Field: config validation, level layout, parameter count, inspection."""

import dataclasses
import itertools
import math

import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.hashgrid import HashGridConfig, growth_for, layout_of, occupancy


def test_config_round_trips_through_json():
    config = HashGridConfig(dims=3, levels=12, features=4, log2_table_size=15, growth=1.7, interpolation="smoothstep")
    assert configs.from_json(configs.to_json(config)) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.levels = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"levels": 0}, "levels"),
        ({"levels": 33}, "levels"),
        ({"features": 3}, "features"),
        ({"log2_table_size": 9}, "table size"),
        ({"log2_table_size": 25}, "table size"),
        ({"log2_table_size": 12.5}, "table size"),
        ({"dims": 4}, "dims"),
        ({"growth": 0.9}, "growth"),
        ({"interpolation": "cubic"}, "interpolation"),
        ({"kind": "other"}, "kind"),
    ],
)
def test_bad_config_values_raise_clear_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        HashGridConfig(**change)


def test_unknown_kind_and_keys_are_rejected():
    with pytest.raises(ConfigError, match="unknown field kind"):
        configs.from_dict({"kind": "nope"})
    with pytest.raises(ConfigError, match="unknown hashgrid setting"):
        configs.from_dict({"kind": "hashgrid", "colour": 3})


def test_layout_is_dense_while_the_grid_fits_the_table():
    config = HashGridConfig(dims=2, levels=16, log2_table_size=14, base_resolution=16, growth=1.5)
    layout = layout_of(config)
    for n, hashed, rows in zip(layout.resolution, layout.hashed, layout.rows, strict=True):
        assert hashed == ((n + 1) ** 2 > 2**14)
        assert rows == (2**14 if hashed else (n + 1) ** 2)
    assert layout.resolution == tuple(math.floor(16 * 1.5**lvl + 1e-6) for lvl in range(16))
    assert layout.offset[1:] == tuple(itertools.accumulate(layout.rows))[:-1]


def test_growth_for_reaches_the_max_resolution():
    b = growth_for(16, 512, 16)
    config = HashGridConfig(growth=b)
    assert layout_of(config).resolution[-1] == 512
    assert layout_of(config).resolution[0] == 16


def test_param_count_counts_table_and_decoder():
    config = HashGridConfig(dims=2, out_dims=3, levels=4, features=2, log2_table_size=10, base_resolution=8, growth=2.0)
    field = configs.build_field(config)
    rows = sum(layout_of(config).rows)
    decoder = (8 * 64 + 64) + (64 * 3 + 3)
    assert field.param_count() == rows * 2 + decoder


def test_inspect_reports_every_level():
    config = HashGridConfig(dims=2, levels=6, log2_table_size=10, base_resolution=8, growth=2.0)
    info = configs.build_field(config).inspect()
    assert info["kind"] == "hashgrid"
    assert [lvl["resolution"] for lvl in info["levels"]] == [8, 16, 32, 64, 128, 256]
    assert [lvl["hashed"] for lvl in info["levels"]] == [False, False, True, True, True, True]
    for lvl in info["levels"]:
        assert 0.0 < lvl["occupancy"] <= 1.0


@pytest.mark.parametrize(("res", "dims", "log2t"), [(40, 2, 10), (200, 2, 12), (12, 3, 10), (30, 3, 12)])
def test_occupancy_equals_a_brute_force_count(res, dims, log2t):
    table = 1 << log2t
    rows = set()
    for v in itertools.product(range(res + 1), repeat=dims):
        h = 0
        for c, p in zip(v, (1, 2654435761, 805459861), strict=False):
            h ^= (c * p) & 0xFFFFFFFF
        rows.add(h % table)
    assert occupancy(res, dims, table) == pytest.approx(len(rows) / table)


def test_level_mask_turns_levels_off_in_the_field():
    torch.manual_seed(0)
    config = HashGridConfig(dims=2, levels=4, log2_table_size=10, base_resolution=8, growth=2.0)
    field = configs.build_field(config)
    with torch.no_grad():
        field.encoding.table.normal_()
    x = torch.rand(100, 2)
    full = field.encoding(x)
    field.set_level_mask((True, False, True, False))
    masked = field.encoding(x)
    assert torch.equal(masked[:, 0:2], full[:, 0:2]) and torch.equal(masked[:, 4:6], full[:, 4:6])
    assert torch.all(masked[:, 2:4] == 0) and torch.all(masked[:, 6:8] == 0)
    with pytest.raises(ConfigError, match="level mask"):
        field.set_level_mask((True,))


def test_state_round_trip_is_exact():
    torch.manual_seed(0)
    config = HashGridConfig(dims=3, levels=4, log2_table_size=10, base_resolution=4, growth=2.0, out_dims=1)
    a, b = configs.build_field(config), configs.build_field(config)
    with torch.no_grad():
        a.encoding.table.normal_()
    b.load_state(a.state())
    x = torch.rand(50, 3)
    assert torch.equal(a(x), b(x))
