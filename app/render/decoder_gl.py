"""The fields' MLP decoder on the GPU: weights packed for shaders/mlp.glsl (a uniform block) and
its defines. Shared by every field kind with the fields.field.Decoder, and by the NeRF colour head
(app/render/nerf_head_gl.py: another fields.field.Decoder, under another prefix, same layout)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fieldscope.fields.errors import ConfigError

#: OpenGL guarantees uniform blocks of 16 KiB; Mesa (llvmpipe) and desktop drivers give 64 KiB.
MAX_UNIFORM_BLOCK = 65536


def layers(params: Mapping[str, np.ndarray], prefix: str = "decoder.") -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight (out, in), bias (out,)) of each layer of the decoder under `prefix`, in order."""
    found, layer = [], 0
    while f"{prefix}layers.{layer}.weight" in params:
        found.append((params[f"{prefix}layers.{layer}.weight"], params[f"{prefix}layers.{layer}.bias"]))
        layer += 1
    return found


def _vec4s(values: np.ndarray, count: int) -> np.ndarray:
    padded = np.zeros(count * 4, np.float32)
    padded[: values.size] = values.ravel()
    return padded.reshape(count, 4)


def blocks(n: int) -> int:
    return (n + 3) // 4


def pack(params: Mapping[str, np.ndarray], prefix: str = "decoder.") -> np.ndarray:
    """The decoder's weights in mlp.glsl's layout -> float32 (n, 4)."""
    found = layers(params, prefix)
    weight, bias = found[0]
    in4 = blocks(weight.shape[1])
    parts = [_vec4s(row, in4) for row in weight] + [_vec4s(bias, blocks(bias.size))]
    for weight, bias in found[1:]:
        width4 = blocks(weight.shape[0])
        parts += [_vec4s(column, width4) for column in weight.T] + [_vec4s(bias, width4)]
    return np.ascontiguousarray(np.concatenate(parts))


def defines(
    params: Mapping[str, np.ndarray],
    prefix: str = "decoder.",
    name: str = "MLP",
    what: str = "the decoder",
    texture: bool = False,
) -> dict[str, int]:
    """mlp.glsl's compile-time constants (NAME_IN4, NAME_WIDTH0, ...) for the shapes of the decoder
    under `prefix`; ConfigError if its weights do not fit a uniform block (texture=False) -- with
    texture=True they are read from a float texture."""
    found = layers(params, prefix)
    first, last = found[0][0], found[-1][0]
    size = pack(params, prefix).shape[0]
    if not texture and size * 16 > MAX_UNIFORM_BLOCK:
        raise ConfigError(
            f"{what} ({sum(w.size + b.size for w, b in found):,} weights) is too large for the view "
            f"(at most {MAX_UNIFORM_BLOCK // 4:,} floats with padding)"
        )
    return {
        f"{name}_IN4": blocks(first.shape[1]),
        f"{name}_WIDTH0": first.shape[0],
        f"{name}_HIDDEN": first.shape[0] if len(found) > 1 else 1,
        f"{name}_LAYERS": len(found) - 1,
        f"{name}_OUT": last.shape[0],
        f"{name}_VEC4S": size,
        **({f"{name}_TEXTURE": 1} if texture else {}),
    }
