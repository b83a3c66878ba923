"""--mode, --overlay and --lod of `render --camera-path` and `fit --timelapse`: the window's view
options each asks for (or one line why the field cannot show it), frames drawn by the window's
renderer with the overlays laid over them, a rolled camera turning the picture, and both commands
end to end in a process of their own (their own GL context: in this one it would take the shared
window's context away)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest

from fieldscope.app.commands.looks import MODES_HELP, Look, parse_overlays
from fieldscope.app.commands.view_frames import ViewDrawer, view_camera, view_options
from fieldscope.app.render.camera import Camera2D, Camera3D
from fieldscope.app.state import collisions
from fieldscope.app.state.view import USER_MODES
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.camera_path import CameraPath, Keyframe
from fieldscope.fields.render.camera_path_files import Shot, write_camera_path
from fieldscope.fields.render.cameras import orbit_camera


def test_overlay_lists_parse_and_bad_ones_are_one_line():
    assert parse_overlays("points, collisions:3,levels") == (("points", None), ("collisions", 3), ("levels", None))
    assert parse_overlays(None) == () and not Look().by_view and Look(lod=2).by_view
    assert "; ".join(f"{dims}D: {' '.join(modes)}" for dims, modes in USER_MODES.items()) == MODES_HELP
    for text, message in [
        ("points,bogus", "unknown"),
        ("levels:2", "takes no level"),
        ("blocks:x", "must be a number"),
        ("collisions,contribution", "one heatmap at a time"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_overlays(text)


def test_view_options_of_a_look(image_snapshot: Any, sphere_snapshot: Any):
    look = Look("gradient", parse_overlays("collisions,levels"), lod=5)
    options = view_options(look, image_snapshot, 64, 48)
    assert (options.mode, options.width, options.height, options.heatmap) == ("gradient", 64, 48, "collisions")
    assert options.level_mask == (True,) * 6 + (False,) * 2
    assert options.level_states == ("on",) * 6 + ("lod",) * 2 and "6 of 8 levels on" in options.levels_caption
    # the collision heatmap's default level is the first hashed one, counted once for every frame
    key = collisions.level_key(image_snapshot.config, options.heat_level)
    assert key.hashed and not collisions.level_key(image_snapshot.config, options.heat_level - 1).hashed
    assert collisions.cached(key) is not None
    assert view_options(Look(), sphere_snapshot, 8, 8).mode == "shaded"  # the scene's default mode
    problems = [
        (Look("shaded"), image_snapshot, "2D model's modes are field, truth, error, gradient"),
        (Look("error"), image_snapshot, "needs the scene's image"),
        (Look(overlays=(("points", None),)), image_snapshot, "hashgrid fields have no Lagrangian points"),
        (Look(overlays=(("blocks", None),)), sphere_snapshot, "no Laplacian blocks"),
        (Look(overlays=(("contribution", 9),)), image_snapshot, "levels are 0..7"),
        (Look(overlays=(("points_per_vertex", None),)), image_snapshot, "no Lagrangian points"),
        (Look(lod=8), image_snapshot, "--lod 8"),
    ]
    for bad, snapshot, message in problems:
        with pytest.raises(ConfigError, match=message):
            view_options(bad, snapshot, 8, 8)


def test_frames_carry_the_overlays_and_a_camera_s_roll(renderer: Any, image_snapshot: Any, sphere_snapshot: Any):
    plain = ViewDrawer(Look("field"), renderer).frame(image_snapshot, Camera2D(), 64, 64)
    heat = ViewDrawer(Look("field", parse_overlays("collisions")), renderer).frame(image_snapshot, Camera2D(), 64, 64)
    strip = ViewDrawer(Look("field", parse_overlays("levels"), lod=3), renderer).frame(
        image_snapshot, Camera2D(), 64, 64
    )
    assert plain.shape == (64, 64, 3) and plain.dtype == np.uint8 and plain.std() > 10
    assert np.abs(heat.astype(int) - plain.astype(int)).mean() > 5  # the heatmap lies over the picture
    changed = np.abs(strip.astype(int) - plain.astype(int)).max(axis=2) > 0
    assert changed[48:].mean() > 0.2  # the level strip along the bottom

    # a camera turned 90 degrees about its axis: the same picture, turned
    pose = orbit_camera(35.0, 25.0, 2.4, 32, 32, 40.0)
    turned = pose.c2w.copy()
    turned[:3, 0], turned[:3, 1] = pose.c2w[:3, 1], -pose.c2w[:3, 0]
    drawer = ViewDrawer(Look("slice"), renderer)
    upright = drawer.frame(sphere_snapshot, view_camera(pose, None), 32, 32)
    rolled_camera = view_camera(replace(pose, c2w=turned), None)
    assert rolled_camera.roll == pytest.approx(90.0)
    rolled = drawer.frame(sphere_snapshot, rolled_camera, 32, 32)
    assert np.abs(upright.astype(int) - rolled.astype(int)).mean() > 5
    assert np.abs(np.rot90(upright, k=-1).astype(int) - rolled.astype(int)).mean() < 2.0
    # the view's camera of an orbit pose is that orbit (the window's own camera)
    same = Camera3D(azimuth=35.0, elevation=25.0, distance=2.4, fov=40.0)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(view_camera(pose, None).basis(), same.basis(), strict=True))


def test_render_and_timelapse_commands_draw_a_look(sphere_snapshot: Any, astronaut_path: Path, tmp_path: Path):
    model = tmp_path / "sphere.fsnap"
    snapshots.save(model, sphere_snapshot)
    keys = tuple(Keyframe(orbit_camera(az, 20.0, 2.2, 8, 8, 40.0).c2w, 40.0, t) for az, t in ((0.0, 0.0), (90.0, 1.0)))
    write_camera_path(tmp_path / "path.json", Shot(CameraPath(keys, 1.0), None, 32, 24, 2.0, 1.0))
    script = f"""
from fieldscope.app.cli import main
assert main(["render", {str(model)!r}, "--camera-path", {str(tmp_path / "path.json")!r},
             "--out", {str(tmp_path / "normals")!r} + "/", "--mode", "normals", "--overlay", "levels"]) == 0
assert main(["render", {str(model)!r}, "--camera-path", {str(tmp_path / "path.json")!r},
             "--out", {str(tmp_path / "bad.mp4")!r}, "--overlay", "points"]) == 2
assert main(["fit", {str(astronaut_path)!r}, "--steps", "20", "--out", {str(tmp_path / "astro.fsnap")!r},
             "--levels", "6", "--log2-table-size", "12", "--batch-size", "2048", "--quiet", "--seed", "3",
             "--timelapse", {str(tmp_path / "lapse")!r} + "/", "--every", "10", "--timelapse-size", "96x96",
             "--timelapse-share", "1",
             "--mode", "error", "--overlay", "levels", "--lod", "4"]) == 0
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--overlay points: hashgrid fields have no Lagrangian points" in result.stderr
    assert not (tmp_path / "bad.mp4").exists()
    frames = [iio.imread(tmp_path / "normals" / f"frame_{i:05d}.png") for i in range(2)]
    assert frames[0].shape == (24, 32, 3)
    # normals mode: the ball's colours are 0.5 + 0.5 n, so its pixels vary in every channel
    ball = frames[0][frames[0].std(axis=2) > 0]
    assert len(ball) > 50 and all(ball[:, c].std() > 10 for c in range(3))
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() > 2  # the path moves
    lapse = sorted((tmp_path / "lapse").iterdir())
    assert [p.name for p in lapse] == [f"frame_{i:05d}.png" for i in range(3)]  # steps 0, 10, 20
    # the error mode darkens as the field learns the image
    errors = [iio.imread(p)[16:60].astype(float).mean() for p in lapse]
    assert errors[2] < errors[0], errors
