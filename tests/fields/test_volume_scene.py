"""The volume scene: .npy and NIfTI files load, bad volumes are clear errors, a field learns one."""

import nibabel
import numpy as np
import pytest
import torch

from fieldscope.fields import config as configs
from fieldscope.fields.errors import InputError
from fieldscope.fields.kinds.hashgrid import HashGridConfig
from fieldscope.fields.scenes import detect_task, open_scene
from fieldscope.fields.scenes.base import Batch
from fieldscope.fields.scenes.volume import VolumeScene, load_volume, voxel_coords
from fieldscope.fields.training.trainer import TrainConfig, Trainer


def smooth_volume(shape=(20, 24, 16)):
    axes = [np.linspace(0, 1, n) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    return (np.sin(4 * x) * np.cos(3 * y) + z * 2).astype(np.float32)


@pytest.mark.parametrize("name", ["v.npy", "v.nii", "v.nii.gz"])
def test_npy_and_nifti_volumes_load_with_their_values_and_affine(tmp_path, name):
    values = (smooth_volume() * 100).astype(np.int16)
    affine = np.diag([2.0, 1.5, 1.0, 1.0])
    affine[:3, 3] = (-10, 5, 3)
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, values)
    else:
        nibabel.save(nibabel.Nifti1Image(values, affine), str(path))
    assert detect_task(path) == "volume"
    loaded, loaded_affine = load_volume(path)
    assert loaded.shape == (*values.shape, 1) and loaded.dtype == np.float32
    assert np.array_equal(loaded[..., 0], values.astype(np.float32))
    expected_affine = np.eye(4) if name.endswith(".npy") else affine
    assert np.allclose(loaded_affine, expected_affine)
    scene = open_scene(path)
    facts = scene.describe()
    assert facts["size"] == [20, 24, 16] and facts["value_range"] == [float(values.min()), float(values.max())]
    # the centre of voxel (3, 4, 5) maps to its world position through world_from_unit
    u = voxel_coords(scene.shape, torch.tensor([3 * 24 * 16 + 4 * 16 + 5]))[0].double().numpy()
    world = np.asarray(facts["world_from_unit"]) @ np.append(u, 1.0)
    assert np.allclose(world[:3], (expected_affine @ np.array([3, 4, 5, 1.0]))[:3])


def test_bad_volumes_are_clear_errors_naming_the_file(tmp_path):
    np.save(tmp_path / "one.npy", np.ones((1, 1, 1), np.float32))
    np.save(tmp_path / "flat.npy", np.ones((8, 8), np.float32))
    np.save(tmp_path / "nan.npy", np.full((4, 4, 4), np.nan, np.float32))
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    (tmp_path / "junk.npy").write_text("not numpy")
    (tmp_path / "junk.nii").write_text("not nifti")
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    nibabel.save(nibabel.Nifti1Image(np.ones((4, 4, 1), np.float32), np.eye(4)), str(tmp_path / "slice.nii"))
    cases = {
        "one.npy": "one.npy: a volume needs at least 2 voxels along each axis, this one is 1x1x1",
        "slice.nii": "slice.nii: a volume needs at least 2 voxels",
        "flat.npy": "flat.npy: a volume must be X x Y x Z",
        "nan.npy": "nan.npy: the volume holds NaN",
        "text.npy": "text.npy: ",
        "junk.npy": "junk.npy: not a readable .npy array",
        "junk.nii": "junk.nii: not a readable NIfTI image",
        "empty.nii.gz": "empty.nii.gz: the file is empty",
        "missing.npy": "missing.npy: no such file",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message.replace(".", r"\.")):
            load_volume(tmp_path / name)
    with pytest.raises(InputError, match="over the memory budget"):
        load_volume(tmp_path / "nan.npy", memory_budget=16)


def test_a_field_learns_a_volume_and_full_psnr_covers_every_voxel():
    scene = VolumeScene(smooth_volume(), name="smooth")
    torch.manual_seed(0)
    config = HashGridConfig(dims=3, out_dims=1, levels=6, log2_table_size=14, base_resolution=4, growth=1.5)
    trainer = Trainer(configs.build_field(config), scene, TrainConfig(batch_size=4096))
    for _ in range(150):
        trainer.step()
    quick, full = trainer.evaluate()["psnr"], trainer.evaluate(full=True)["psnr"]
    assert full > 35.0 and abs(quick - full) < 1.0
    with torch.no_grad():
        coords = voxel_coords(scene.shape, torch.arange(20 * 24 * 16))
        mse = float(((trainer.field(coords) - scene.values.reshape(-1, 1)) ** 2).mean())
    assert full == pytest.approx(-10 * np.log10(mse), abs=1e-3)


def test_volume_guidance_weights_are_the_gradient_norm_largest_at_edges():
    values = np.zeros((12, 10, 8), np.float32)
    values[6:] = 1.0  # a step between x-voxels 5 and 6; flat everywhere else
    scene = VolumeScene(values, name="step")
    batch = scene.sample(4096, torch.Generator().manual_seed(0))
    weights = scene.guidance(batch).weights
    assert weights is not None and weights.shape == (4096,)
    x_voxel = (batch.coords[:, 0] * 12).long()
    at_edge = (x_voxel == 5) | (x_voxel == 6)
    assert torch.allclose(weights[at_edge], torch.full_like(weights[at_edge], 0.5))  # central difference 1/2
    assert torch.all(weights[~at_edge] == 0.0)
    smooth = VolumeScene(smooth_volume(), name="smooth")
    index = torch.arange(smooth.values[..., 0].numel())
    expected = np.sqrt(sum(g**2 for g in np.gradient(smooth.values[..., 0].numpy())))
    got = smooth.guidance(Batch(voxel_coords(smooth.shape, index), index[:, None])).weights
    assert np.allclose(got.numpy(), expected.reshape(-1), atol=1e-6)
