"""The trainer: Adam steps on a scene, run in a background thread that owns the field, driven by a
command queue and publishing immutable snapshots.

Only the thread that runs `run()` (or the caller of `step()` when nothing runs) touches the live
parameters. Everyone else reads `latest()`, a Snapshot whose arrays are copies marked read-only,
and talks to the trainer through `send()`.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from fieldscope.fields.config import FieldConfig, check
from fieldscope.fields.field import FieldBase
from fieldscope.fields.scenes.base import Scene


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and loop settings (Adam defaults as in Instant-NGP and Lagrangian Hashing)."""

    lr: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-15
    batch_size: int = 1 << 16
    seed: int = 0
    publish_interval: float = 0.25
    eval_interval: float = 2.0
    #: The live metrics take at most this share of the trainer's time: a scene whose evaluation is
    #: slow (a NeRF renders 4096 test rays: 0.2-1 s on 2 cores) is evaluated less often than eval_interval,
    #: but at least every eval_most seconds (an untrained NeRF's first one is slow: nothing skipped yet).
    eval_share: float = 0.1
    eval_most: float = 20.0

    def __post_init__(self) -> None:
        check(self.lr > 0, f"learning rate must be positive, not {self.lr}")
        check(self.batch_size >= 1, f"batch size must be at least 1, not {self.batch_size}")
        check(0 < self.eval_share <= 1, f"eval share must be in (0, 1], not {self.eval_share}")


@dataclass(frozen=True)
class Snapshot:
    """What the trainer published: never changes after it is made."""

    version: int
    step: int
    elapsed: float
    loss: float
    metrics: Mapping[str, float]
    config: FieldConfig
    level_mask: tuple[bool, ...]
    params: Mapping[str, np.ndarray]
    state: str = "running"
    message: str = ""
    scene: Mapping[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    #: The field's param_count() (params also holds buffers and a scene head's); 0 when not
    #: counted (a snapshot read from a file).
    param_count: int = 0

    @property
    def psnr(self) -> float:
        return float(self.metrics.get("psnr", math.nan))


# Commands the trainer drains between steps.
@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Step:
    """Run `count` steps, then stay paused."""

    count: int = 1


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class SetLevelMask:
    mask: tuple[bool, ...]


@dataclass(frozen=True)
class SetLearningRate:
    lr: float


@dataclass(frozen=True)
class SetBatchSize:
    batch_size: int


#: What Trainer.send takes.
Command = Pause | Resume | Step | Stop | SetLevelMask | SetLearningRate | SetBatchSize


@dataclass(frozen=True)
class RunPlan:
    """How long a run is planned to train: `steps`, `seconds` of training time, or both (the run
    ends at whichever comes first). Schedules that must end with the run read its progress."""

    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        check(self.steps is None or self.steps >= 1, f"planned steps must be at least 1, not {self.steps}")
        check(self.seconds is None or self.seconds > 0, f"planned seconds must be positive, not {self.seconds}")

    def progress(self, step: int, elapsed: float) -> float:
        """Fraction in [0, 1] of the run done once `step` steps have ended; `elapsed` is the training
        time of the steps before the last one, so the last one's end is extrapolated from their mean."""
        done = 0.0
        if self.steps is not None:
            done = step / self.steps
        if self.seconds is not None and step > 1:
            done = max(done, elapsed * step / (step - 1) / self.seconds)
        return min(1.0, done)


class TrainingError(RuntimeError):
    """A step failed (non-finite loss or gradient, or an exception); parameters were not changed."""


def frozen_arrays(arrays: Mapping[str, np.ndarray], copy: bool = True) -> Mapping[str, np.ndarray]:
    """Read-only mapping of read-only arrays (copied unless the caller hands over fresh ones)."""
    out = {}
    for name, array in arrays.items():
        frozen = np.array(array, copy=True) if copy else array
        frozen.setflags(write=False)
        out[name] = frozen
    return MappingProxyType(out)


#: Devices whose parameters torch's fused Adam updates.
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def fusable(groups: list[dict[str, Any]]) -> bool:
    """Whether torch's fused Adam can update every parameter of the groups (floating point, on the
    CPU or CUDA). It is Adam's update in one pass over each parameter instead of a pass per
    arithmetic operation (equal to the unfused update within float32 rounding); 7.4 M parameters:
    ~10 ms instead of ~130 ms on 2 cores."""
    params = [p for group in groups for p in group["params"]]
    return bool(params) and all(p.is_floating_point() and p.device.type in FUSED_ADAM_DEVICES for p in params)


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether every element of a float tensor is finite: one pass (min and max propagate NaN and
    are infinite where any element is), instead of isfinite's mask and its reduction."""
    if tensor.numel() == 0:
        return True
    low, high = torch.aminmax(tensor)
    return bool(torch.isfinite(low) & torch.isfinite(high))


class GradientSteps:
    """The default strategy: an Adam step on the scene's loss (plus the field's extra loss over the
    scene's guidance batch) over a fresh random batch, between the scene's `before_step` and the
    field's `after_step` (fields/field.py FieldBase, fields/scenes/base.py Scene)."""

    #: Gradient steps never finish by themselves (a strategy that does, such as MINER's, says so).
    finished = False

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def step(self) -> tuple[float, dict[str, float]]:
        t = self.trainer
        t.scene.before_step(t.field, t.step_count)
        batch = t.scene.sample(t.batch_size, t.generator)
        t.optimizer.zero_grad(set_to_none=True)
        loss, metrics = t.scene.loss(t.field, batch)
        extra = t.field.extra_loss(t.scene.guidance(batch) if t.field.uses_guidance else batch, t.step_count)
        if extra is not None:
            loss = loss + extra[0]
            metrics = {**metrics, **extra[1]}
        value = t.check_finite(loss)
        loss.backward()
        t.check_gradients()
        t.optimizer.step()
        t.field.after_step(t.step_count + 1)
        return value, metrics


#: Snapshot parameter names of the scene's own learned module (`scene.head`) start with this.
HEAD_PREFIX = "head."


def split_params(arrays: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Snapshot parameters -> (the field's, the scene head's with the prefix removed)."""
    field_arrays = {k: v for k, v in arrays.items() if not k.startswith(HEAD_PREFIX)}
    head_arrays = {k[len(HEAD_PREFIX) :]: v for k, v in arrays.items() if k.startswith(HEAD_PREFIX)}
    return field_arrays, head_arrays


class EvaluationClock:
    """When the training loop evaluates. Quick metrics: every eval_interval seconds, or less often
    when they are slow (at most eval_share of the time), but at least every eval_most seconds. Full
    ones (a scene with `live_full_metrics`, e.g. a shape's Chamfer distance): first after eval_most
    seconds (an untrained field's noisy surface is slow to mesh), then spaced by their own cost."""

    def __init__(self, config: TrainConfig, full_wanted: bool, now: float) -> None:
        self.config, self.full_wanted = config, full_wanted
        self.last = self.last_full = now
        self.gap, self.full_gap = config.eval_interval, config.eval_most

    def due(self, now: float) -> bool:
        return now - self.last >= self.gap

    def full_due(self, now: float) -> bool:
        return self.full_wanted and now - self.last_full >= self.full_gap

    def done(self, started: float, ended: float, full: bool) -> None:
        """An evaluation (full or quick) ran from `started` to `ended`: space the next of its kind."""
        c = self.config
        spaced = (ended - started) / c.eval_share
        self.last = ended
        if full:
            self.last_full, self.full_gap = ended, max(c.eval_most, spaced)
        else:
            self.gap = min(c.eval_most, max(c.eval_interval, spaced))


class Trainer:
    """Trains `field` on `scene` with the field's strategy (`field.training_strategy(trainer)`, e.g.
    MINER's scale by scale) or GradientSteps, over the field's `param_groups(lr)` (per-group
    learning rates). A scene may hold a learned module of its own, `scene.head` (the NeRF colour
    head): it is optimised with the field and published in snapshots under HEAD_PREFIX.

    `clock` (seconds, monotonic) times the steps (`elapsed`, a RunPlan's seconds) and spaces the
    loop's publishing and evaluations; tests pass a fake one to drive time themselves."""

    def __init__(
        self,
        field_module: FieldBase,
        scene: Scene,
        config: TrainConfig | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.field = field_module
        self.clock = clock
        self.scene = scene
        self.config = config or TrainConfig()
        self.generator = torch.Generator(device="cpu").manual_seed(self.config.seed)
        groups = field_module.param_groups(self.config.lr)
        self.head = scene.head
        if self.head is not None:
            groups = [*groups, {"params": list(self.head.parameters())}]
        for group in groups:
            group.setdefault("lr", self.config.lr)
            group["base_lr"] = group["lr"]
        self.optimizer = torch.optim.Adam(
            groups, lr=self.config.lr, betas=self.config.betas, eps=self.config.eps, fused=fusable(groups)
        )
        self.batch_size = self.config.batch_size
        self.learning_rate = self.config.lr  # in use (SetLearningRate changes it)
        self.step_count = 0
        self.elapsed = 0.0
        self.last_loss = math.nan
        self.metrics: dict[str, float] = {}
        self._commands: queue.Queue[Command] = queue.Queue()
        self._lock = threading.Lock()
        self._version = 0
        self._paused = False
        self._stopped = False
        self._steps_left: int | None = None
        self._latest: Snapshot | None = None
        self._thread: threading.Thread | None = None
        self._scene_facts = MappingProxyType(scene.describe())
        self.plan: RunPlan | None = None
        self.strategy = field_module.training_strategy(self) or GradientSteps(self)
        self.publish("paused")

    # ---- the public, thread-safe face
    def send(self, command: Command) -> None:
        """Queue a command (Pause, Resume, Step, Stop, SetLevelMask, SetLearningRate, SetBatchSize)."""
        self._commands.put(command)

    def latest(self) -> Snapshot:
        with self._lock:
            assert self._latest is not None
            return self._latest

    def start(self, paused: bool = False) -> threading.Thread:
        """Run the loop in a daemon thread."""
        self._paused = paused
        self._thread = threading.Thread(target=self.run, name="fieldscope-trainer", daemon=True)
        self._thread.start()
        return self._thread

    @property
    def running(self) -> bool:
        """True while the loop's thread (start) is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to stop and wait for it."""
        self.send(Stop())
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- the owner's side
    def step(self) -> float:
        """One training step (the strategy's); returns the loss. Raises TrainingError and leaves the
        parameters unchanged when the loss or a gradient is not finite."""
        started = self.clock()
        value, metrics = self.strategy.step()
        self.step_count += 1
        self.elapsed += self.clock() - started
        self.last_loss = value
        self.metrics.update(metrics)
        return value

    def plan_run(self, steps: int | None = None, seconds: float | None = None) -> RunPlan:
        """Say how long this run will train, so that the field's schedules (the Gaussian field's
        sigma) end with it; the field gets it through its `set_run_plan(plan, elapsed)` hook
        (`elapsed()`: the trainer's training time so far)."""
        self.plan = RunPlan(steps, seconds)
        self.field.set_run_plan(self.plan, lambda: self.elapsed)
        return self.plan

    def check_finite(self, loss: torch.Tensor) -> float:
        """The loss as a float; TrainingError if it is not finite."""
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(f"step {self.step_count + 1}: the loss is {value}")
        return value

    def check_gradients(self) -> None:
        """TrainingError if any gradient is not finite (call before optimizer.step())."""
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None and not all_finite(p.grad):
                    raise TrainingError(f"step {self.step_count + 1}: a gradient is not finite")

    def evaluate(self, full: bool = False) -> dict[str, float]:
        """Scene metrics (PSNR over the whole image, IoU, ...), kept for the next snapshot. full=True
        runs the scene's slower `evaluate_full` (Chamfer distance, all test views)."""
        self.metrics.update((self.scene.evaluate_full if full else self.scene.evaluate)(self.field))
        return dict(self.metrics)

    def params(self) -> dict[str, np.ndarray]:
        """Copies of the field's parameters, and of the scene head's under HEAD_PREFIX."""
        arrays = self.field.state()
        if self.head is not None:
            arrays.update({HEAD_PREFIX + k: v.detach().cpu().numpy().copy() for k, v in self.head.state_dict().items()})
        return arrays

    def run(self, stop_event: threading.Event | None = None) -> None:
        """The loop: drain commands, step unless paused, publish every publish_interval seconds."""
        last_publish = self.clock()
        clock = EvaluationClock(self.config, getattr(self.scene, "live_full_metrics", False), last_publish)
        self.publish(self._state())
        while not self._stopped and not (stop_event is not None and stop_event.is_set()):
            self._drain(block=self._paused and self._steps_left is None)
            if self._stopped:
                break
            if self._paused and self._steps_left is None:
                continue
            try:
                self.step()
            except Exception as error:  # reported, not raised: the app keeps running
                self._fail(error)
                continue
            if self._steps_left is not None:
                self._steps_left -= 1
                if self._steps_left <= 0:
                    self._steps_left = None
                    self._paused = True
            now = self.clock()
            if self._paused or now - last_publish >= self.config.publish_interval:
                # before a slow evaluation: the view draws this step meanwhile; a pause after Step(n)
                # is published after it, once (the "paused" snapshot carries its metrics)
                self.publish("running")
                if clock.due(now) or self._paused:
                    full = clock.full_due(now)
                    self._evaluate_safely(full)
                    clock.done(now, self.clock(), full)
                    if self._paused:  # the snapshot a pause leaves carries its metrics
                        self.publish(self._state())
                last_publish = self.clock()
        self._evaluate_safely()
        self.publish("stopped")

    # ---- internals
    def _state(self) -> str:
        return "paused" if self._paused and self._steps_left is None else "running"

    def _drain(self, block: bool) -> None:
        try:
            command = self._commands.get(timeout=0.1) if block else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._apply(command)
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return

    def _apply(self, command: Command) -> None:
        if isinstance(command, Pause):
            self._paused, self._steps_left = True, None
        elif isinstance(command, Resume):
            self._paused, self._steps_left = False, None
        elif isinstance(command, Step):
            self._steps_left = max(1, command.count)
        elif isinstance(command, Stop):
            self._stopped = True
        elif isinstance(command, SetLevelMask):
            self.field.set_level_mask(command.mask)
        elif isinstance(command, SetLearningRate):
            self.set_learning_rate(command.lr)
        elif isinstance(command, SetBatchSize):
            self.batch_size = max(1, int(command.batch_size))
        else:
            self._fail(TypeError(f"unknown trainer command {command!r}"))
            return
        self.publish(self._state())

    def set_learning_rate(self, lr: float) -> None:
        """Scale every parameter group so that the main group's learning rate is lr."""
        scale = lr / self.config.lr
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * scale
        self.learning_rate = lr

    def _evaluate_safely(self, full: bool = False) -> None:
        try:
            self.evaluate(full)
        except Exception as error:
            self._fail(error)

    def _fail(self, error: Exception) -> None:
        """Report an error, restore the last good parameters if any went bad, and pause."""
        modules = [self.field] if self.head is None else [self.field, self.head]
        if not all(bool(torch.isfinite(t).all()) for m in modules for t in m.state_dict().values()):
            good_field, good_head = split_params(self.latest().params)
            self.field.load_state({k: np.array(v) for k, v in good_field.items()})
            if self.head is not None:
                self.head.load_state_dict({k: torch.tensor(np.array(v)) for k, v in good_head.items()})
            self.optimizer.state.clear()
        message = str(error) if isinstance(error, TrainingError) else f"{type(error).__name__}: {error}"
        if not isinstance(error, TrainingError):
            traceback.print_exc()
        self._paused, self._steps_left = True, None
        self.publish("error", f"{message}; training paused, parameters of step {self.step_count} kept")

    def publish(self, state: str, message: str = "") -> None:
        """Copy the parameters out into a new Snapshot (owner thread only)."""
        with self._lock:
            self._version += 1
            snapshot = Snapshot(
                version=self._version,
                step=self.step_count,
                elapsed=self.elapsed,
                loss=self.last_loss,
                metrics=MappingProxyType(dict(self.metrics)),
                config=self.field.config,
                level_mask=tuple(self.field.level_mask),
                params=frozen_arrays(self.params(), copy=False),
                state=state,
                message=message,
                scene=self._scene_facts,
                train=replace(self.config, lr=self.learning_rate, batch_size=self.batch_size),
                param_count=self.field.param_count(),
            )
            self._latest = snapshot
