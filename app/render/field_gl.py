"""Field kinds on the GPU: for each kind, the GLSL include that evaluates it, its compile-time
defines and the buffers made from a snapshot's parameters. One module per kind registers itself
(app/render/hashgrid_gl.py, app/render/gaussian_buckets_gl.py,
app/render/laplacian_blocks_gl.py); the renderer only talks to this interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from fieldscope.fields.errors import ConfigError


class GpuField(Protocol):
    """A snapshot's parameters in GL buffers, ready to bind to a program of its kind."""

    def bind(self, program: Any) -> None: ...

    def set_level_mask(self, mask: tuple[bool, ...]) -> None: ...

    def release(self) -> None: ...


class FieldGL(Protocol):
    """What the renderer needs from a field kind."""

    def glsl(self, config: Any, params: Mapping[str, np.ndarray]) -> str:
        """GLSL defining `vec4 field_eval(vec3 x)` (first four outputs) for this config; the
        same text for every snapshot of one config (the renderer caches programs by it)."""
        ...

    def upload(self, ctx: Any, config: Any, params: Mapping[str, np.ndarray], mask: tuple[bool, ...]) -> GpuField: ...


_KINDS: dict[str, FieldGL] = {}


def register(kind: str, field_gl: FieldGL) -> None:
    _KINDS[kind] = field_gl


def for_config(config: Any) -> FieldGL:
    """The GPU side of a field config's kind; ConfigError for a kind the view cannot draw yet."""
    _load_kinds()
    if config.kind not in _KINDS:
        raise ConfigError(f"the view cannot draw {config.kind} fields yet (it draws: {', '.join(_KINDS)})")
    return _KINDS[config.kind]


def _load_kinds() -> None:
    import fieldscope.app.render.fourier_gl
    import fieldscope.app.render.gaussian_buckets_gl
    import fieldscope.app.render.hashgrid_gl
    import fieldscope.app.render.laplacian_blocks_gl
    import fieldscope.app.render.mlp_gl  # noqa: F401
