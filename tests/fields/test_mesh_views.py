"""make-views' core (fields/render/mesh_views.py): a sphere's views as a NeRF folder that the NeRF
scene opens, exact depths and pinhole silhouettes, cameras on the sphere looking at the centre."""

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import trimesh

from fieldscope.fields.render.cameras import Camera
from fieldscope.fields.render.mesh_views import (
    MeshRenderer,
    ViewsConfig,
    bounding_sphere,
    fibonacci_sphere,
    make_views,
    sphere_cameras,
)
from fieldscope.fields.scenes import open_scene

CENTRE = np.array([0.3, -0.2, 0.1])
RADIUS = 0.5  # of the sphere mesh
DISTANCE = 2.0  # of the cameras


def sphere_mesh(subdivisions: int = 5) -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=RADIUS)
    mesh.apply_translation(CENTRE)
    return mesh


@pytest.fixture(scope="module")
def sphere_views(tmp_path_factory):
    folder = tmp_path_factory.mktemp("views")
    path = folder / "sphere.ply"
    sphere_mesh().export(path)
    facts = make_views(path, folder / "out", ViewsConfig(views=6, width=32, height=32, radius=DISTANCE, seed=3))
    return folder / "out", facts


def test_the_folder_opens_as_the_nerf_scene_with_its_views(sphere_views):
    out, facts = sphere_views
    scene = open_scene(out, task="nerf")
    assert scene.data.train.count == 6 and scene.data.test.count == 1 and facts["test_views"] == 1
    assert (scene.data.train.width, scene.data.train.height) == (32, 32)
    # the mesh's bounding sphere lands inside the unit cube, centred
    centre = scene.unit_from_world @ np.append(CENTRE, 1.0)
    np.testing.assert_allclose(centre[:3], 0.5, atol=1e-6)
    alpha = scene.data.train.images[..., 3].float().numpy()
    assert (alpha[:, 16, 16] == 1.0).all()
    assert (alpha[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 0.0).all()
    assert set(np.unique(alpha)) == {0.0, 1.0}  # one ray per pixel: no partial coverage


def test_the_poses_are_on_the_sphere_looking_at_the_centre(sphere_views):
    out, _ = sphere_views
    for split in ("train", "test"):
        meta = json.loads((out / f"transforms_{split}.json").read_text())
        for frame in meta["frames"]:
            c2w = np.asarray(frame["transform_matrix"])
            eye = c2w[:3, 3]
            assert np.linalg.norm(eye - CENTRE) == pytest.approx(DISTANCE, abs=1e-6)
            # OpenGL axes: the camera looks down its -z, so +z points from the centre to the eye
            np.testing.assert_allclose(c2w[:3, 2], (eye - CENTRE) / DISTANCE, atol=1e-6)
            np.testing.assert_allclose(c2w[:3, :3].T @ c2w[:3, :3], np.eye(3), atol=1e-9)
            assert c2w[:3, 1] @ np.array([0.0, 1.0, 0.0]) >= 0.0  # y up
            assert (out / (frame["file_path"] + ".png")).is_file()


def test_the_centre_ray_hits_the_sphere_at_its_depth():
    mesh = sphere_mesh()
    renderer = MeshRenderer(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    directions = fibonacci_sphere(6)
    cameras = sphere_cameras(directions, CENTRE, DISTANCE, 0.8, 33, 33)  # odd: a pixel centre on the axis
    for camera in cameras:
        rgba, depth = renderer.render(camera, 10.0)
        # a subdivided icosphere's faces lie inside the sphere by at most (1 - cos(edge angle / 2)) * r
        assert DISTANCE - RADIUS <= depth[16, 16] <= DISTANCE - RADIUS * math.cos(0.04) + 1e-6
        assert rgba[16, 16, 3] == 1.0 and depth[0, 0] == -1.0 and rgba[0, 0, 3] == 0.0
        assert (rgba[0, 0, :3] == 0.0).all()


def test_the_silhouette_matches_the_pinhole_model():
    mesh = sphere_mesh()
    renderer = MeshRenderer(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    width = height = 64
    angle_x = 0.6
    (camera,) = sphere_cameras(np.array([[0.6, 0.0, 0.8]]), CENTRE, DISTANCE, angle_x, width, height)
    rgba, _ = renderer.render(camera, 10.0)
    focal = 0.5 * width / math.tan(0.5 * angle_x)
    expected = focal * RADIUS / math.sqrt(DISTANCE**2 - RADIUS**2)  # the tangent cone's image
    measured = math.sqrt(rgba[:, :, 3].sum() / math.pi)
    assert abs(measured - expected) < 1.0
    rows = np.nonzero(rgba[:, 32, 3])[0]
    assert abs((rows.max() - rows.min() + 1) / 2.0 - expected) < 1.0


def test_vertex_colours_show_and_grey_is_the_default():
    mesh = sphere_mesh(3)
    colours = np.tile([[1.0, 0.0, 0.0]], (len(mesh.vertices), 1))
    (camera,) = sphere_cameras(np.array([[0.0, 1.0, 0.0]]), CENTRE, DISTANCE, 0.8, 16, 16)  # lit from above
    red, _ = MeshRenderer(np.asarray(mesh.vertices), np.asarray(mesh.faces), colours).render(camera, 10.0)
    grey, _ = MeshRenderer(np.asarray(mesh.vertices), np.asarray(mesh.faces)).render(camera, 10.0)
    assert red[8, 8, 0] > 0.5 and red[8, 8, 1] == 0.0 and red[8, 8, 2] == 0.0
    assert grey[8, 8, 0] == grey[8, 8, 1] == grey[8, 8, 2] > 0.5


def test_coloured_mesh_files_keep_their_colours(tmp_path):
    mesh = sphere_mesh(2)
    mesh.visual.vertex_colors = np.tile([[0, 255, 0, 255]], (len(mesh.vertices), 1)).astype(np.uint8)
    mesh.export(tmp_path / "green.ply")
    make_views(tmp_path / "green.ply", tmp_path / "out", ViewsConfig(views=1, width=16, height=16))
    image = iio.imread(tmp_path / "out" / "train" / "r_0.png")
    hit = image[..., 3] == 255
    assert hit.any() and (image[hit][:, 0] == 0).all() and (image[hit][:, 1] > 0).all()


def test_fibonacci_directions_are_unit_and_spread():
    d = fibonacci_sphere(50)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    assert np.linalg.norm(d.mean(axis=0)) < 0.05
    nearest = np.sort(np.linalg.norm(d[:, None] - d[None], axis=-1), axis=1)[:, 1]
    assert nearest.min() > 0.5 * nearest.max()


def test_bounding_sphere_holds_the_mesh():
    centre, bound = bounding_sphere(np.asarray(sphere_mesh(2).vertices), np.asarray(sphere_mesh(2).faces))
    np.testing.assert_allclose(centre, CENTRE, atol=1e-9)
    assert bound == pytest.approx(RADIUS, rel=1e-6)
    assert isinstance(sphere_cameras(np.eye(3), centre, 2.0, 0.5, 8, 8)[0], Camera)
