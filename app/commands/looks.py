"""`--mode`, `--overlay` and `--lod` of `render --camera-path` and `fit --timelapse`: frames drawn as
the window's view draws them. The window's renderer (app/render/renderer.py) draws them on an
offscreen OpenGL context (EGL where there is no display: Mesa's llvmpipe on a machine without a GPU)
with the view's modes (2D: field, truth, error, gradient; 3D: shaded, normals, depth, slice, density,
rgb) and its overlay layer, the Inside panel's: Lagrangian points, a heatmap (over the picture in
2D, on the slice plane in 3D), Laplacian blocks, the level strip, and their legends. Without these
options frames come from the headless torch renderer (fields/render/render3d.py), as `fieldscope
render` draws them. This module holds the options (light: it loads with the parser); the drawing
is app/commands/view_frames.py's."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from fieldscope.fields.errors import ConfigError

HEATMAP_OVERLAYS = ("collisions", "contribution", "points_per_vertex")
#: --overlay names: the Lagrangian points, a heatmap of a level, a level's Laplacian blocks, the level strip.
OVERLAYS = ("points", *HEATMAP_OVERLAYS, "blocks", "levels")
#: Overlays that take a level (NAME:L).
LEVELLED = (*HEATMAP_OVERLAYS, "blocks")
#: The view's user modes (app/state/view.py USER_MODES, which loads the renderer) for --help.
MODES_HELP = "2D: field truth error gradient; 3D: shaded normals depth slice density rgb"


def add_options(group: argparse._ArgumentGroup) -> None:
    """--mode, --overlay and --lod (drawn by the window's renderer when any is given)."""
    group.add_argument("--mode", help=f"the window's view mode ({MODES_HELP}); default: as `fieldscope render` draws")
    group.add_argument(
        "--overlay",
        metavar="LIST",
        help="inside views over the frames, comma-separated: points, collisions[:L], contribution[:L], "
        "points_per_vertex[:L], blocks[:L], levels",
    )
    group.add_argument("--lod", type=int, metavar="L", help="draw levels 0..L only (the level-of-detail cut)")


@dataclass(frozen=True)
class Look:
    """How frames look: a view mode (None: the scene's default), overlays (name, level or None for
    the default level), a level-of-detail cut (None: every level)."""

    mode: str | None = None
    overlays: tuple[tuple[str, int | None], ...] = ()
    lod: int | None = None

    @property
    def by_view(self) -> bool:
        """Drawn by the window's renderer (some option given), not the headless one."""
        return self.mode is not None or bool(self.overlays) or self.lod is not None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Look:
        overlays = parse_overlays(getattr(args, "overlay", None))
        return cls(getattr(args, "mode", None), overlays, getattr(args, "lod", None))


def parse_overlays(text: str | None) -> tuple[tuple[str, int | None], ...]:
    """'points,collisions:3,levels' -> (("points", None), ("collisions", 3), ("levels", None))."""
    found: list[tuple[str, int | None]] = []
    for word in (text or "").split(","):
        name, _, level = word.strip().partition(":")
        if not name:
            continue
        if name not in OVERLAYS:
            raise ConfigError(f"--overlay {name!r}: unknown (known: {', '.join(OVERLAYS)})")
        if level and name not in LEVELLED:
            raise ConfigError(f"--overlay {word.strip()}: {name} takes no level")
        try:
            found.append((name, int(level) if level else None))
        except ValueError:
            raise ConfigError(f"--overlay {word.strip()}: the level must be a number") from None
    if sum(name in HEATMAP_OVERLAYS for name, _ in found) > 1:
        raise ConfigError(f"--overlay {text}: one heatmap at a time ({', '.join(HEATMAP_OVERLAYS)})")
    return tuple(found)
