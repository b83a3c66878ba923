"""The Field panel's parameter count is the field's param_count(): not its buffers (block states,
the sigma schedule) nor a scene head's parameters, and it follows a field that grows."""

import numpy as np
import pytest

from fieldscope.app.ui.panels.field import summary
from fieldscope.fields import config as configs
from fieldscope.fields.kinds.gaussian_buckets import GaussianBucketsConfig
from fieldscope.fields.kinds.laplacian_blocks.field import LaplacianBlocksConfig
from fieldscope.fields.scenes.image import ImageScene
from fieldscope.fields.training.trainer import TrainConfig, Trainer


def stripes(width: int = 64, height: int = 32) -> np.ndarray:
    x = np.arange(width)[None, :, None]
    y = np.arange(height)[:, None, None]
    return np.broadcast_to(0.5 + 0.4 * np.sin(x / 2.0) * np.cos(y / 3.0), (height, width, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "config, steps",
    [
        (GaussianBucketsConfig(levels=4, lagrangian_levels=2, log2_table_size=10, base_resolution=4, growth=2.0), 0),
        (LaplacianBlocksConfig(size=(64, 32), scales=2, block_size=8, max_epochs=2), 6),
    ],
)
def test_the_field_panel_counts_what_param_count_counts(config, steps):
    field = configs.build_field(config)
    trainer = Trainer(field, ImageScene(stripes()), TrainConfig(batch_size=1024))
    for _ in range(steps):
        trainer.step()
    trainer.publish("paused")
    snapshot = trainer.latest()
    stored = sum(int(a.size) for a in snapshot.params.values())
    assert 0 < field.param_count() < stored  # the buffers are in the snapshot too
    assert summary(snapshot).startswith(f"{field.param_count():,} parameters: ")
    if steps:
        assert field.param_count() > configs.build_field(config).param_count()  # the blocks got MLPs
