"""The window's camera path state: keyframes from the view's camera, reorder, times, scrub and play
with and without loop, a rolled path previewed with its roll, frusta in the 3D view, files in a
NeRF's world, and the export job (a video with one frame per 1/fps; cancel leaves nothing)."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fieldscope.app.render.camera import Camera2D, Camera3D, pose_camera
from fieldscope.app.state.camera_path import PathEditor, camera_pose, path_video_job, project
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.camera_path import Keyframe


def same_view(a: Camera3D, b: Camera3D) -> bool:
    return all(np.allclose(u, v, atol=1e-5) for u, v in zip(a.basis(), b.basis(), strict=True)) and np.isclose(
        a.fov, b.fov
    )


def orbit_editor(loop: bool = False) -> tuple[PathEditor, list[Camera3D]]:
    editor = PathEditor(loop=loop)
    cameras = [
        Camera3D(azimuth=a, elevation=e, distance=d, fov=f)
        for a, e, d, f in ((0, 10, 2, 40), (80, 30, 1.6, 50), (170, -5, 2.4, 40))
    ]
    for camera in cameras:
        editor.add(camera)
    return editor, cameras


def test_keyframes_from_the_view_play_back_through_the_same_cameras():
    editor, cameras = orbit_editor()
    assert [k.time for k in editor.keys] == [0.0, 1.0, 2.0] and editor.seconds == 2.0
    for key, camera in zip(editor.keys, cameras, strict=True):
        assert same_view(editor.camera_at(key.time), camera)
    between = editor.camera_at(0.5)
    assert 0.0 < between.azimuth < 80.0 and 40.0 < between.fov < 50.0
    # reorder keeps the time slots; set_time keeps the order; delete
    editor.move(0, 1)
    assert same_view(editor.camera_at(0.0), cameras[1]) and same_view(editor.camera_at(1.0), cameras[0])
    editor.set_time(1, 1.5)
    assert same_view(editor.camera_at(1.5), cameras[0])
    with pytest.raises(ConfigError, match="between its neighbours"):
        editor.set_time(1, 2.5)
    editor.delete(2)
    assert len(editor.keys) == 2
    # play: the scrubber follows the clock and stops at the end
    editor.time = 0.0
    editor.play(now=100.0)
    assert same_view(editor.tick(now=100.0), cameras[1])
    editor.tick(now=101.0)
    assert editor.time == pytest.approx(1.0) and editor.playing_since is not None
    assert same_view(editor.tick(now=105.0), cameras[0]) and editor.playing_since is None
    assert editor.tick(now=106.0) is None


def test_a_looping_path_wraps_and_2d_keyframes():
    editor, cameras = orbit_editor(loop=True)
    assert editor.seconds == 3.0 and editor.time == 2.0  # the scrubber sits on the newest keyframe
    editor.time = 0.0
    editor.play(now=0.0)
    assert same_view(editor.tick(now=4.0), cameras[1]) and editor.time == pytest.approx(1.0)
    flat = PathEditor()
    flat.add(Camera2D((0.5, 0.5), 1.0))
    flat.add(Camera2D((0.2, 0.3), 8.0))
    assert flat.camera_at(1.0) == Camera2D((0.2, 0.3), 8.0)
    assert 1.0 < flat.camera_at(0.5).zoom < 8.0 and flat.frusta(Camera3D(), 100, 100).shape == (0, 2, 2)
    with pytest.raises(ConfigError, match="no keyframes"):
        PathEditor().camera_at(0.0)


def rolled(camera: Camera3D, degrees: float) -> np.ndarray:
    """The camera's pose (4, 4) turned by `degrees` about its viewing axis (its -z)."""
    c2w = camera_pose(camera)
    turn = np.radians(degrees)
    about_z = np.array([[np.cos(turn), -np.sin(turn), 0.0], [np.sin(turn), np.cos(turn), 0.0], [0.0, 0.0, 1.0]])
    c2w[:3, :3] = c2w[:3, :3] @ about_z
    return c2w


def test_a_rolled_path_previews_with_its_roll():
    base = Camera3D(azimuth=40.0, elevation=15.0, distance=2.0, fov=45.0)
    editor = PathEditor()
    editor.keys = [Keyframe(rolled(base, 0.0), 45.0, 0.0), Keyframe(rolled(base, 60.0), 45.0, 1.0)]
    editor.seconds = 1.0
    for key in editor.keys:  # the preview's camera has the keyframe's axes, roll included
        assert np.allclose(camera_pose(editor.camera_at(key.time)), key.c2w, atol=1e-5)
    assert editor.camera_at(0.0).roll == pytest.approx(0.0, abs=1e-4)
    assert editor.camera_at(1.0).roll == pytest.approx(60.0)
    assert 0.0 < editor.camera_at(0.5).roll < 60.0
    # rolling only turns the picture: eye and direction stay, and the mouse's orbit keeps the roll
    eye, forward, right, _ = editor.camera_at(1.0).basis()
    assert np.allclose(eye, base.basis()[0], atol=1e-5) and np.allclose(forward, base.basis()[1], atol=1e-5)
    assert np.dot(right, base.basis()[3]) == pytest.approx(np.sin(np.radians(60.0)), abs=1e-5)
    assert editor.camera_at(1.0).orbit(10.0, 0.0).roll == pytest.approx(60.0)
    # a pose in a NeRF's world keeps its roll in the unit cube
    unit_from_world = np.diag([0.25, 0.25, 0.25, 1.0])
    unit_from_world[:3, 3] = 0.5
    world = np.linalg.inv(unit_from_world) @ rolled(base, -30.0)
    assert pose_camera(world, 45.0, unit_from_world).roll == pytest.approx(-30.0)


def test_keyframe_frusta_project_into_the_view():
    editor, cameras = orbit_editor()
    view = Camera3D(azimuth=60.0, elevation=60.0, distance=4.0)
    segments = editor.frusta(view, 200, 100)
    assert segments.shape == (27, 2, 2)  # 9 lines for each of 3 keyframes
    apex = project(view, camera_pose(cameras[0])[None, :3, 3], 200, 100)[0]
    assert np.allclose(segments[0, 0], apex) and 0 < apex[0] < 200 and 0 < apex[1] < 100
    assert project(view, np.array([[0.5, 0.5, 0.5]]), 200, 100)[0] == pytest.approx([100.0, 50.0])
    inside = PathEditor()
    inside.add(view)  # the view's own keyframe sits at its eye: left out
    assert len(inside.frusta(view, 200, 100)) < 9


def test_a_path_saved_in_a_nerfs_world_reads_back(tmp_path):
    editor, cameras = orbit_editor(loop=True)
    world_from_unit = np.diag([3.0, 3.0, 3.0, 1.0])
    world_from_unit[:3, 3] = (-1.5, -1.5, -1.5)
    editor.save(tmp_path / "path.json", 64, 48, world_from_unit)
    again = PathEditor()
    again.load(tmp_path / "path.json", np.linalg.inv(world_from_unit))
    assert again.loop and again.seconds == 3.0 and len(again.keys) == 3
    for key, camera in zip(again.keys, cameras, strict=True):
        assert same_view(again.camera_at(key.time), camera)


def test_the_export_job_draws_the_path(renderer: Any, sphere_snapshot: Any, tmp_path: Path):
    import imageio.v2 as imageio

    from fieldscope.app.render.renderer import ViewOptions

    editor, _ = orbit_editor()
    options = ViewOptions(width=64, height=48, mode="shaded")
    steps = path_video_job(renderer, sphere_snapshot, editor, options, tmp_path / "path.mp4", fps=3.0)
    progress = list(_run(steps))
    assert progress[-1][1].startswith("camera path video, 6 frames of 64x48")
    assert all(0.0 <= p <= 1.0 for p, _ in progress[:-1])
    with imageio.get_reader(tmp_path / "path.mp4") as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert np.abs(frames[0].astype(int) - frames[3].astype(int)).mean() > 2  # the camera moves
    steps = path_video_job(renderer, sphere_snapshot, editor, options, tmp_path / "cancelled.mp4", fps=3.0)
    next(steps)
    steps.close()  # what Jobs.cancel does
    assert sorted(p.name for p in tmp_path.iterdir()) == ["path.mp4"]


def _run(steps):
    """(progress, None) for each step, then (1.0, the job's message)."""
    try:
        while True:
            yield next(steps), None
    except StopIteration as done:
        yield 1.0, done.value
