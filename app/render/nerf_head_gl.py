"""A NeRF snapshot's colour head on the GPU (shaders/nerf_head.glsl): its defines and its weights in
a uniform block (binding HEAD_BINDING), packed like the field decoder's (app/render/decoder_gl.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from fieldscope.app.render import decoder_gl
from fieldscope.app.render.shaders import Uniform
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.volume_rendering import TERMINATION

if TYPE_CHECKING:
    import moderngl

    from fieldscope.fields.training.trainer import Snapshot

#: Where a snapshot keeps the colour MLP (fields/training/trainer.py HEAD_PREFIX + NerfHead.colour.mlp).
PREFIX = "head.colour.mlp."
HEAD_BINDING = 2  # uniform block binding (0: the field decoder, 1: the grid levels)
#: The lattice a NeRF scene renders on when its facts do not say (fields/scenes/nerf.py default_steps).
DEFAULT_STEPS = 512
#: Transmittance under which a live picture's rays stop (its samples lie farther apart than the
#: scene's): 1% left behind the surface instead of 0.01%; on lego's test view 0 it cost 0.01 dB
#: and saved 10-35% of the shading.
LIVE_TERMINATION = 1e-2


def has_head(snapshot: Snapshot) -> bool:
    """Whether a 3D snapshot holds a NeRF colour head (a surface's reads the normal too: its view
    draws the SDF)."""
    facts = snapshot.scene or {}
    return bool(facts.get("task") == "nerf" and facts.get("head")) and f"{PREFIX}layers.0.weight" in snapshot.params


def glsl(snapshot: Snapshot) -> str:
    """`#define` lines that compile nerf_head.glsl for this snapshot's head ("" without one);
    ConfigError when the head does not read the field's outputs and a direction encoding."""
    if not has_head(snapshot):
        return ""
    params = snapshot.params
    degree = int(snapshot.scene["head"]["appearance"]["sh_degree"])
    inputs = int(np.shape(params[f"{PREFIX}layers.0.weight"])[1])
    outputs = int(snapshot.config.out_dims)
    if inputs != outputs + degree * degree:
        raise ConfigError(
            f"the colour head reads {inputs} values, not the field's {outputs} outputs + {degree * degree} "
            "direction harmonics"
        )
    defines = {"NERF_HEAD": 1, "HEAD_SH": degree, **decoder_gl.defines(params, PREFIX, "HEAD", "the colour head")}
    return "\n".join(f"#define {key} {value}" for key, value in defines.items())


def render_uniforms(snapshot: Snapshot, spacing: float = 1.0) -> dict[str, Uniform]:
    """The NeRF render's settings as the scene's own renders use them: sample spacing along rays
    (sqrt(3) / render_steps, times `spacing`), the evaluation background, and the transmittance
    where rays stop (the renders' TERMINATION; LIVE_TERMINATION when `spacing` > 1)."""
    facts = snapshot.scene or {}
    steps = int(facts.get("render_steps", DEFAULT_STEPS))
    white = facts.get("background", "white") == "white"
    background = (1.0, 1.0, 1.0) if white else (0.0, 0.0, 0.0)
    termination = TERMINATION if spacing <= 1.0 else LIVE_TERMINATION
    return {
        "u_nerf_dt": spacing * math.sqrt(3.0) / steps,
        "u_nerf_background": background,
        "u_nerf_termination": termination,
    }


class HeadBuffer:
    """The colour head's weights of one snapshot in a uniform buffer."""

    def __init__(self, ctx: moderngl.Context, params: Mapping[str, np.ndarray]) -> None:
        self.buffer = ctx.buffer(decoder_gl.pack(params, PREFIX))

    def bind(self) -> None:
        self.buffer.bind_to_uniform_block(HEAD_BINDING)

    def release(self) -> None:
        self.buffer.release()
