"""Every registered field kind, walked end to end on a tiny image: its budget tiers fit a config,
the field builds and trains a step, its snapshot saves and loads exactly, and the GL view draws
it as torch evaluates it. A kind registered without one of these fails here, not at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from fieldscope.app.render import field_gl
from fieldscope.app.render.camera import Camera2D
from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.budget import TOLERANCE, budget_params, fit_budget
from fieldscope.fields.training.run import TrainOptions, build_run
from tests.app.test_renderer import check_2d

#: Parameters of each kind's field: the smallest budget every kind meets on the tiny image (the
#: Gaussian buckets' 2 Lagrangian levels alone hold ~20k).
BUDGET = 30_000


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 32 x 24 RGB image of smooth ramps and a bright square."""
    y, x = np.mgrid[0:24, 0:32]
    pixels = np.stack([x * 8, y * 10, (x + y) * 4], axis=-1)
    pixels[8:16, 10:20] = 250
    path = tmp_path_factory.mktemp("tiny") / "tiny.png"
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return open_scene(path)


@pytest.mark.parametrize("kind", configs.kinds())
def test_every_kind_fits_trains_saves_loads_and_draws(renderer: Any, tiny_scene: Any, tmp_path: Path, kind: str):
    # budget tiers
    config = fit_budget(tiny_scene, kind, BUDGET)
    assert config.kind == kind and abs(budget_params(config) - BUDGET) <= TOLERANCE * BUDGET

    # builds and trains a step
    torch.manual_seed(0)
    trainer = build_run(tiny_scene, None, TrainOptions(batch_size=512, seed=0), config=config)
    before = {k: np.array(v) for k, v in trainer.field.state().items()}
    trainer.step()
    after = trainer.field.state()
    assert trainer.field.param_count() > 0
    assert any(k not in before or not np.array_equal(before[k], v) for k, v in after.items()), "a step changed nothing"
    trainer.publish("paused")
    snapshot = trainer.latest()
    assert snapshot.step == 1 and np.isfinite(snapshot.loss)

    # saves and loads exactly
    path = tmp_path / f"{kind}.fsnap"
    snapshots.save(path, snapshot)
    loaded = snapshots.load(path, kind=kind)
    assert loaded.config == config and loaded.level_mask == snapshot.level_mask
    assert sorted(loaded.params) == sorted(snapshot.params)
    for name, array in snapshot.params.items():
        assert np.array_equal(loaded.params[name], array), name

    # draws in GL as torch evaluates it (panned: part of the view is outside the image)
    assert hasattr(field_gl.for_kind(kind), "glsl") and hasattr(field_gl.for_kind(kind), "upload")
    error, image, expected = check_2d(renderer, loaded, Camera2D(center=(0.45, 0.55), zoom=1.3), width=48, height=32)
    assert error <= 1e-3 * max(1.0, np.abs(expected).max())
    assert np.ptp(expected) > 1e-4 and np.isfinite(image).all()
