"""The trainer: commands from another thread, immutable snapshots, NaN handling, and real learning."""

import math
import time

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.kinds.hashgrid import HashGridConfig, growth_for
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.trainer import (
    EvaluationClock,
    Pause,
    Resume,
    SetBatchSize,
    SetLearningRate,
    SetLevelMask,
    Step,
    Stop,
    TrainConfig,
    Trainer,
)


def small_trainer(clock=time.perf_counter, **train):
    torch.manual_seed(0)
    config = HashGridConfig(levels=4, log2_table_size=10, base_resolution=4, growth=2.0)
    pixels = np.random.default_rng(1).random((24, 24, 3), dtype=np.float32)
    defaults = {"batch_size": 256, "publish_interval": 0.01, "eval_interval": 0.05}
    scene = ImageScene(pixels, name="noise")
    return Trainer(configs.build_field(config), scene, TrainConfig(**{**defaults, **train}), clock=clock)


def wait_for(trainer, predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snapshot = trainer.latest()
        if predicate(snapshot):
            return snapshot
        time.sleep(0.01)
    raise AssertionError(f"timed out; last snapshot: state={trainer.latest().state} step={trainer.latest().step}")


def test_pause_resume_step_and_stop_from_another_thread():
    trainer = small_trainer()
    taken = count_steps(trainer)
    thread = trainer.start()
    wait_for(trainer, lambda s: s.step >= 5)
    trainer.send(Pause())
    paused = wait_for(trainer, lambda s: s.state == "paused")
    # a command the paused loop answers: it has taken no step since (commands run between steps)
    trainer.send(SetBatchSize(200))
    wait_for(trainer, lambda s: s.train.batch_size == 200)
    assert taken() == trainer.latest().step == paused.step  # no steps while paused
    trainer.send(Step(3))
    wait_for(trainer, lambda s: s.step == paused.step + 3 and s.state == "paused")
    trainer.send(SetBatchSize(256))
    wait_for(trainer, lambda s: s.train.batch_size == 256)
    assert taken() == trainer.latest().step == paused.step + 3
    trainer.send(Resume())
    wait_for(trainer, lambda s: s.step >= paused.step + 10)
    trainer.send(Stop())
    thread.join(10)
    assert not thread.is_alive()
    assert trainer.latest().state == "stopped"


def count_steps(trainer: Trainer):
    """Count the strategy's steps (what the loop actually ran); returns the counter's reader."""
    strategy_step, count = trainer.strategy.step, [0]

    def step():
        count[0] += 1
        return strategy_step()

    trainer.strategy.step = step
    return lambda: count[0]


def test_settings_commands_reach_the_trainer():
    trainer = small_trainer()
    thread = trainer.start(paused=True)
    trainer.send(SetLevelMask((True, False, True, False)))
    trainer.send(SetLearningRate(1e-3))
    trainer.send(SetBatchSize(128))
    snapshot = wait_for(trainer, lambda s: s.level_mask == (True, False, True, False) and s.train.batch_size == 128)
    assert snapshot.step == 0
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    trainer.stop()
    assert not thread.is_alive()


def test_a_published_snapshot_never_changes():
    trainer = small_trainer()
    thread = trainer.start()
    snapshot = wait_for(trainer, lambda s: s.step >= 3)
    copies = {name: array.copy() for name, array in snapshot.params.items()}
    wait_for(trainer, lambda s: s.step >= snapshot.step + 20)
    trainer.stop()
    for name, array in snapshot.params.items():
        assert np.array_equal(array, copies[name])
        assert not array.flags.writeable
    later = trainer.latest()
    assert later.step > snapshot.step
    assert not np.array_equal(later.params["encoding.table"], snapshot.params["encoding.table"])
    with pytest.raises(TypeError):
        snapshot.params["encoding.table"] = None  # type: ignore[index]
    assert not thread.is_alive()


def test_a_nan_loss_is_reported_and_parameters_stay_finite():
    trainer = small_trainer()
    real_loss = trainer.scene.loss
    calls = {"n": 0}

    def poisoned(field, batch):
        calls["n"] += 1
        loss, metrics = real_loss(field, batch)
        return (loss * math.nan if calls["n"] == 6 else loss), metrics

    trainer.scene.loss = poisoned
    thread = trainer.start()
    failed = wait_for(trainer, lambda s: s.state == "error")
    assert "step 6: the loss is nan" in failed.message
    assert failed.step == 5
    assert all(np.isfinite(a).all() for a in failed.params.values())
    assert all(bool(torch.isfinite(p).all()) for p in trainer.field.parameters())
    trainer.send(Resume())  # the app can go on training afterwards
    wait_for(trainer, lambda s: s.step >= 10 and s.state == "running")
    trainer.stop()
    assert not thread.is_alive()


def test_an_exception_in_a_step_keeps_the_app_alive():
    trainer = small_trainer()

    def broken(n, generator):
        raise ValueError("sampler broke")

    trainer.scene.sample = broken
    thread = trainer.start()
    failed = wait_for(trainer, lambda s: s.state == "error")
    assert "ValueError: sampler broke" in failed.message
    trainer.stop()
    assert not thread.is_alive()


def test_a_short_fit_of_the_bundled_image_learns(astronaut_path):
    """A broken gradient (table or decoder) cannot pass 27 dB here; the real one does in ~100 steps."""
    torch.manual_seed(0)
    scene = ImageScene.from_file(astronaut_path)
    config = HashGridConfig(levels=12, log2_table_size=16, base_resolution=16, growth=growth_for(16, 512, 12))
    trainer = Trainer(configs.build_field(config), scene, TrainConfig(batch_size=1 << 14))
    start = trainer.evaluate()["psnr"]
    for _ in range(120):
        trainer.step()
    psnr = trainer.evaluate()["psnr"]
    assert start < 12.0
    assert psnr > 27.0, f"PSNR {psnr:.2f} dB after 120 steps"


class FakeClock:
    """Seconds that pass only when a test says so (Trainer's clock)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_steps(trainer: Trainer, steps: int, clock: FakeClock, step_seconds: float = 0.01) -> None:
    """Run the trainer's loop in this thread for exactly `steps` steps, each taking `step_seconds`
    on `clock`; the loop then stops (and evaluates once more, as at any stop)."""
    strategy_step = trainer.strategy.step

    def step():
        result = strategy_step()
        clock.advance(step_seconds)
        if trainer.step_count + 1 >= steps:
            trainer.send(Stop())
        return result

    trainer.strategy.step = step
    trainer.run()
    assert trainer.step_count == steps and trainer.latest().state == "stopped"


def timed(clock: FakeClock, calls: list, seconds: float, evaluate, kind: str | None = None):
    """`evaluate`, recording when it starts on `clock` (with `kind`, if given) and taking `seconds`."""

    def wrapped(field):
        calls.append(clock() if kind is None else (kind, clock()))
        clock.advance(seconds)
        return evaluate(field)

    return wrapped


def test_the_evaluation_clock_spaces_quick_and_full_evaluations():
    config = TrainConfig(eval_interval=0.25, eval_share=0.5, eval_most=2.0)  # binary fractions: exact sums
    clock = EvaluationClock(config, full_wanted=True, now=0.0)
    assert not clock.due(0.125) and clock.due(0.25)
    assert not clock.full_due(1.5) and clock.full_due(2.0)
    clock.done(1.0, 1.25, full=False)  # 0.25 s: the next one 0.5 s after it (0.25 / eval_share)
    assert not clock.due(1.5) and clock.due(1.75)
    clock.done(2.0, 3.5, full=False)  # 1.5 s: 3 s, but at most eval_most apart
    assert not clock.due(5.25) and clock.due(5.5)
    clock.done(6.0, 7.5, full=True)  # a full one: spaced by its own cost, never less than eval_most
    assert not clock.full_due(10.25) and clock.full_due(10.5)
    assert not EvaluationClock(config, full_wanted=False, now=0.0).full_due(100.0)


def test_a_slow_evaluation_takes_at_most_its_share_of_the_trainers_time():
    """A scene whose live metrics take 0.1 s (a NeRF's take ~1 s) is evaluated about every
    0.1 / eval_share seconds, not every eval_interval: the metrics must not starve training."""
    clock = FakeClock()
    trainer = small_trainer(clock, eval_interval=0.05, eval_share=0.1)
    calls = []
    trainer.scene.evaluate = timed(clock, calls, 0.1, trainer.scene.evaluate)
    run_steps(trainer, 300, clock)  # 3 s of steps
    gaps = np.diff(calls[:-1])  # the last call is the one at the stop
    assert len(calls) >= 3 and "psnr" in trainer.latest().metrics
    # its 0.1 s, then 0.1 / eval_share s (every eval_interval would make them 0.15 s apart)
    assert gaps.min() >= 0.1 + 1.0 - 1e-9
    assert gaps.max() <= 0.1 + 1.0 + 0.03  # and no later than the first step after it is due
    with pytest.raises(Exception, match="eval share"):
        TrainConfig(eval_share=0.0)


def test_a_very_slow_evaluation_still_runs_every_eval_most_seconds():
    clock = FakeClock()
    trainer = small_trainer(clock, eval_interval=0.05, eval_share=0.01, eval_most=0.5)
    calls = []
    trainer.scene.evaluate = timed(clock, calls, 0.05, trainer.scene.evaluate)  # 0.05 / 0.01 = 5 s, capped at 0.5 s
    run_steps(trainer, 250, clock)
    gaps = np.diff(calls[:-1])
    assert len(gaps) >= 2 and gaps.min() >= 0.05 + 0.5 - 1e-9 and gaps.max() <= 0.05 + 0.5 + 0.03


def test_a_scene_with_live_full_metrics_gets_them_now_and_then():
    """A shape's full evaluation (Chamfer) runs in the loop, first after eval_most seconds, then
    spaced by its duration / eval_share; the quick ones go on in between. Other scenes never get one."""
    clock = FakeClock()
    trainer = small_trainer(clock, eval_interval=0.05, eval_share=0.1, eval_most=0.4)
    calls = []
    quick = trainer.scene.evaluate
    trainer.scene.evaluate = timed(clock, calls, 0.0, quick, "quick")
    trainer.scene.evaluate_full = timed(clock, calls, 0.06, lambda field: {**quick(field), "chamfer": 0.5}, "full")
    trainer.scene.live_full_metrics = True
    started = clock()
    run_steps(trainer, 250, clock)  # 2.5 s of steps
    full = [t for kind, t in calls if kind == "full"]
    assert trainer.latest().metrics.get("chamfer") == 0.5
    assert 2 <= len(full) <= 4 and full[0] - started >= 0.4 - 1e-9
    assert np.diff(full).min() >= 0.06 + 0.6 - 1e-9  # its 0.06 s, then 0.06 / 0.1 s
    assert sum(kind == "quick" for kind, _ in calls) > 5
    plain_clock = FakeClock()
    plain = small_trainer(plain_clock, eval_interval=0.05, eval_most=0.2)
    fulls = []
    plain.scene.evaluate_full = lambda field: fulls.append(1) or {}
    run_steps(plain, 60, plain_clock)
    assert not fulls
