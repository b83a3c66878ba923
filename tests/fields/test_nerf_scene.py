"""The NeRF scene: learns a data set the test renders itself, loads both layouts, saves a model that
renders without the data, exposes rendering weights for guidance, and rejects bad data sets."""

import json
import shutil

import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import InputError
from fieldscope.fields.kinds.hashgrid import HashGridConfig, growth_for
from fieldscope.fields.render.cameras import Camera, camera_rays, distort, transform_rays, undistort
from fieldscope.fields.scenes import detect_task, open_scene
from fieldscope.fields.scenes.base import psnr_from_mse
from fieldscope.fields.scenes.nerf import head_from, render_camera
from fieldscope.fields.scenes.nerf_data import load_nerf
from fieldscope.fields.training.trainer import TrainConfig, Trainer
from tests.fields.nerf_synthetic import RADIUS, write_dataset

SMALL = {"grid_resolution": 32, "render_steps": 128}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ball"))


def small_field():
    torch.manual_seed(0)
    config = HashGridConfig(
        dims=3, out_dims=16, levels=8, log2_table_size=15, base_resolution=8, growth=growth_for(8, 128, 8)
    )
    return configs.build_field(config)


@pytest.fixture(scope="module")
def trained(dataset):
    scene = open_scene(dataset, **SMALL)
    trainer = Trainer(small_field(), scene, TrainConfig(batch_size=8192))
    untrained = scene.evaluate_full(trainer.field)["psnr"]
    for _ in range(250):
        trainer.step()
    return scene, trainer, untrained


def test_a_self_rendered_scene_is_learned_to_a_test_psnr_a_broken_renderer_cannot_reach(trained):
    scene, trainer, untrained = trained
    metrics = trainer.evaluate(full=True)
    # Predicting the mean colour of every test image scores about 12 dB here, a white image about 8 dB,
    # the untrained field about as much; rays or compositing that were off by a pixel or a sign
    # would blur the ball's colours and edges well below 30 dB.
    targets = np.stack([scene.target_view(i) for i in range(scene.data.test.count)])
    mean_colour = psnr_from_mse(float(np.mean((targets - targets.mean(axis=(0, 1, 2))) ** 2)))
    assert untrained < 15.0 and mean_colour < 15.0
    assert metrics["psnr"] > 30.0, metrics
    assert metrics["psnr_worst_view"] > 27.0
    assert abs(trainer.evaluate()["psnr"] - metrics["psnr"]) < 3.0  # the quick estimate tracks the full one
    assert trainer.metrics["occupied"] < 0.3  # the occupancy grid learned to skip empty space


def test_a_saved_model_renders_without_the_data_set(trained, tmp_path):
    scene, trainer, _ = trained
    trainer.publish("stopped")
    path = tmp_path / "ball.fsnap"
    snapshots.save(path, trainer.latest())
    loaded = snapshots.load(path)
    field, head = snapshots.field_from(loaded), head_from(loaded)
    assert torch.equal(head.grid.occupied, scene.head.grid.occupied)
    camera = Camera.from_dict(loaded.scene["test_views"][2])
    background = torch.ones(3)
    image = render_camera(field, head, camera, np.asarray(loaded.scene["unit_from_world"]), background, scene.dt)
    assert np.allclose(image.numpy(), scene.render_view(trainer.field, 2), atol=1e-5)


def test_guidance_exposes_the_rendering_weights_of_the_last_batch(trained):
    scene, trainer, _ = trained
    batch = scene.sample(4096, torch.Generator().manual_seed(9))
    scene.loss(trainer.field, batch)
    guided = scene.guidance(batch)
    assert guided.coords.shape[1] == 3 and guided.weights.shape == (guided.coords.shape[0],)
    assert not guided.weights.requires_grad and float(guided.weights.min()) >= 0.0
    assert bool(((guided.coords >= 0) & (guided.coords <= 1)).all())
    # weights on the ball's surface: the points with most weight lie at its radius (0.8 * 0.33 in the cube)
    heavy = guided.coords[guided.weights > 0.5]
    assert heavy.shape[0] > 100
    assert float(((heavy - 0.5).norm(dim=-1) - RADIUS * 0.33).abs().median()) < 0.02


def test_blender_and_instant_ngp_layouts_give_the_same_rays(dataset, tmp_path):
    blender = load_nerf(dataset)
    frames = json.loads((dataset / "transforms_train.json").read_text())["frames"]
    focal = blender.train.intrinsics[0, 0].item()
    ngp = tmp_path / "ngp"
    shutil.copytree(dataset / "train", ngp / "images")
    meta = {"fl_x": focal, "fl_y": focal, "cx": 16.0, "cy": 16.0, "w": 32, "h": 32, "aabb_scale": 2, "k1": 0.0}
    meta["frames"] = [{**f, "file_path": f"images/{f['file_path'].split('/')[-1]}.png"} for f in frames]
    (ngp / "transforms.json").write_text(json.dumps(meta))
    assert detect_task(ngp) == "nerf"
    loaded = load_nerf(ngp)
    assert loaded.layout == "instant-ngp" and loaded.train.count + loaded.test.count == len(frames)
    assert loaded.test.count == 5  # every 8th of 40 frames is held out
    index = 1  # frame 1 is a training view in both
    a = camera_rays(blender.train.camera(index))
    b = camera_rays(loaded.train.camera(0))
    assert torch.allclose(a[1], b[1], atol=1e-6) and torch.allclose(a[0], b[0])
    # aabb_scale 2 halves the ball in the unit cube, still centred at 0.5
    centre = transform_rays(torch.zeros(1, 3), torch.ones(1, 3), loaded.unit_from_world)[0]
    assert torch.allclose(centre, torch.full((1, 3), 0.5))
    edge = transform_rays(torch.tensor([[0.0, 0.0, RADIUS]]), torch.ones(1, 3), loaded.unit_from_world)[0]
    assert float((edge - 0.5).norm()) == pytest.approx(RADIUS * 0.33 / 2, rel=1e-5)


def test_distortion_is_undone_and_rays_go_through_the_distorted_pixels():
    k = torch.tensor([0.1, -0.05, 0.01, -0.02])
    x, y = torch.meshgrid(torch.linspace(-0.6, 0.6, 9), torch.linspace(-0.5, 0.5, 9), indexing="ij")
    ux, uy = undistort(*distort(x, y, k), k)
    assert torch.allclose(ux, x, atol=1e-5) and torch.allclose(uy, y, atol=1e-5)
    camera = Camera(np.eye(4), 30.0, 32.0, 15.0, 17.0, 32, 32, tuple(k.tolist()))
    _, directions = camera_rays(camera)
    xn, yn = directions[:, 0] / -directions[:, 2], -directions[:, 1] / -directions[:, 2]
    px, py = distort(xn, yn, k)
    u = torch.arange(32).repeat(32).float() + 0.5
    v = torch.arange(32).repeat_interleave(32).float() + 0.5
    assert torch.allclose(px * 30.0 + 15.0, u, atol=1e-3) and torch.allclose(py * 32.0 + 17.0, v, atol=1e-3)


def copy_dataset(dataset, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(dataset, folder)
    return folder


def edit_frames(folder, edit):
    path = folder / "transforms_train.json"
    meta = json.loads(path.read_text())
    edit(meta["frames"])
    path.write_text(json.dumps(meta))


def test_bad_data_sets_are_clear_errors_naming_the_file(dataset, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a NeRF data set"):
        load_nerf(empty)
    with pytest.raises(InputError, match="not a NeRF data set"):
        detect_task(empty)

    missing = copy_dataset(dataset, tmp_path / "a")
    (missing / "train" / "r_7.png").unlink()
    with pytest.raises(InputError, match=r"transforms_train\.json: frame 7: the image .*r_7 does not exist"):
        load_nerf(missing)

    scaled = copy_dataset(dataset, tmp_path / "b")
    edit_frames(scaled, lambda frames: frames[3]["transform_matrix"][0].__setitem__(0, 2.0))
    with pytest.raises(InputError, match=r"frame 3 \(\./train/r_3\): the camera matrix is not rigid"):
        load_nerf(scaled)

    mirrored = copy_dataset(dataset, tmp_path / "c")

    def mirror(frames):
        for row in frames[0]["transform_matrix"][:3]:
            row[0] = -row[0]

    edit_frames(mirrored, mirror)
    with pytest.raises(InputError, match="reflection"):
        load_nerf(mirrored)

    broken = copy_dataset(dataset, tmp_path / "d")
    (broken / "transforms_train.json").write_text("{ not json")
    with pytest.raises(InputError, match=r"transforms_train\.json: not readable JSON"):
        load_nerf(broken)
    (broken / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": []}))
    with pytest.raises(InputError, match="no frames"):
        load_nerf(broken)


def test_the_trainer_hands_the_rendering_weights_to_a_fields_extra_loss(dataset):
    scene = open_scene(dataset, **SMALL)
    field = small_field()
    seen = []

    def extra_loss(batch, step):
        seen.append((batch.coords.shape[0], batch.weights.shape[0], float(batch.weights.sum()), step))
        return field.encoding.table.sum() * 0.0, {"guided_points": float(batch.coords.shape[0])}

    field.extra_loss = extra_loss
    field.uses_guidance = True  # the field reads W(x): the trainer asks the scene for it
    trainer = Trainer(field, scene, TrainConfig(batch_size=4096))
    for _ in range(3):
        trainer.step()
    assert [s[3] for s in seen] == [0, 1, 2]
    points, weights, total, _ = seen[-1]
    assert points == weights > 0 and total > 0.0  # every rendered sample, with its weight
    assert trainer.metrics["guided_points"] == points
    assert any(name.startswith("head.colour.") for name in trainer.latest().params)
