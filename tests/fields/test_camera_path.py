"""Camera paths: the spline passes through its keyframes, turns smoothly (no flips), loops, and
interpolates 2D views; bad keyframes are refused."""

import math

import numpy as np
import pytest

from fieldscope.fields.errors import ConfigError
from fieldscope.fields.render.camera_path import (
    CameraPath,
    Keyframe,
    Keyframe2D,
    frame_times,
    matrices_from_quaternions,
    quaternion_from_matrix,
    rotation_angles,
)
from fieldscope.fields.render.cameras import look_at, orbit_camera


def three_keyframes() -> tuple[Keyframe, ...]:
    """Cameras around the unit cube, one rolled about its axis, at uneven times."""
    a = orbit_camera(0.0, 10.0, 2.0, 64, 48, 40.0).c2w
    b = orbit_camera(100.0, 40.0, 1.5, 64, 48, 40.0).c2w
    roll = np.eye(4)
    roll[:2, :2] = [[math.cos(0.6), -math.sin(0.6)], [math.sin(0.6), math.cos(0.6)]]
    c = orbit_camera(220.0, -20.0, 2.5, 64, 48, 40.0).c2w @ roll
    return Keyframe(a, 40.0, 0.0), Keyframe(b, 60.0, 1.5), Keyframe(c, 30.0, 4.0)


def turns(c2w: np.ndarray) -> np.ndarray:
    """Angles (N - 1,) between consecutive frames' orientations."""
    return rotation_angles(c2w[:-1, :3, :3], c2w[1:, :3, :3])


@pytest.mark.parametrize("loop", [False, True])
def test_a_path_passes_through_its_keyframes_and_turns_smoothly(loop):
    keys = three_keyframes()
    path = CameraPath(keys, seconds=6.0, loop=loop)
    at_keys = path.poses([k.time for k in keys])
    for i, key in enumerate(keys):
        assert np.abs(at_keys.c2w[i] - key.c2w).max() < 1e-6
        assert at_keys.fov[i] == pytest.approx(key.fov, abs=1e-6)
    # just off the keyframe times the curve is continuous
    near = path.poses([k.time + 1e-7 for k in keys])
    assert np.abs(near.c2w - at_keys.c2w).max() < 1e-4
    t = frame_times(30.0, 6.0)
    poses = path.poses(t)
    assert np.allclose(np.einsum("nji,njk->nik", poses.c2w[:, :3, :3], poses.c2w[:, :3, :3]), np.eye(3), atol=1e-9)
    steps = turns(poses.c2w)
    key_c2w = np.stack([k.c2w for k in keys] + ([keys[0].c2w] if loop else []))
    key_steps = turns(key_c2w)
    assert steps.max() <= key_steps.max()  # the bound: no frame turns by more than a keyframe step
    # and the speed stays near the keyframes' own: at most twice the fastest segment's mean rate
    key_times = np.array([k.time for k in keys] + ([6.0] if loop else []))
    rate = (key_steps / np.diff(key_times)).max()
    assert steps.max() <= 2.0 * rate / 30.0
    positions = poses.c2w[:, :3, 3]
    jumps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    assert jumps.max() < 0.1
    if loop:  # the last frame comes back towards the first
        assert np.linalg.norm(positions[-1] - positions[0]) < 3 * jumps.mean()
    else:  # held after the last keyframe
        assert np.allclose(poses.c2w[t >= 4.0], keys[2].c2w, atol=1e-6)


def test_opposite_signed_quaternions_and_near_half_turns_do_not_flip():
    eye = np.array([0.5, 0.5, 2.5])
    keys = []
    for i, angle in enumerate(np.radians([0.0, 170.0, 340.0, 150.0])):
        target = eye + np.array([math.sin(angle), 0.0, -math.cos(angle)])
        keys.append(Keyframe(look_at(eye, target, np.array([0.0, 1.0, 0.0])), 45.0, float(i)))
    # the same rotations whichever sign the quaternion takes: round trip of a matrix
    q = quaternion_from_matrix(keys[1].c2w[:3, :3])
    assert np.allclose(matrices_from_quaternions(-q[None])[0], keys[1].c2w[:3, :3], atol=1e-12)
    poses = CameraPath(tuple(keys), seconds=3.0).poses(frame_times(60.0, 3.0))
    steps = turns(poses.c2w)
    assert steps.max() < math.radians(170.0) / 60.0 * 2.0  # 170 degrees a second, 60 frames a second
    # the yaw goes the short way each time: 0 -> 170 -> 340 (= -20) -> 150, a total of 170+170+170
    assert steps.sum() == pytest.approx(math.radians(510.0), rel=0.05)


def test_one_keyframe_two_keyframes_and_2d_views():
    key = three_keyframes()[0]
    poses = CameraPath((key,), seconds=2.0).poses(frame_times(4.0, 2.0))
    assert len(poses) == 8 and np.allclose(poses.c2w, key.c2w)
    a, b = three_keyframes()[:2]
    # two keyframes evenly spaced: positions move at a steady speed (Catmull-Rom reproduces lines)
    moved = CameraPath((a, Keyframe(b.c2w, b.fov, 2.0)), seconds=2.0).poses(np.linspace(0.0, 2.0, 9))
    speeds = np.linalg.norm(np.diff(moved.c2w[:, :3, 3], axis=0), axis=1)
    assert np.allclose(speeds, speeds.mean(), rtol=1e-9)
    views = CameraPath(
        (Keyframe2D((0.5, 0.5), 1.0, 0.0), Keyframe2D((0.2, 0.7), 16.0, 2.0), Keyframe2D((0.8, 0.1), 4.0, 3.0)),
        seconds=3.0,
    ).views([0.0, 1.0, 2.0, 3.0])
    assert np.allclose(views.center[[0, 2, 3]], [[0.5, 0.5], [0.2, 0.7], [0.8, 0.1]], atol=1e-12)
    assert np.allclose(views.zoom[[0, 2, 3]], [1.0, 16.0, 4.0]) and 1.0 < views.zoom[1] < 16.0
    halfway = CameraPath((Keyframe2D((0.5, 0.5), 1.0, 0.0), Keyframe2D((0.5, 0.5), 16.0, 2.0)), 2.0).views([1.0])
    assert halfway.zoom[0] == pytest.approx(4.0)  # halfway in log zoom (the zoom feels steady), not 8.5


def test_bad_keyframes_are_refused_with_a_reason():
    a, b, c = three_keyframes()
    with pytest.raises(ConfigError, match="at least one keyframe"):
        CameraPath((), seconds=1.0)
    nan = a.c2w.copy()
    nan[0, 3] = math.nan
    with pytest.raises(ConfigError, match=r"keyframe 1: .*NaN"):
        CameraPath((a, Keyframe(nan, 40.0, 1.0)), seconds=2.0)
    with pytest.raises(ConfigError, match="scaled or sheared"):
        CameraPath((Keyframe(a.c2w * np.diag([2.0, 2.0, 2.0, 1.0]), 40.0, 0.0),), seconds=2.0)
    with pytest.raises(ConfigError, match="field of view"):
        CameraPath((Keyframe(a.c2w, 190.0, 0.0),), seconds=2.0)
    with pytest.raises(ConfigError, match="increase"):
        CameraPath((a, Keyframe(b.c2w, 40.0, 0.0)), seconds=2.0)
    with pytest.raises(ConfigError, match="looping path"):
        CameraPath((a, b, c), seconds=4.0, loop=True)
    with pytest.raises(ConfigError, match="not both"):
        CameraPath((a, Keyframe2D((0.5, 0.5), 1.0, 1.0)), seconds=2.0)
    with pytest.raises(ConfigError, match="zoom"):
        CameraPath((Keyframe2D((0.5, 0.5), 0.0, 1.0),), seconds=2.0)
    with pytest.raises(ConfigError, match="frames per second"):
        frame_times(0.0, 1.0)
