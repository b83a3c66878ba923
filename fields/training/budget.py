"""Equal-budget configs: for a field kind and a parameter budget, the config of that kind (on a
scene: its dims, outputs, size and extent) whose parameter count is within a tolerance (10%) of
the budget. Each kind has its knobs in an order of preference (keep the papers' defaults, move
the size knob first); among the configs of the first preference tier that meets the budget the
closest one wins. A kind's tiers are the function its registration names (fields/kinds/__init__.py);
the grid kinds share grid_tiers, and the others' are here too.

Counts are exact: the field is built on the meta device (shapes only, no memory). A kind whose
count grows while it trains (Laplacian blocks get their MLPs as scales start) is counted fully
grown: every block of every scale with an MLP, the most it can have."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds.laplacian_blocks.layout import BlocksConfig, scale_layout
from fieldscope.fields.training.run import FieldOptions, field_config

if TYPE_CHECKING:
    from fieldscope.fields.config import FieldConfig
    from fieldscope.fields.scenes.base import Scene

TOLERANCE = 0.10

#: A tier: settings that differ only in the one knob whose count is monotone (searched by bisection).
Tier = tuple[dict[str, Any], str, list[int]]


def budget_params(config: FieldConfig) -> int:
    """Parameters of `config`'s field, fully grown (see the module docstring)."""
    if config.capabilities.blocks and isinstance(config, BlocksConfig):
        return sum(s.count for s in scale_layout(config)) * config.row_length
    with torch.device("meta"):
        return int(configs.build_field(config).param_count())


def grid_tiers(scene: Scene) -> Iterator[Tier]:
    """Hash grids: the table size first, then fewer levels, then other decoder widths, then more
    features per level (a small image's dense levels cap what the table size can reach)."""
    for features in (2, 4, 8):
        for width in (64, 32, 128):
            for levels in (16, 14, 12, 10, 8, 6, 4, 2):
                settings = {"features": features, "levels": levels, "hidden_width": width}
                yield settings, "log2_table_size", list(range(10, 25))


def blocks_tiers(scene: Scene) -> Iterator[Tier]:
    """Laplacian blocks: the block MLPs' width first, then their depth, then fewer scales, then
    other block sizes."""
    size = scene.describe().get("size")
    most_scales = math.floor(math.log2(min(size))) + 1 if size else 4
    for block in (0, 16, 64, 8, 128):
        for scales in sorted({min(4, most_scales), *range(1, most_scales + 1)}, key=lambda s: abs(s - 4)):
            for layers in (4, 3, 5, 2, 6, 7, 8):
                settings = {"block_size": block, "scales": scales, "layers": layers}
                yield settings, "hidden_width", list(range(1, 129))


def fourier_tiers(scene: Scene) -> Iterator[Tier]:
    """Fourier features: the decoder width first (m = 256 frequencies), then fewer frequencies, then
    other depths."""
    for layers in (2, 3, 1):
        for frequencies in (256, 128, 64, 32, 16, 8, 4, 2, 1):
            yield {"frequencies": frequencies, "hidden_layers": layers}, "hidden_width", list(range(1, 4097))


def mlp_tiers(scene: Scene) -> Iterator[Tier]:
    """Plain MLP: the width first (3 hidden layers), then other depths."""
    for layers in (3, 2, 4, 1, 6, 8):
        yield {"hidden_layers": layers}, "hidden_width", list(range(1, 4097))


def fit_budget(scene: Scene, kind: str, budget: int, settings: dict[str, Any] | None = None) -> FieldConfig:
    """The config of `kind` for `scene` whose budget_params is within TOLERANCE of `budget`;
    `settings` are kept as given (the knobs are chosen around them). ConfigError naming the kind
    when no config of it can meet the budget."""
    tiers = configs.registration(kind).load("tiers")  # unknown kinds: ConfigError naming the known ones
    if budget < 1:
        raise ConfigError(f"a parameter budget must be positive, not {budget}")
    fixed = dict(settings or {})
    closest: tuple[float, FieldConfig] | None = None
    for base, knob, values in tiers(scene):
        if knob in fixed or any(fixed.get(k, v) != v for k, v in base.items()):
            continue
        found = bisect_knob(scene, kind, {**base, **fixed}, knob, values, budget)
        if found is None:
            continue
        error, config = found
        if error <= TOLERANCE:
            return config
        if closest is None or error < closest[0]:
            closest = (error, config)
    nearest = f"; the nearest has {budget_params(closest[1]):,}" if closest else ""
    raise ConfigError(f"no {kind} config has {budget:,} parameters within {TOLERANCE:.0%}{nearest}")


def bisect_knob(
    scene: Scene, kind: str, settings: dict[str, Any], knob: str, values: list[int], budget: int
) -> tuple[float, FieldConfig] | None:
    """The value of `knob` (counts grow with it) whose config is closest to `budget`: (relative
    error, config), or None when no value makes a valid config."""
    count_cache: dict[int, tuple[int, FieldConfig] | None] = {}

    def count(i: int) -> tuple[int, FieldConfig] | None:
        if i not in count_cache:
            try:
                config = field_config(scene, FieldOptions(kind, {**settings, knob: values[i]}))
                count_cache[i] = (budget_params(config), config)
            except ConfigError:
                count_cache[i] = None
        return count_cache[i]

    valid = [i for i in (0, len(values) - 1) if count(i) is not None]
    if not valid:
        return None
    lo, hi = 0, len(values) - 1
    while hi - lo > 1:  # the first value whose count reaches the budget; invalid ones count as too big
        mid = (lo + hi) // 2
        found = count(mid)
        if found is None or found[0] >= budget:
            hi = mid
        else:
            lo = mid
    best = None
    for i in (lo, hi):
        found = count(i)
        if found is not None:
            error = abs(found[0] - budget) / budget
            if best is None or error < best[0]:
                best = (error, found[1])
    return best
