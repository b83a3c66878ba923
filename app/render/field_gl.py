"""Field kinds on the GPU: for each kind, the GLSL include that evaluates it, its compile-time
defines and the buffers made from a snapshot's parameters. Each kind's registration
(fields/kinds/__init__.py) names its GL program, a class in app/render/<kind>_gl.py; the renderer
only talks to this interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fieldscope.fields import config as configs

if TYPE_CHECKING:
    import moderngl

    from fieldscope.fields.config import FieldConfig


class GpuField(Protocol):
    """A snapshot's parameters in GL buffers, ready to bind to a program of its kind."""

    def bind(self, program: moderngl.Program) -> None: ...

    def set_level_mask(self, mask: tuple[bool, ...]) -> None: ...

    def release(self) -> None: ...


class FieldGL(Protocol):
    """What the renderer needs from a field kind."""

    def glsl(self, config: FieldConfig, params: Mapping[str, np.ndarray]) -> str:
        """GLSL defining `vec4 field_eval(vec3 x)` (first four outputs) for this config; the
        same text for every snapshot of one config (the renderer caches programs by it)."""
        ...

    def upload(
        self, ctx: moderngl.Context, config: FieldConfig, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]
    ) -> GpuField: ...


_PROGRAMS: dict[str, FieldGL] = {}


def for_kind(kind: str) -> FieldGL:
    """The GPU side of a registered kind (its registration's `gl`, loaded once); ConfigError for an
    unknown kind."""
    if kind not in _PROGRAMS:
        _PROGRAMS[kind] = configs.registration(kind).load("gl")()
    return _PROGRAMS[kind]


def for_config(config: FieldConfig) -> FieldGL:
    """The GPU side of a field config's kind."""
    return for_kind(config.kind)
