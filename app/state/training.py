"""Commands to the current scene's trainer (pause, resume, step, learning rate, batch size) and
restarts with a new field config. Commands only: the window never waits for a training step."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from fieldscope.app.state.current import Current
from fieldscope.app.state.session import Session, new_session
from fieldscope.app.state.status import Status
from fieldscope.fields import config as configs
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.training.run import TrainOptions
from fieldscope.fields.training.trainer import Pause, Resume, SetBatchSize, SetLearningRate, Step


class Training:
    """`switch(session, keep_view)` makes a restarted field's session the window's current one."""

    def __init__(self, current: Current, status: Status, switch: Callable[[Session, bool], None]) -> None:
        self.current, self.status, self.switch = current, status, switch

    def send(self, command: object) -> bool:
        """Queue `command` (fields.training.trainer) for the current trainer; False when there is none."""
        session = self.current.session
        if session is None or session.trainer is None:
            self.status.say("nothing to train: this is a saved model on its own; open its scene to train", True)
            return False
        session.trainer.send(command)
        return True

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        self.send(Resume())

    def step(self, count: int = 1) -> None:
        self.send(Step(count))

    def set_learning_rate(self, lr: float) -> None:
        if not (lr > 0 and math.isfinite(lr)):
            self.status.say(f"learning rate must be positive, not {lr}", True)
            return
        self.send(SetLearningRate(float(lr)))

    def set_batch_size(self, batch_size: int) -> None:
        if batch_size < 1:
            self.status.say(f"batch size must be at least 1, not {batch_size}", True)
            return
        self.send(SetBatchSize(int(batch_size)))

    def reset(self) -> None:
        """Start the same field config again from fresh parameters."""
        self.restart_field({})

    def restart_field(self, settings: dict[str, Any]) -> bool:
        """Train a new field on the current scene: the current config with `settings` changed."""
        session = self.current.session
        if session is None or session.scene is None:
            self.status.say("restart needs a scene to train on", True)
            return False
        current = session.latest()
        base = configs.to_dict(current.config)
        if settings.get("kind", base["kind"]) != base["kind"]:  # another kind: its defaults
            base = {"kind": settings["kind"], "dims": base["dims"], "out_dims": base["out_dims"]}
            size = session.scene.describe().get("size")
            if size is not None and "size" in {f.name for f in dataclasses.fields(configs.config_class(base["kind"]))}:
                base["size"] = tuple(size)  # kinds laid out on the scene's samples (Laplacian blocks)
        try:
            config = configs.from_dict({**base, **settings})
            train = TrainOptions(lr=current.train.lr, batch_size=current.train.batch_size, seed=current.train.seed)
            restarted = new_session(
                session.scene, train=train, source=session.source, config=config, device=session.device
            )
        except FieldscopeError as error:
            self.status.say(f"restart: {error}", True)
            return False
        self.switch(restarted, True)
        return True
