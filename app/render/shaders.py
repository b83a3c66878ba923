"""GLSL sources from shaders/: `#include "file"` and `#include FIELD_INCLUDE` resolved, defines
prepended after the #version line."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

SHADER_DIR = resources.files("fieldscope.shaders")
#: A uniform's value as moderngl sets it: a number, or a vector's components.
Uniform = int | float | tuple[float, ...]
_INCLUDE = re.compile(r'^\s*#include\s+(?:"([^"]+)"|(FIELD_INCLUDE))\s*$', re.MULTILINE)


@cache
def read(name: str) -> str:
    """The text of shaders/<name>."""
    return (SHADER_DIR / name).read_text()


def source(name: str, field_code: str = "", defines: dict[str, int | float] | None = None) -> str:
    """shaders/<name> with includes expanded (FIELD_INCLUDE -> `field_code`, the field kind's GLSL)
    and `#define KEY VALUE` lines inserted after #version."""

    def expand(text: str, seen: tuple[str, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(2):
                return expand(field_code, seen)
            target = match.group(1)
            if target in seen:
                raise ValueError(f"shader include cycle: {' -> '.join((*seen, target))}")
            return expand(read(target), (*seen, target))

        return _INCLUDE.sub(replace, text)

    text = expand(read(name), (name,))
    version, _, rest = text.partition("\n")
    lines = [f"#define {key} {value}" for key, value in (defines or {}).items()]
    return "\n".join([version, *lines, rest])
