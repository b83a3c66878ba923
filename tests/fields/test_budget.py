"""The budget fitter (fields/training/budget.py): every kind lands within 10% of a budget on 2D and 3D
scenes, the counts are the built fields' own, and budgets no config meets say so."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.sphere import SphereScene
from fieldscope.fields.training.budget import TOLERANCE, budget_params, fit_budget


@pytest.fixture(scope="module")
def scenes(astronaut_path):
    return {"2d": open_scene(astronaut_path), "3d": SphereScene()}


@pytest.mark.parametrize("kind", configs.kinds())
def test_every_registered_kind_has_knobs(scenes, kind: str) -> None:
    base, knob, values = next(iter(configs.registration(kind).load("tiers")(scenes["2d"])))
    names = {f.name for f in dataclasses.fields(configs.config_class(kind))}
    assert knob in names and set(base) <= names and len(values) > 1


@pytest.mark.parametrize("dims", ["2d", "3d"])
@pytest.mark.parametrize("budget", [60_000, 300_000])
@pytest.mark.parametrize("kind", configs.kinds())
def test_fitted_config_is_within_ten_percent(scenes, dims: str, budget: int, kind: str) -> None:
    scene = scenes[dims]
    config = fit_budget(scene, kind, budget)
    assert config.kind == kind and config.dims == scene.dims and config.out_dims == scene.out_dims
    assert abs(budget_params(config) - budget) <= TOLERANCE * budget


#: Kinds whose count does not grow while they train (the others are counted fully grown).
FIXED_SIZE = [k for k in configs.kinds() if not configs.config_class(k).capabilities.grows_while_training]


@pytest.mark.parametrize("kind", FIXED_SIZE)
def test_counts_are_the_built_fields(scenes, kind: str) -> None:
    config = fit_budget(scenes["2d"], kind, 60_000)
    assert budget_params(config) == configs.build_field(config).param_count()


def test_laplacian_blocks_count_every_block_grown(scenes) -> None:
    from fieldscope.fields.kinds.laplacian_blocks.layout import scale_layout

    config = fit_budget(scenes["2d"], "laplacian_blocks", 60_000)
    field = configs.build_field(config)
    assert field.param_count() == 0  # no scale started yet
    blocks = sum(s.count for s in scale_layout(config))
    assert budget_params(config) == blocks * field.weights.shape[1]


def test_settings_given_are_kept(scenes) -> None:
    config = fit_budget(scenes["2d"], "fourier", 100_000, {"frequencies": 64, "sigma": 5.0})
    assert config.frequencies == 64 and config.sigma == 5.0
    assert abs(budget_params(config) - 100_000) <= TOLERANCE * 100_000


@pytest.mark.parametrize(
    "kind, budget, words",
    [
        ("gaussian_buckets", 3_000, "no gaussian_buckets config has 3,000 parameters within 10%"),
        ("hashgrid", 10**9, "no hashgrid config"),
        ("nonsense", 1000, "unknown field kind 'nonsense'"),
        ("mlp", 0, "must be positive"),
    ],
)
def test_impossible_budgets_name_the_kind(scenes, kind: str, budget: int, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        fit_budget(scenes["2d"], kind, budget)


def test_meta_counting_allocates_nothing(scenes) -> None:
    config = fit_budget(scenes["3d"], "hashgrid", 300_000)
    with torch.device("meta"):
        field = configs.build_field(config)
    assert field.encoding.table.is_meta
