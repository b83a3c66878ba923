"""The Laplacian-block field and its coarse-to-fine training: pruning, convergence, parent weights,
level of detail, padding, 3D, snapshots and bad settings."""

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.laplacian_blocks import pyramid
from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig, LaplacianBlocksField
from fieldscope.fields.kinds.laplacian_blocks.layout import ACTIVE, CONVERGED, NOT_STARTED, PRUNED, STOPPED
from fieldscope.fields.scenes.base import Scene, psnr_from_mse
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.trainer import SetLearningRate, TrainConfig, Trainer

HAS_MLP = (ACTIVE, CONVERGED, STOPPED)
#: Small blocks and quick schedules for the tests. omega scales with the block side: MINER's 30 is
#: for 32-sample blocks; with 8 samples across, 7.5 gives the same frequencies per sample.
QUICK = {"target_mse": 1e-3, "learning_rate": 2e-3, "max_epochs": 120}


class ArrayScene(Scene):
    """A 2D or 3D array (spatial axes in array order, channels last) as a scene."""

    task = "array"

    def __init__(self, array):
        self.array = np.ascontiguousarray(array, dtype=np.float32)
        self.dims = self.array.ndim - 1
        self.out_dims = self.array.shape[-1]
        self.name = "array"

    def describe(self):
        return {"name": self.name, "task": self.task, "size": list(reversed(self.array.shape[:-1]))}

    def read_region(self, lo, hi):
        return self.array[tuple(slice(a, b) for a, b in zip(reversed(lo), reversed(hi), strict=True))]

    def centres(self):
        axes = [(torch.arange(n, dtype=torch.float64) + 0.5) / n for n in self.array.shape[:-1]]
        grids = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([g.reshape(-1) for g in reversed(grids)], dim=-1).float()

    @torch.no_grad()
    def evaluate(self, field):
        pred = field(self.centres()).reshape(self.array.shape)
        mse = float(((pred.double() - torch.from_numpy(self.array).double()) ** 2).mean())
        return {"psnr": psnr_from_mse(mse), "mse": mse}


def half_flat_image(width=128, height=64):
    """Left half a flat grey, right half fine stripes and a ramp (detail at the finest scales)."""
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    stripes = 0.5 + 0.3 * np.sin(2 * np.pi * x / 3.0) * np.cos(2 * np.pi * y / 5.0) + 0.1 * (y / height)
    image = np.where(x < width // 2, 0.5, stripes)
    return np.repeat(image[:, :, None], 3, axis=2).astype(np.float32)


def train(config, scene, steps=None, until_scale=None, batch_size=1 << 14):
    torch.manual_seed(0)
    field = configs.build_field(config)
    trainer = Trainer(field, scene, TrainConfig(batch_size=batch_size))
    while not trainer.strategy.finished:
        run = trainer.strategy.run
        if until_scale is not None and run is not None and run.scale.scale < until_scale:
            break
        if steps is not None and trainer.step_count >= steps:
            break
        trainer.step()
    return field, trainer


def statuses(field, scale):
    s = field.layout[scale]
    return field.status[s.first : s.stop].numpy().reshape(tuple(reversed(s.blocks)))


@pytest.fixture(scope="module")
def trained_half_flat():
    """Coarse scales trained, the finest scale just pruned and started (128 x 64, J=3, 8-pixel blocks)."""
    scene = ImageScene(half_flat_image())
    config = LaplacianBlocksConfig(size=(128, 64), scales=3, block_size=8, omega=7.5, **QUICK)
    field, trainer = train(config, scene, until_scale=0)
    return scene, field, trainer


def test_flat_regions_get_no_mlps_at_fine_scales_and_detailed_ones_do(trained_half_flat):
    _, field, trainer = trained_half_flat
    assert trainer.strategy.finished or trainer.strategy.run.scale.scale == 0
    for scale in (1, 0):
        status = statuses(field, scale)
        half = status.shape[1] // 2
        flat, detailed = status[:, :half], status[:, half:]
        assert np.all(flat == PRUNED), f"scale {scale}: flat blocks with MLPs\n{status}"
        assert np.isin(detailed, HAS_MLP).mean() > 0.9, f"scale {scale}: detailed blocks pruned\n{status}"
    levels = field.inspect()["levels"]
    assert [lvl["scale"] for lvl in levels] == [2, 1, 0]
    for lvl in levels:
        assert sum(lvl[k] for k in ("not_started", "active", "converged", "stopped", "pruned")) == lvl["total"]
        assert lvl["params"] == (lvl["active"] + lvl["converged"] + lvl["stopped"]) * field.config.row_length
    assert field.param_count() == sum(lvl["params"] for lvl in levels)
    grids = field.inspect()["blocks"]
    assert grids[2]["status"].shape == (8, 16) and grids[2]["error"].shape == (8, 16)


def test_pruned_blocks_read_as_zero_and_cost_no_parameters(trained_half_flat):
    _, field, _ = trained_half_flat
    x = torch.rand(2000, 2, generator=torch.Generator().manual_seed(0))
    x[:, 0] *= 0.5  # the flat half
    assert torch.all(field.evaluate_scales(x, (True, False, False)) == 0)  # the finest scale alone
    full = field.config.row_length * sum(s.count for s in field.layout)
    assert field.param_count() < 0.75 * full


def test_evaluating_up_to_a_scale_gives_the_coarser_reconstruction(trained_half_flat):
    _, field, _ = trained_half_flat
    signal = torch.from_numpy(half_flat_image())
    for scale, level in ((2, 0), (1, 1)):
        field.set_level_mask(tuple(lvl <= level for lvl in range(3)))
        coarse = pyramid.downsample(signal, 1 << scale)
        h, w = coarse.shape[:2]
        ys, xs = torch.meshgrid((torch.arange(h) + 0.5) / h, (torch.arange(w) + 0.5) / w, indexing="ij")
        pred = field(torch.stack([xs.reshape(-1), ys.reshape(-1)], -1)).reshape(coarse.shape)
        mse = float(((pred.detach() - coarse) ** 2).mean())
        assert psnr_from_mse(mse) > 28.0, f"scale {scale}: {psnr_from_mse(mse):.1f} dB"
    field.set_level_mask((True, True, True))
    with pytest.raises(ConfigError, match="level mask has 2 entries"):
        field.set_level_mask((True, False))


def test_new_blocks_start_from_their_parents_weights_halved(trained_half_flat):
    _, field, trainer = trained_half_flat
    strategy = trainer.strategy
    config = LaplacianBlocksConfig(**{**configs.to_dict(field.config), "size": (128, 64)})
    copy = LaplacianBlocksField(config)
    copy.load_state(field.state())
    # reopen the finest scale from the state before it started: rows must be the parents' halves
    s0 = copy.layout[0]
    copy.status[s0.first : s0.stop] = NOT_STARTED
    copy.slots[s0.first : s0.stop] = -1
    first_new = int(copy.block_rows(1).max()) + 1
    copy.load_state({**copy.state(), "weights": field.weights.detach().numpy()[:first_new]})
    other = Trainer(copy, strategy.trainer.scene, TrainConfig(batch_size=1 << 14))
    other.strategy._resume()
    other.strategy._start(0)  # the together schedule (the default)
    rows = copy.block_rows(0)
    parents = copy.block_rows(1)
    checked = 0
    for block in torch.nonzero(rows >= 0).squeeze(1).tolist():
        kx, ky = block % 16, block // 16
        parent = int(parents[(ky // 2) * 8 + kx // 2])
        if parent >= 0:
            assert torch.equal(copy.weights.detach()[rows[block]], copy.weights.detach()[parent] / 2)
            checked += 1
    assert checked > 10


def test_training_converges_blocks_and_finishes():
    image = half_flat_image(64, 32)
    image[:, 32:] = 0.3 + 0.2 * np.sin(np.arange(32) / 4.0)[None, :, None]  # smooth detail
    scene = ImageScene(image)
    config = LaplacianBlocksConfig(
        size=(64, 32), scales=2, block_size=8, omega=7.5, target_mse=2e-4, learning_rate=3e-3, max_epochs=300
    )
    field, trainer = train(config, scene, steps=3000)
    assert trainer.strategy.finished
    assert psnr_from_mse(scene.evaluate(field)["mse"]) > 30.0
    for scale in (0, 1):
        status = statuses(field, scale)
        assert not np.any(status == ACTIVE) and not np.any(status == NOT_STARTED)
    s0 = field.layout[0]
    errors = field.error[s0.first : s0.stop]
    converged = field.status[s0.first : s0.stop] == CONVERGED
    assert bool(converged.any()) and bool(torch.all(errors[converged] <= 2e-4))
    steps = trainer.step_count
    trainer.step()  # finished: a step only waits
    assert trainer.step_count == steps + 1 and trainer.strategy.finished


def test_blocks_that_do_not_divide_the_image_are_padded():
    rng = np.random.default_rng(0)
    image = (0.5 + 0.2 * rng.standard_normal((45, 70, 1))).clip(0, 1).astype(np.float32)
    scene = ImageScene(image)
    config = LaplacianBlocksConfig(
        out_dims=1, size=(70, 45), scales=3, block_size=16, omega=15.0, learning_rate=3e-3, max_epochs=40
    )
    assert [s.blocks for s in configs.build_field(config).layout] == [(5, 3), (3, 2), (2, 1)]
    field, trainer = train(config, scene, steps=150)
    assert trainer.strategy.run is not None and trainer.strategy.run.scale.scale == 0
    start = psnr_from_mse(float(((torch.from_numpy(image)) ** 2).mean()))
    assert scene.evaluate(field)["psnr"] > start + 8.0


def test_a_snapshot_round_trips_and_training_resumes(tmp_path):
    scene = ImageScene(half_flat_image())
    config = LaplacianBlocksConfig(size=(128, 64), scales=3, block_size=8, omega=7.5, **{**QUICK, "target_mse": 1e-5})
    torch.manual_seed(0)
    field = configs.build_field(config)
    trainer = Trainer(field, scene, TrainConfig(batch_size=1 << 14))
    while trainer.strategy.run is None or trainer.strategy.run.scale.scale > 1 or trainer.strategy.run.epoch < 3:
        trainer.step()
    trainer.evaluate()
    trainer.publish("stopped")
    path = tmp_path / "miner.fsnap"
    snapshots.save(path, trainer.latest())
    snapshot = snapshots.load(path, kind="laplacian_blocks")
    loaded = snapshots.field_from(snapshot)
    assert loaded.config == field.config and loaded.param_count() == field.param_count()
    x = torch.rand(3000, 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(loaded(x), field(x))
    for name in ("status", "error", "slots"):
        assert torch.equal(getattr(loaded, name), getattr(field, name))
    assert loaded.inspect()["levels"] == field.inspect()["levels"]
    assert loaded.inspect()["levels"][1]["active"] > 0
    resumed = Trainer(loaded, scene, TrainConfig(batch_size=1 << 14))
    resumed.step()
    run = resumed.strategy.run
    assert run.scale.scale == 1 and torch.equal(run.rows, trainer.strategy.run.rows)
    with pytest.raises(ConfigError, match="weights have shape"):
        loaded.load_state({**loaded.state(), "weights": np.zeros((3, 7), np.float32)})


def test_set_learning_rate_reaches_the_block_optimiser(trained_half_flat):
    scene, field, _ = trained_half_flat
    trainer = Trainer(field, scene, TrainConfig(batch_size=1 << 14))
    base = trainer.optimizer.param_groups[0]["lr"]
    assert base == field.config.learning_rate
    trainer._apply(SetLearningRate(trainer.config.lr / 10))
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(base / 10)


def test_three_dimensional_volumes_train_and_prune():
    _, y, x = np.meshgrid(np.arange(16), np.arange(16), np.arange(32), indexing="ij")
    detail = 0.5 + 0.3 * np.sin(2 * np.pi * x / 3.0) * np.sin(2 * np.pi * y / 4.0)
    volume = np.where(x < 16, 0.25, detail)[..., None].astype(np.float32)
    scene = ArrayScene(volume)
    config = LaplacianBlocksConfig(
        dims=3,
        out_dims=1,
        size=(32, 16, 16),
        scales=2,
        block_size=4,
        omega=7.5,
        target_mse=1e-3,
        learning_rate=3e-3,
        max_epochs=60,
        hidden_width=20,  # the 2D MLP: the 3D defaults (3 layers of 22) prune 86% of the flat half here
        layers=4,
    )
    assert LaplacianBlocksConfig(dims=3, size=(64, 64, 64)).block_size == 16
    before = scene.evaluate(configs.build_field(config))["psnr"]
    field, trainer = train(config, scene, until_scale=-1, steps=400, batch_size=1 << 12)
    assert trainer.strategy.run is None or trainer.strategy.run.scale.scale == 0
    status = statuses(field, 0)  # (z, y, x) blocks: 4 x 4 x 8
    assert status.shape == (4, 4, 8)
    assert (status[:, :, :3] == PRUNED).mean() > 0.9  # the flat half (U2 carries the edge one block in)
    assert np.isin(status[:, :, 4:], HAS_MLP).mean() > 0.9  # the detailed half
    assert scene.evaluate(field)["psnr"] > before + 6.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"size": (512, 512), "scales": 11}, r"11 scales is too many for a 512x512 signal.*use at most 10"),
        ({"size": (300, 20), "scales": 6}, r"use at most 5"),
        ({"size": (64,)}, r"must give 2 sample counts"),
        ({"block_size": 1}, r"block size must be between 2 and 256"),
        ({"layers": 1}, r"layers must be between 2 and 8"),
        ({"dims": 4, "size": (2, 2, 2, 2)}, r"dims must be 2 or 3"),
    ],
)
def test_bad_settings_are_clear_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        LaplacianBlocksConfig(**settings)


def test_a_scene_of_another_size_is_refused():
    scene = ImageScene(half_flat_image(64, 32))
    field = configs.build_field(LaplacianBlocksConfig(size=(128, 64), scales=2, block_size=8))
    with pytest.raises(ConfigError, match="made for a 128x64 signal, the scene has 64x32"):
        Trainer(field, scene, TrainConfig())


def test_residuals_of_large_scales_stay_on_disk(monkeypatch):
    from fieldscope.fields.kinds.laplacian_blocks import training as laplacian_training

    rows = np.random.default_rng(0).random((10, 16, 3), dtype=np.float32)
    memory = laplacian_training.ResidualStore(16, 3, expected_rows=10)
    monkeypatch.setattr(laplacian_training, "RESIDUALS_IN_MEMORY", 1000)
    disk = laplacian_training.ResidualStore(16, 3, expected_rows=10)
    assert memory._file is None and disk._file is not None
    for store in (memory, disk):
        store.append(rows[:4])
        store.append(rows[4:])
        index = np.array([7, 0, 9, 3])
        assert np.array_equal(store.read(index), rows[index])
        store.close()


def test_a_volume_scene_trains_coarse_to_fine():
    """A volume (X x Y x Z, varying along every axis) reaches a PSNR that misplaced voxels cannot."""
    from fieldscope.fields.scenes.volume import VolumeScene

    x, y, z = np.meshgrid(*(np.linspace(0, 1, n) for n in (24, 16, 12)), indexing="ij")
    scene = VolumeScene((np.sin(9 * x) + 0.3 * z * z + 0.2 * y).astype(np.float32))
    config = LaplacianBlocksConfig(dims=3, out_dims=1, size=(24, 16, 12), scales=2, block_size=4)
    torch.manual_seed(0)
    field = configs.build_field(config)
    trainer = Trainer(field, scene, TrainConfig(batch_size=2048))
    while trainer.step_count < 1500 and not trainer.strategy.finished:
        trainer.step()
    assert scene.evaluate_full(field)["psnr"] > 30.0
    assert scene.read_region((0, 0, 0), (24, 16, 12)).shape == (12, 16, 24, 1)


def test_training_every_block_in_one_launch_equals_training_them_in_batches():
    """Blocks are independent and each gets one Adam step per pass either way: one launch per pass
    (blocks_per_step=0) and passes cut into batches of 5 blocks give the same field, bit for bit."""
    scene = ImageScene(half_flat_image(64, 32))
    common = {"size": (64, 32), "scales": 2, "block_size": 8, "omega": 7.5, **QUICK, "max_epochs": 12}
    common["schedule"] = "sequential"  # batches of blocks are the sequential schedule's
    one, one_trainer = train(LaplacianBlocksConfig(**common), scene, steps=400)
    batched, batched_trainer = train(LaplacianBlocksConfig(**common, blocks_per_step=5), scene, steps=4000)
    assert one_trainer.strategy.finished and batched_trainer.strategy.finished
    assert batched_trainer.step_count > 3 * one_trainer.step_count  # the batches did split the passes
    assert torch.equal(one.slots, batched.slots) and torch.equal(one.status, batched.status)
    assert torch.equal(one.weights, batched.weights) and torch.equal(one.error, batched.error)


def test_scales_trained_together_in_one_launch_equal_one_launch_per_scale():
    """The together schedule's one fused launch over every started scale's blocks gives the same field,
    bit for bit, as one launch per scale; finer scales start while coarser ones still train."""
    scene = ImageScene(half_flat_image(64, 32))
    config = LaplacianBlocksConfig(
        size=(64, 32), scales=3, block_size=8, omega=7.5, **QUICK, schedule="together", min_gain=0.3, gain_window=3
    )
    fields = []
    for per_scale in (False, True):
        torch.manual_seed(0)
        field = configs.build_field(config)
        trainer = Trainer(field, scene, TrainConfig())
        trainer.strategy.per_scale_launches = per_scale
        overlap = 0
        for _ in range(60):
            trainer.step()
            training = [
                st.scale.scale for st in trainer.strategy.states if bool((trainer.strategy._status(st) == ACTIVE).any())
            ]
            overlap = max(overlap, len(training))
        assert overlap >= 2  # two scales trained in the same pass
        fields.append(field)
    one, per_scale = fields
    assert torch.equal(one.slots, per_scale.slots) and torch.equal(one.status, per_scale.status)
    assert torch.equal(one.weights, per_scale.weights) and torch.equal(one.error, per_scale.error)


def test_scales_trained_together_fit_the_image():
    scene = ImageScene(half_flat_image(64, 32))
    config = LaplacianBlocksConfig(size=(64, 32), scales=3, block_size=8, omega=7.5, **QUICK, schedule="together")
    field, trainer = train(config, scene, steps=400)
    assert trainer.strategy.finished
    assert scene.evaluate_full(field)["psnr"] > 30.0


def test_defaults_come_from_the_paper_or_our_tuning_unless_set():
    tuned, paper = LaplacianBlocksConfig(), LaplacianBlocksConfig(defaults="paper")
    assert (paper.hidden_width, paper.layers, paper.learning_rate, paper.max_epochs) == (20, 4, 5e-4, 500)
    assert paper.min_gain == 0.0 and tuned.min_gain > 0.0 and tuned.learning_rate > paper.learning_rate
    volume = LaplacianBlocksConfig(dims=3, out_dims=1, size=(64, 64, 64), defaults="paper")
    assert (volume.block_size, volume.hidden_width, volume.layers, volume.learning_rate) == (16, 22, 3, 1e-3)
    assert volume.max_epochs == 2000  # MINER's 3D section: 2 hidden layers of 22, lr 1e-3, 2000 iterations
    assert LaplacianBlocksConfig(learning_rate=1e-2, min_gain=0.0).learning_rate == 1e-2
    assert LaplacianBlocksConfig(min_gain=0.0).min_gain == 0.0  # 0 is a setting, not "unset"
    assert configs.from_dict(configs.to_dict(volume)) == volume
    with pytest.raises(ConfigError, match="defaults must be one of paper, tuned"):
        LaplacianBlocksConfig(defaults="quickest")


def test_a_coarse_scale_is_good_enough_once_its_error_stops_falling():
    from fieldscope.fields.kinds.laplacian_blocks.training import good_enough

    config = LaplacianBlocksConfig(min_gain=0.05, gain_window=3)
    assert not good_enough([1.0, 0.5, 0.25], config)  # too few passes to tell
    assert not good_enough([1.0, 0.5, 0.25, 0.2], config)  # fell by 80% over 3 passes
    assert good_enough([1.0, 0.5, 0.25, 0.2, 0.2, 0.199, 0.198], config)  # 1% over the last 3
    assert not good_enough([1.0, 0.5, 0.25, 0.2, 0.2, 0.199, 0.198], LaplacianBlocksConfig(min_gain=0.0))


def test_a_sample_fraction_trains_every_sample_once_per_round_and_keeps_outputs_fresh():
    """With sample_fraction 1/4, four steps train disjoint quarters of every block's samples, so the
    stored outputs (which finer scales' targets are built from) are at most a round old: after a round,
    they equal the MLPs' outputs of at most 3 steps ago everywhere, never the zeros they started as."""
    scene = ImageScene(half_flat_image(64, 32))
    config = LaplacianBlocksConfig(size=(64, 32), scales=1, block_size=8, omega=7.5, **QUICK, sample_fraction=0.25)
    torch.manual_seed(0)
    trainer = Trainer(configs.build_field(config), scene, TrainConfig())
    strategy = trainer.strategy
    seen = []
    real = strategy._samples

    def recording():
        chosen = real()
        seen.append(chosen)
        return chosen

    strategy._samples = recording
    for _ in range(8):
        trainer.step()
    for first in (0, 4):
        round_ = np.concatenate(seen[first : first + 4])
        assert all(len(s) == 16 for s in seen[first : first + 4])
        assert np.array_equal(np.sort(round_), np.arange(64))  # every sample exactly once
    assert not np.array_equal(seen[0], seen[4])  # a new random order each round
    run = strategy.run
    active = run.pred[strategy.run.block_ids.numpy()]
    assert np.all(np.abs(active).sum(-1) > 0)  # no sample still holds its initial zero


def test_coarser_scales_stop_when_a_finer_one_starts_with_their_outputs_taken_at_every_sample():
    """stop_coarser: when a finer scale starts, the coarser ones stop training, and (training on a
    fraction of the samples) their stored outputs, which the finer targets are built from, are their
    MLPs' outputs at every sample, not a round old."""
    scene = ImageScene(half_flat_image(64, 32))
    config = LaplacianBlocksConfig(
        size=(64, 32), scales=3, block_size=8, omega=7.5, **QUICK, schedule="together", min_gain=0.3,
        gain_window=3, sample_fraction=0.25, stop_coarser=True,
    )  # fmt: skip
    torch.manual_seed(0)
    field = configs.build_field(config)
    trainer = Trainer(field, scene, TrainConfig())
    strategy = trainer.strategy
    while len(strategy.states) < 3:
        trainer.step()
    for st in strategy.states[:-1]:
        status = strategy._status(st)
        assert not bool((status == ACTIVE).any())  # nothing coarser trains once the finest started
        weights = field.weights.detach()[st.rows]
        zero = torch.zeros(st.block_ids.numel(), *st.pred.shape[1:])
        _, _, outputs = field.fit_blocks(weights, zero, zero[..., 0])
        assert np.allclose(st.pred[st.block_ids.numpy()], outputs.numpy(), atol=1e-6)
    for _ in range(5):
        trainer.step()
    finest = strategy.states[-1]
    assert bool((strategy._status(finest) == ACTIVE).any())


def test_the_fast_preset_trains_an_eighth_of_the_samples_with_coarser_scales_stopping():
    fast, tuned = LaplacianBlocksConfig(defaults="fast"), LaplacianBlocksConfig()
    assert fast.sample_fraction == 0.125 and fast.stop_coarser and fast.schedule == "together"
    assert fast.learning_rate == tuned.learning_rate and fast.min_gain == tuned.min_gain
    assert tuned.sample_fraction == 1.0 and not tuned.stop_coarser
    paper = LaplacianBlocksConfig(defaults="paper")
    assert paper.sample_fraction == 1.0 and not paper.stop_coarser and paper.schedule == "sequential"
