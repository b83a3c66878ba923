"""The Gaussian-bucket field: settings, schedules, inspection, and the guidance loss at work."""

import itertools

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields import reference
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError, SnapshotError
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig, GaussianBucketsField, gaussian_norm
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.trainer import RunPlan, SetLevelMask, TrainConfig, Trainer

SMALL = {"levels": 6, "log2_table_size": 10, "base_resolution": 8, "growth": 2.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"points_per_bucket": 0}, "points per bucket"),
        ({"lagrangian_levels": 7}, "Lagrangian levels"),
        ({"lagrangian_levels": 0}, "Lagrangian levels"),
        ({"sigma_start": 2.0, "sigma_end": 5.0}, "must not grow"),
        ({"sigma_end": 0.0, "sigma_start": 0.0}, "sigma_end must be positive"),
        ({"means_lr": 0.0}, "means_lr"),
        ({"means_lr_end": -1.0}, "means_lr_end"),
        ({"guidance_reach": -1.0}, "guidance_reach"),
        ({"guidance_power": 0.0}, "guidance_power"),
        ({"log2_table_size": 9}, "table size"),
    ],
)
def test_bad_settings_raise_clear_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        GaussianBucketsConfig(**{**SMALL, **change})


def test_schedules_follow_the_paper():
    config = GaussianBucketsConfig(sigma_decay_steps=100, guidance_warmup=10)
    assert config.sigma_scale(0) == pytest.approx(50.0)
    assert config.sigma_scale(50) == pytest.approx(50.0 * (5.0 / 50.0) ** 0.5)
    assert config.sigma_scale(100) == pytest.approx(5.0) and config.sigma_scale(1000) == pytest.approx(5.0)
    assert config.guidance_at(0) == 0.0 and config.guidance_at(5) == pytest.approx(0.05)
    assert config.guidance_at(10) == pytest.approx(0.1) and config.guidance_at(99) == pytest.approx(0.1)


@pytest.mark.parametrize("steps", [3, 17, 120])
def test_the_run_schedule_reaches_sigma_end_at_the_end_of_a_run_of_any_length(steps):
    torch.manual_seed(0)
    field = GaussianBucketsField(GaussianBucketsConfig(**SMALL, sigma_decay_steps=1000))
    trainer = Trainer(field, ImageScene(quadrant_image(16), name="q"), TrainConfig(batch_size=64))
    trainer.plan_run(steps=steps)
    sigmas = []
    for _ in range(steps):
        trainer.step()
        sigmas.append(float(field.encoding.lagrangian.sigma_scale))
    assert sigmas[-1] == pytest.approx(5.0)
    assert sigmas[-2] > 5.0 + 1e-3 and all(a > b for a, b in itertools.pairwise(sigmas))
    assert sigmas[steps // 2 - 1] == pytest.approx(50.0 * 0.1 ** ((steps // 2) / steps), rel=1e-5)


def test_a_seconds_plan_ends_with_the_time_budget_and_fixed_steps_ignore_the_plan():
    field = GaussianBucketsField(GaussianBucketsConfig(**SMALL))
    clock = {"elapsed": 0.0}
    field.set_run_plan(RunPlan(seconds=10.0), lambda: clock["elapsed"])
    for step in range(1, 11):  # steps of 1 s each: after_step(step) sees the time of the steps before
        clock["elapsed"] = step - 1.0
        field.after_step(step)
    assert float(field.encoding.lagrangian.sigma_scale) == pytest.approx(5.0)
    clock["elapsed"] = 4.0
    field.after_step(5)
    assert float(field.encoding.lagrangian.sigma_scale) == pytest.approx(50.0 * 0.1**0.5)
    fixed = GaussianBucketsField(GaussianBucketsConfig(**SMALL, sigma_schedule="steps", sigma_decay_steps=100))
    fixed.set_run_plan(RunPlan(steps=10), lambda: 0.0)
    fixed.after_step(10)
    assert float(fixed.encoding.lagrangian.sigma_scale) == pytest.approx(50.0 * 0.1**0.1)
    unplanned = GaussianBucketsField(GaussianBucketsConfig(**SMALL, sigma_decay_steps=100))
    unplanned.after_step(100)  # no plan (the window): the fixed-steps fallback
    assert float(unplanned.encoding.lagrangian.sigma_scale) == pytest.approx(5.0)
    with pytest.raises(ConfigError, match="sigma_schedule"):
        GaussianBucketsConfig(**SMALL, sigma_schedule="forever")


def test_param_count_counts_means_and_features():
    config = GaussianBucketsConfig(**SMALL, points_per_bucket=4)
    field = GaussianBucketsField(config)
    grid = configs.build_field(HashGridConfig(**SMALL))
    lag_rows = sum(lvl["rows"] for lvl in field.inspect()["levels"] if lvl.get("lagrangian"))
    coarse_rows = sum(lvl["rows"] for lvl in field.inspect()["levels"] if not lvl.get("lagrangian"))
    decoder = sum(p.numel() for p in field.decoder.parameters())
    assert field.param_count() == coarse_rows * 2 + lag_rows * 4 * (2 + 2) + decoder
    assert field.param_count() > grid.param_count()


def test_inspect_returns_points_per_level_and_initialisation():
    torch.manual_seed(0)
    field = GaussianBucketsField(GaussianBucketsConfig(**SMALL))
    info = field.inspect()
    assert [p["level"] for p in info["points"]] == [4, 5]
    for entry, level in zip(info["points"], info["levels"][4:], strict=True):
        assert entry["means"].shape == (level["rows"] * 4, 2)
        assert entry["means"].min() >= 0.0 and entry["means"].max() <= 1.0
        assert entry["sigma"] == pytest.approx(50.0 / level["resolution"])
        assert level["lagrangian"] and 0 < level["occupancy"] <= 1
    values = field.encoding.lagrangian.values.detach()
    assert float(values.std()) == pytest.approx(1e-3, rel=0.1)
    field3 = GaussianBucketsField(GaussianBucketsConfig(**SMALL, dims=3, init="uniform"))
    radius = (field3.encoding.lagrangian.means.detach() - 0.5).norm(dim=1)
    assert float(radius.max()) <= 0.375 + 1e-6


def quadrant_image(n: int = 128) -> np.ndarray:
    """Flat grey, with random detail in the top-left quadrant only."""
    image = np.full((n, n, 3), 0.5, dtype=np.float32)
    image[: n // 2, : n // 2] = np.random.default_rng(0).random((n // 2, n // 2, 3))
    return image


def finest_share_in_detail(guidance_weight: float) -> float:
    torch.manual_seed(0)
    # K=2: eq. 8's min moves only the nearest point of a bucket, so with K points at most about
    # (1 + (K-1)/4) / K of them can gather in a quarter of the image; K=2 leaves room to see it.
    config = GaussianBucketsConfig(**SMALL, points_per_bucket=2, guidance_weight=guidance_weight,
                                   guidance_warmup=0, sigma_decay_steps=300, init="uniform", means_lr=1e-3,
                                   normaliser="paper")  # fmt: skip
    field = GaussianBucketsField(config)
    trainer = Trainer(field, ImageScene(quadrant_image(), name="quadrant"), TrainConfig(batch_size=4096))
    for _ in range(400):
        trainer.step()
    means = field.inspect()["points"][-1]["means"]
    return float(np.mean((means[:, 0] < 0.5) & (means[:, 1] < 0.5)))


def test_the_guidance_loss_gathers_points_where_the_detail_is():
    guided = finest_share_in_detail(0.1)
    unguided = finest_share_in_detail(0.0)
    assert guided > 0.40, f"share of finest-level points in the detailed quadrant: {guided:.3f}"
    assert unguided < 0.35, f"without guidance: {unguided:.3f}"
    assert guided - unguided > 0.1


def share_on_a_stripe(**settings) -> float:
    """Share of the finest (dense, N=64) level's points on a 4-column stripe of detail (6.25% of the
    image) after 100 steps of a 64x64 image flat elsewhere."""
    torch.manual_seed(0)
    image = np.full((64, 64, 3), 0.5, dtype=np.float32)
    image[:, 30:34] = np.random.default_rng(0).random((64, 4, 3))
    config = GaussianBucketsConfig(levels=4, lagrangian_levels=1, log2_table_size=13, base_resolution=8,
                                   growth=2.0, points_per_bucket=1, sigma_decay_steps=100, **settings)  # fmt: skip
    field = GaussianBucketsField(config)
    assert not field.encoding.lagrangian.layout.hashed[0]
    trainer = Trainer(field, ImageScene(image, name="stripe"), TrainConfig(batch_size=2048))
    for _ in range(100):
        trainer.step()
    means = field.inspect()["points"][-1]["means"]
    return float(np.mean((means[:, 0] >= 30 / 64) & (means[:, 0] < 34 / 64)))


def test_the_guidance_reach_brings_points_of_a_dense_level_onto_the_detail():
    """Eq. 8 pulls a point only towards samples within a cell of its vertex; a reach of 3 cells with
    W^4 gathers the points of the vertices within 4 cells of the stripe onto it."""
    moving = {"guidance": "soft", "guidance_power": 4.0, "guidance_warmup": 0, "guidance_weight": 10.0,
              "means_lr": 5e-3, "guidance_sigma": 2.0}  # fmt: skip
    reached = share_on_a_stripe(**moving, guidance_reach=3.0)
    unreached = share_on_a_stripe(**moving)
    default = share_on_a_stripe()
    assert default < 0.09 and unreached < 0.1, (default, unreached)  # about the stripe's 6.25%
    assert reached > 0.13 and reached > 1.5 * max(default, unreached), (reached, unreached, default)


def test_sigma_schedule_and_level_mask_reach_the_field_through_the_trainer():
    torch.manual_seed(0)
    field = GaussianBucketsField(GaussianBucketsConfig(**SMALL, sigma_decay_steps=10))
    trainer = Trainer(field, ImageScene(quadrant_image(32), name="q"), TrainConfig(batch_size=256))
    for _ in range(10):
        trainer.step()
    assert float(field.encoding.lagrangian.sigma_scale) == pytest.approx(5.0)
    assert trainer.optimizer.param_groups[1]["lr"] == pytest.approx(1e-4)
    trainer._apply(SetLevelMask((True, True, True, True, True, False)))
    x = torch.rand(10, 2)
    assert torch.all(field.encoding(x)[:, 10:] == 0)


def test_the_means_learning_rate_decays_alongside_sigma_and_follows_the_main_rate():
    torch.manual_seed(0)
    config = GaussianBucketsConfig(**SMALL, sigma_decay_steps=10, means_lr=1e-3, means_lr_end=1e-4)
    assert config.means_lr_at(0.0) == pytest.approx(1e-3) and config.means_lr_at(0.5) == pytest.approx(10**-3.5)
    field = GaussianBucketsField(config)
    trainer = Trainer(field, ImageScene(quadrant_image(32), name="q"), TrainConfig(batch_size=256, lr=1e-2))
    trainer.step()
    assert trainer.optimizer.param_groups[1]["lr"] == pytest.approx(10 ** (-3.1))
    trainer.set_learning_rate(5e-3)  # the window's learning-rate box halves every group
    for _ in range(9):
        trainer.step()
    assert trainer.optimizer.param_groups[1]["lr"] == pytest.approx(0.5e-4)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(5e-3)


def test_snapshots_round_trip_and_refuse_another_kind(tmp_path):
    torch.manual_seed(0)
    field = GaussianBucketsField(GaussianBucketsConfig(**SMALL))
    trainer = Trainer(field, ImageScene(quadrant_image(32), name="q"), TrainConfig(batch_size=256))
    for _ in range(3):
        trainer.step()
    trainer.publish("stopped")
    path = tmp_path / "g.fsnap"
    snapshots.save(path, trainer.latest())
    loaded = snapshots.field_from(snapshots.load(path, kind="gaussian_buckets"))
    x = torch.rand(50, 2)
    assert torch.equal(loaded(x), field(x))
    assert float(loaded.encoding.lagrangian.sigma_scale) == float(field.encoding.lagrangian.sigma_scale)
    with pytest.raises(SnapshotError, match="holds a gaussian_buckets field, not a hashgrid field"):
        snapshots.load(path, kind="hashgrid")


@pytest.mark.parametrize("dims", [2, 3])
def test_the_density_normaliser_integrates_to_one_in_d_dimensions(dims):
    sigma = torch.tensor([0.05, 0.11], dtype=torch.float64)
    norm = gaussian_norm("density", sigma, dims)
    step = 0.004 if dims == 2 else 0.01
    axis = torch.arange(-0.6, 0.6 + step / 2, step, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(*[axis] * dims, indexing="ij"), dim=-1).reshape(-1, dims)
    r2 = (grid * grid).sum(dim=1)
    for s, c in zip(sigma.tolist(), norm.tolist(), strict=True):
        integral = float((c * torch.exp(-r2 / (2 * s * s))).sum() * step**dims)
        assert integral == pytest.approx(1.0, rel=1e-4)
    paper = gaussian_norm("paper", sigma, dims)  # eq. 3's 1D normaliser does not integrate to 1 in 2D, 3D
    assert float((paper[0] * torch.exp(-r2 / (2 * 0.05**2))).sum() * step**dims) < 0.5
    assert torch.equal(gaussian_norm("peak", sigma, dims), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("dims", [2, 3])
def test_vertex_initialisation_puts_every_point_next_to_a_vertex_of_its_bucket(dims):
    torch.manual_seed(0)
    # the second-finest level dense, the finest hashed
    settings = (
        {**SMALL, "levels": 5, "log2_table_size": 13} if dims == 2 else {**SMALL, "levels": 4, "log2_table_size": 16}
    )
    field = GaussianBucketsField(GaussianBucketsConfig(**settings, dims=dims, init="vertex"))
    lag = field.encoding.lagrangian
    assert any(lag.layout.hashed) and not all(lag.layout.hashed)  # dense and hashed levels both tested
    means = lag.means.detach()
    assert torch.equal(means, lag.start)
    for level, (first, rows, n) in enumerate(zip(lag.layout.offset, lag.layout.rows, lag.layout.resolution,
                                                 strict=True)):  # fmt: skip
        part = means[first * lag.points : (first + rows) * lag.points]
        cell = torch.clamp(torch.floor(part * n), max=n - 1).long()
        corners = cell[:, None, :] + reference.corner_bits(dims)[None]
        close = (part[:, None, :] - corners / n).abs().amax(dim=-1) <= 0.5 / n + 1e-6
        bucket = torch.arange(part.shape[0]) // lag.points + first
        serving = ((reference.vertex_rows(corners, lag.layout, level) == bucket[:, None]) & close).any(dim=1)
        side = torch.arange(n + 1)
        vertices = torch.stack(torch.meshgrid(*[side] * dims, indexing="ij"), dim=-1).reshape(-1, dims)
        has_vertex = torch.zeros(lag.layout.total_rows, dtype=torch.bool)
        has_vertex[reference.vertex_rows(vertices[None], lag.layout, level)[0]] = True
        assert torch.equal(serving, has_vertex[bucket])  # a bucket no vertex hashes to keeps uniform points
        assert float(serving.double().mean()) > 0.9
    uniform = GaussianBucketsField(
        GaussianBucketsConfig(**settings, dims=dims, init="uniform")
    ).encoding.lagrangian.means
    assert not torch.equal(uniform.detach(), means)


def test_variants_are_checked_and_no_guidance_means_no_guidance_loss():
    for name in ("guidance", "normaliser", "init"):
        with pytest.raises(ConfigError, match=name):
            GaussianBucketsConfig(**SMALL, **{name: "sideways"})
    config = GaussianBucketsConfig(**SMALL, guidance="none", guidance_warmup=0)
    assert config.guidance_at(100) == 0.0
    field = GaussianBucketsField(config)
    scene = ImageScene(quadrant_image(16), name="q")
    loss, metrics = field.extra_loss(scene.guidance(scene.sample(32, torch.Generator().manual_seed(0))), 100)
    assert float(loss) == 0.0 and metrics == {}


def test_a_snapshot_without_starting_positions_loads_with_the_points_where_they_are():
    torch.manual_seed(0)
    field = GaussianBucketsField(GaussianBucketsConfig(**SMALL))
    state = field.state()
    del state["encoding.lagrangian.start"]
    other = GaussianBucketsField(GaussianBucketsConfig(**SMALL))
    other.load_state(state)
    assert torch.equal(other.encoding.lagrangian.start, field.encoding.lagrangian.means.detach())
