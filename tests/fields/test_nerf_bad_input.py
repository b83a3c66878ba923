"""Bad NeRF folders are one clear line naming the file and the problem, raised while opening:
cameras that do not see a common volume (fields/scenes/view_overlap.py), a missing image, images of
different sizes. The view cones agree with the renderer's rays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fieldscope.fields.errors import InputError
from fieldscope.fields.render.cameras import Camera, camera_rays, look_at
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.nerf_data import load_nerf, unit_map
from fieldscope.fields.scenes.view_overlap import box_bounds, box_cone, shared_radius, view_cone
from tests.fields.nerf_bad_folders import write_bad_folders, write_good_folder


def test_a_view_cone_holds_the_points_on_the_cameras_rays_and_nothing_behind_or_beside():
    c2w = look_at(np.array([1.0, -2.0, 3.0]), np.array([0.2, 0.1, -0.3]), np.array([0.0, 0.0, 1.0]))
    camera = Camera(c2w, 9.0, 7.0, 5.5, 3.0, 12, 8)
    cone = view_cone(c2w, camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height)
    origins, directions = camera_rays(camera)
    depths = torch.linspace(0.1, 5.0, len(origins))[:, None]
    seen = (origins + depths * directions).double().numpy()
    assert (seen @ cone.rows.T <= cone.limits + 1e-9).all()
    behind = (origins - depths * directions).double().numpy()
    assert (behind @ cone.rows.T > cone.limits + 1e-9).any(axis=1).all()
    # a pixel column left of the image, and a row below it
    for u, v in ((-1.5, 3.0), (6.0, 9.5)):
        local = np.array([(u - camera.cx) / camera.fx, -(v - camera.cy) / camera.fy, -1.0])
        outside = c2w[:3, 3] + 2.0 * (c2w[:3, :3] @ local)
        assert (outside @ cone.rows.T > cone.limits + 1e-9).any()


def test_the_box_is_the_unit_cube_and_the_shared_radius_of_a_box_alone_is_half_its_side():
    matrix = unit_map(0.33, (0.5, 0.5, 0.5), 2.0)
    low, high = box_bounds(matrix)
    corners = np.array([low, high, (low + high) / 2])
    unit = corners @ matrix[:3, :3].T + matrix[:3, 3]
    np.testing.assert_allclose(unit, [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]], atol=1e-12)
    side = float(high[0] - low[0])
    assert shared_radius([box_cone(matrix)], cap=10 * side) == pytest.approx(side / 2)


def test_cameras_around_the_box_open(tmp_path):
    data = load_nerf(write_good_folder(tmp_path / "good"))
    assert data.train.count == 3 and data.test.count == 1


@pytest.fixture(scope="module")
def bad_folders(tmp_path_factory):
    return write_bad_folders(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("name", ["looks away", "apart", "missing image", "mixed sizes"])
def test_a_bad_folder_is_one_line_naming_the_file_and_the_problem(bad_folders, name):
    folder, file, words = bad_folders[name]
    for opening in (load_nerf, open_scene):
        with pytest.raises(InputError) as raised:
            opening(folder)
        message = str(raised.value)
        assert "\n" not in message and str(folder) in message and file in message and words in message, message
