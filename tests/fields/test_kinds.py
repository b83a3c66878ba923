"""The registry of field kinds (fields/kinds/__init__.py): its declared order, every registration's
parts resolve to what they promise, `fieldscope kinds` prints it, and an `impl` a kind
lacks is refused. The walk through every kind (build, train, save, load, draw, budget) is
tests/app/test_every_kind.py (it draws in GL)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest
import torch

from fieldscope.app.commands.kinds import markdown_table, plain_text
from fieldscope.fields import config as configs
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.kinds import KINDS, PARTS
from fieldscope.fields.scenes.levels import DEFAULT_RESOLUTION, finest_active_resolution
from tests.conftest import ROOT


def test_the_order_is_declared_not_imported() -> None:
    assert configs.kinds() == [kind.name for kind in KINDS]
    assert configs.kinds()[:3] == ["hashgrid", "gaussian_buckets", "laplacian_blocks"]
    assert len(set(configs.kinds())) == len(KINDS)


def test_listing_the_kinds_imports_none_of_them() -> None:
    code = (
        "import sys; from fieldscope.fields import config; config.kinds(); "
        "print(sorted(m for m in sys.modules if m.startswith('fieldscope.fields.kinds.') or m == 'torch'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_part_of_a_registration_resolves(kind) -> None:
    for part in PARTS:
        module, _, attribute = getattr(kind, part).partition(":")
        assert attribute, f"{kind.name}.{part} names no attribute"
        if part == "gl":  # the view's side: fields/ names it but never imports it
            assert module.startswith("fieldscope.app.render.")
        else:
            assert module.startswith("fieldscope.fields.")
            assert callable(kind.load(part))
    cls = kind.load("config")
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert cls.kind == kind.name == configs.config_class(kind.name)().kind
    assert "\n" not in kind.summary and kind.summary
    assert set(kind.impls) <= {"warp", "torch"}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_kind_with_growth_levels_has_their_settings(kind) -> None:
    config = configs.config_class(kind.name)()
    names = {f.name for f in dataclasses.fields(config)}
    assert config.capabilities.growth_levels == ({"levels", "base_resolution", "growth"} <= names)
    resolution = finest_active_resolution(config, (True,) * 64)
    if config.capabilities.growth_levels:
        coarsest = finest_active_resolution(config, (True,) + (False,) * (config.levels - 1))
        assert coarsest == config.base_resolution < resolution
        assert finest_active_resolution(config, (False,) * config.levels) == coarsest  # none on: the coarsest
        assert finest_active_resolution(config, ()) == resolution  # levels past the mask's end are on
    else:
        assert resolution == DEFAULT_RESOLUTION


def test_fieldscope_kinds_prints_every_registered_kind_in_order() -> None:
    table = markdown_table().splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == [f"| `{kind.name}`" for kind in KINDS]
    for row, kind in zip(table[2:], KINDS, strict=True):
        assert row == f"| `{kind.name}` | {kind.summary} | {kind.settings} |"
        assert kind.settings.strip(), f"{kind.name}: no settings text"
    text = plain_text(width=60)
    starts = [text.index(f"\n{kind.name}\n" if i else f"{kind.name}\n") for i, kind in enumerate(KINDS)]
    assert starts == sorted(starts) and max(len(line) for line in text.splitlines()) <= 60


def hand_lists(text: str, window: int = 300) -> list[str]:
    """Places in `text` where every registered kind's name appears within `window` characters: a
    list of the kinds kept by hand (which a new kind would have to join)."""
    names = configs.kinds()
    found = []
    for match in re.finditer(rf"\b{names[0]}\b", text):
        near = text[max(0, match.start() - window) : match.end() + window]
        if all(re.search(rf"\b{name}\b", near) for name in names):
            found.append(text[match.start() : match.end() + 80])
    return found


def test_no_module_lists_the_kinds_by_hand() -> None:
    found = []
    for folder in ("app", "fields"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != ROOT / "fields" / "kinds" / "__init__.py":
                found += [f"{path.relative_to(ROOT)}: {text}" for text in hand_lists(path.read_text())]
    found += [f"README.md: {text}" for text in hand_lists((ROOT / "README.md").read_text())]
    assert found == []
    assert hand_lists("a, " + ", ".join(reversed(configs.kinds())) + " and b")  # the finder finds one


@pytest.mark.parametrize("kind", [k.name for k in KINDS if not k.impls])
def test_a_plain_torch_kind_refuses_warp(kind: str) -> None:
    config = configs.config_class(kind)(dims=2, out_dims=1)
    assert configs.implementations(kind) == ("torch",)
    torch.manual_seed(0)
    assert configs.build_field(config, impl="torch").param_count() > 0
    with pytest.raises(ConfigError, match=f"the {kind} field has no 'warp' implementation"):
        configs.build_field(config, impl="warp")


def test_unknown_kinds_name_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: hashgrid, gaussian_buckets"):
        configs.registration("nonsense")


def test_building_every_kind_loads_nothing_of_the_view() -> None:
    code = (
        "import sys, torch; from fieldscope.fields import config\n"
        "for name in config.kinds():\n"
        "    kind = config.registration(name); kind.load('tiers')\n"
        "    config.build_field(config.config_class(name)(dims=2, out_dims=1))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('moderngl', 'dearpygui', 'glfw')"
        " or m.startswith('fieldscope.app')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
