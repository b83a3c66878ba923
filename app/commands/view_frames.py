"""Frames of a `Look` (app/commands/looks.py: --mode, --overlay, --lod) drawn by the window's renderer
on an offscreen context: the view's options for a snapshot (each overlay turned on as the Inside and
Blocks panels turn it on; ConfigError for one the field cannot show), and the view's camera of a
headless camera."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from fieldscope.app.commands.looks import HEATMAP_OVERLAYS, Look
from fieldscope.app.render.camera import Camera2D, Camera3D, pose_camera
from fieldscope.app.render.context import headless_context
from fieldscope.app.render.heatmaps import lagrangian_start
from fieldscope.app.render.overlays import lagrangian_levels
from fieldscope.app.render.renderer import Renderer, ViewOptions
from fieldscope.app.state import blocks, collisions, inside
from fieldscope.app.state.levels import LevelState
from fieldscope.app.state.view import USER_MODES, default_mode
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.pixels import to_uint8
from fieldscope.fields.render.cameras import Camera
from fieldscope.fields.training.trainer import Snapshot

__all__ = ["HEATMAP_OVERLAYS", "ViewDrawer", "view_camera", "view_options"]


def view_options(look: Look, snapshot: Snapshot, width: int, height: int, truth: Any = None) -> ViewOptions:
    """The window's view options that draw `look` for this snapshot at width x height; ConfigError
    for a mode or overlay the field cannot show. `truth`: the target image (H, W, C) of a 2D scene."""
    dims = int(snapshot.config.dims)
    mode = look.mode or default_mode(snapshot)
    if mode not in USER_MODES[dims]:
        raise ConfigError(f"--mode {mode}: a {dims}D model's modes are {', '.join(USER_MODES[dims])}")
    if mode in ("truth", "error") and truth is None:
        raise ConfigError(f"--mode {mode} needs the scene's image: fit --timelapse has it, a saved model does not")
    levels = len(snapshot.level_mask)
    state = LevelState.all_on(levels, tuple(snapshot.level_mask))
    if look.lod is not None:
        if not 0 <= look.lod < levels:
            raise ConfigError(f"--lod {look.lod}: the field's levels are 0..{levels - 1}")
        state = state.with_lod(look.lod)
    options = ViewOptions(width=width, height=height, mode=mode, level_mask=state.mask(), ground_truth=truth)
    for name, level in look.overlays:
        options = with_overlay(options, snapshot, name, level, state)
    return options


def with_overlay(
    options: ViewOptions, snapshot: Snapshot, name: str, level: int | None, state: LevelState
) -> ViewOptions:
    """`options` with one overlay on, as the Inside and Blocks panels turn it on."""
    config = snapshot.config
    if name == "points":
        count = len(lagrangian_levels(snapshot))
        if not count:
            raise ConfigError(f"--overlay points: {config.kind} fields have no Lagrangian points")
        return replace(options, points=(True,) * count)
    if name == "levels":
        return replace(options, level_states=state.states(), levels_caption=state.caption())
    if name == "blocks":
        if not blocks.has_blocks(snapshot):
            raise ConfigError(f"--overlay blocks: {config.kind} fields have no Laplacian blocks")
        level = config.scales - 1 if level is None else level
        if not 0 <= level < config.scales:
            raise ConfigError(f"--overlay blocks:{level}: the field's block levels are 0..{config.scales - 1}")
        return replace(options, blocks=level)
    count = inside.grid_level_count(config)
    level = default_heat_level(config, name) if level is None and count else level or 0
    problem = inside.heatmap_problem(config, name, level)
    if not problem and not 0 <= level < count:
        problem = f"the field's levels are 0..{count - 1}"
    if problem:
        raise ConfigError(f"--overlay {name}:{level}: {problem}")
    if name == "collisions":
        key = collisions.level_key(config, level)
        if not key.countable:
            raise ConfigError(f"--overlay collisions:{level}: {key.vertices:,} vertices are too many to count")
        collisions.count(key)  # cached: every frame's heatmap reads it
    return replace(options, heatmap=name, heat_level=level)


def default_heat_level(config: Any, name: str) -> int:
    """A heatmap's level unless one is given: collisions, the first hashed level (the coarser ones
    have none); points per vertex, the first Lagrangian level; a contribution, the finest level."""
    if name == "collisions":
        hashed = [level for level in range(config.levels) if collisions.level_key(config, level).hashed]
        return hashed[0] if hashed else config.levels - 1
    if name == "points_per_vertex":
        return lagrangian_start(config)
    return config.levels - 1


def view_camera(camera: Camera, unit_from_world: Any | None) -> Camera3D:
    """The view's camera seeing as a headless camera (a pose in the unit cube, or in a NeRF's world
    mapped by unit_from_world (4, 4)), its roll and vertical field of view kept."""
    fov = math.degrees(2.0 * math.atan(0.5 * camera.height / camera.fy))
    world = None if unit_from_world is None else np.asarray(unit_from_world, np.float64)
    return pose_camera(camera.c2w, fov, world)


class ViewDrawer:
    """The window's renderer (on an offscreen context of its own unless one is given): frames
    (H, W, 3) uint8 of a `Look`."""

    def __init__(self, look: Look, renderer: Renderer | None = None) -> None:
        self.look = look
        self.renderer = renderer if renderer is not None else Renderer(headless_context())

    def frame(
        self, snapshot: Snapshot, camera: Camera2D | Camera3D, width: int, height: int, truth: Any = None
    ) -> np.ndarray:
        """The view of `snapshot` from `camera` at width x height, with the look's overlays."""
        options = view_options(self.look, snapshot, width, height, truth)
        return to_uint8(self.renderer.draw(snapshot, camera, options)[..., :3])

    def close(self) -> None:
        self.renderer.release()
