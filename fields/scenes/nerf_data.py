"""Loading NeRF data sets: the Blender / NeRF-synthetic layout (transforms_train.json and
transforms_test.json, camera_angle_x, RGBA PNGs named without extension) and Instant-NGP's
transforms.json (fl_x, fl_y, cx, cy, w, h, k1, k2, p1, p2, aabb_scale, scale, offset; per-frame
intrinsics allowed; every 8th frame is held out for testing when there is no test file).

World -> unit cube follows Instant-NGP: p_ngp = P(p) * scale + offset with P(x, y, z) = (y, z, x)
(scale 0.33 and offset 0.5 by default), and the aabb [0.5 - a/2, 0.5 + a/2]^3 of aabb_scale a maps
to [0,1]^3. Cameras stay in world coordinates; rays are mapped with `unit_from_world`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fieldscope.fields.errors import InputError
from fieldscope.fields.render.cameras import Camera, rigid_problem
from fieldscope.fields.scenes.image import load_image
from fieldscope.fields.scenes.view_overlap import view_cone, view_overlap_problem

TRAIN_FILES = ("transforms_train.json", "transforms.json")
DEFAULT_SCALE = 0.33
DEFAULT_OFFSET = (0.5, 0.5, 0.5)
HOLD_OUT_EVERY = 8


@dataclass(frozen=True)
class Views:
    """Images and cameras of one split: images (N, H, W, 4) float16 (straight alpha), c2w (N, 4, 4),
    intrinsics (N, 4) fx fy cx cy, distortion (N, 4) k1 k2 p1 p2 (float32 tensors), file names."""

    images: torch.Tensor
    c2w: torch.Tensor
    intrinsics: torch.Tensor
    distortion: torch.Tensor
    files: tuple[str, ...]

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    @property
    def height(self) -> int:
        return int(self.images.shape[1])

    @property
    def width(self) -> int:
        return int(self.images.shape[2])

    def camera(self, index: int) -> Camera:
        fx, fy, cx, cy = (float(v) for v in self.intrinsics[index])
        k1, k2, p1, p2 = (float(v) for v in self.distortion[index])
        c2w = self.c2w[index].double().numpy()
        return Camera(c2w, fx, fy, cx, cy, self.width, self.height, (k1, k2, p1, p2))


@dataclass(frozen=True)
class NerfData:
    """A loaded data set: train and test views, the world -> unit-cube map, where it came from."""

    train: Views
    test: Views
    unit_from_world: np.ndarray
    source: Path
    layout: str
    test_split: str


def unit_map(scale: float, offset: Sequence[float], aabb_scale: float) -> np.ndarray:
    """unit_from_world (4, 4): Instant-NGP's axis cycle, scale and offset, then its aabb to [0,1]^3."""
    permute = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    m = np.eye(4)
    m[:3, :3] = permute * scale / aabb_scale
    m[:3, 3] = (np.asarray(offset, dtype=np.float64) - 0.5 + aabb_scale / 2.0) / aabb_scale
    return m


def find_transforms(path: Path) -> tuple[Path, Path | None]:
    """The train transforms file and the test one (or None) of a folder or a transforms file."""
    if path.is_file():
        test = path.with_name("transforms_test.json") if path.name == "transforms_train.json" else None
        return path, test if test is not None and test.is_file() else None
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    for name in TRAIN_FILES:
        if (path / name).is_file():
            test = path / "transforms_test.json"
            return path / name, test if name == "transforms_train.json" and test.is_file() else None
    raise InputError(f"{path}: not a NeRF data set (no {' or '.join(TRAIN_FILES)} in this folder)")


def read_transforms(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not data["frames"]:
        raise InputError(f"{path}: no frames (a transforms file needs a non-empty 'frames' list)")
    return data


def image_path(transforms: Path, index: int, frame: dict[str, Any]) -> Path:
    """A frame's image file: file_path relative to the transforms file, '.png' added if it has none."""
    name = frame.get("file_path")
    if not isinstance(name, str) or not name:
        raise InputError(f"{transforms}: frame {index} has no file_path")
    path = transforms.parent / name
    if not path.is_file() and not path.suffix and path.with_suffix(".png").is_file():
        path = path.with_suffix(".png")
    if not path.is_file():
        raise InputError(f"{transforms}: frame {index}: the image {path} does not exist")
    return path


def camera_matrix(transforms: Path, index: int, frame: dict[str, Any]) -> np.ndarray:
    """A frame's transform_matrix as a checked rigid (4, 4) camera-to-world."""
    try:
        matrix = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{transforms}: frame {index} has no transform_matrix (4x4 numbers)") from None
    problem = rigid_problem(matrix)
    if problem:
        raise InputError(
            f"{transforms}: frame {index} ({frame.get('file_path')}): the camera matrix is not rigid: {problem}"
        )
    return np.vstack([matrix[:3], [0.0, 0.0, 0.0, 1.0]])


def intrinsics(transforms: Path, meta: dict[str, Any], frame: dict[str, Any], width: int, height: int) -> np.ndarray:
    """fx fy cx cy k1 k2 p1 p2 of a frame at the loaded image size (per-frame keys win)."""
    get = {**meta, **frame}.get
    if get("is_fisheye") or get("fisheye"):
        raise InputError(f"{transforms}: fisheye cameras are not supported")
    w, h = float(get("w", width)), float(get("h", height))
    fl_x, angle_x, fl_y, angle_y = (get(k) for k in ("fl_x", "camera_angle_x", "fl_y", "camera_angle_y"))
    if fl_x is not None:
        fx = float(fl_x)
    elif angle_x is not None:
        fx = 0.5 * w / math.tan(0.5 * float(angle_x))
    else:
        raise InputError(f"{transforms}: no fl_x or camera_angle_x, so the focal length is unknown")
    if fl_y is not None:
        fy = float(fl_y)
    elif angle_y is not None:
        fy = 0.5 * h / math.tan(0.5 * float(angle_y))
    else:
        fy = fx
    sx, sy = width / w, height / h  # images stored at another size than the intrinsics were given for
    cx, cy = float(get("cx", w / 2.0)), float(get("cy", h / 2.0))
    distortion = [float(get(k, 0.0)) for k in ("k1", "k2", "p1", "p2")]
    return np.array([fx * sx, fy * sy, cx * sx, cy * sy, *distortion])


def load_views(transforms: Path, meta: dict[str, Any], frames: list[tuple[int, dict]], budget: list[int]) -> Views:
    """Read the images and cameras of some frames (index, frame); all images must share one size."""
    images: list[np.ndarray] = []
    matrices, cameras, files = [], [], []
    for index, frame in frames:
        matrix = camera_matrix(transforms, index, frame)
        path = image_path(transforms, index, frame)
        pixels = rgba(load_image(path))
        if images and pixels.shape != images[0].shape:
            h0, w0 = images[0].shape[:2]
            raise InputError(f"{path}: the image is {pixels.shape[1]}x{pixels.shape[0]}, the other views are {w0}x{h0}")
        budget[0] -= pixels.size * 2
        if budget[0] < 0:
            raise InputError(f"{transforms}: the images need more memory than the budget allows")
        images.append(pixels.astype(np.float16))
        matrices.append(matrix)
        cameras.append(intrinsics(transforms, meta, frame, pixels.shape[1], pixels.shape[0]))
        files.append(str(path))
    camera = torch.tensor(np.stack(cameras), dtype=torch.float32)
    return Views(
        torch.from_numpy(np.stack(images)),
        torch.tensor(np.stack(matrices), dtype=torch.float32),
        camera[:, :4].contiguous(),
        camera[:, 4:].contiguous(),
        tuple(files),
    )


def check_overlap(splits: Sequence[tuple[Path, Views]], unit_from_world: np.ndarray) -> None:
    """InputError naming the transforms file and the image when the cameras of all splits (their
    transforms file, views) do not see a common volume inside the scene's box (view_overlap.py)."""
    owners = [(transforms, name) for transforms, views in splits for name in views.files]
    cameras = []
    for _, views in splits:
        for i in range(views.count):
            fx, fy, cx, cy = (float(v) for v in views.intrinsics[i])
            cameras.append(view_cone(views.c2w[i].double().numpy(), fx, fy, cx, cy, views.width, views.height))
    problem = view_overlap_problem(cameras, unit_from_world)
    if problem is not None:
        index, why = problem
        transforms, image = owners[index]
        raise InputError(f"{transforms}: {Path(image).name}: {why}")


def rgba(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) with C in 1..4 -> (H, W, 4): grey to RGB, opaque alpha added where missing."""
    channels = pixels.shape[2]
    colour = pixels[:, :, :1].repeat(3, axis=2) if channels <= 2 else pixels[:, :, :3]
    alpha = pixels[:, :, -1:] if channels in (2, 4) else np.ones_like(pixels[:, :, :1])
    return np.concatenate([colour, alpha], axis=2)


def load_nerf(
    path: str | Path,
    memory_budget: int = 4 << 30,
    scale: float | None = None,
    offset: Sequence[float] | None = None,
    aabb_scale: float | None = None,
) -> NerfData:
    """A NeRF data set from its folder or its transforms file; InputError names the file and the
    problem (missing transforms, missing images, cameras that are not rigid, mixed image sizes,
    cameras that do not see a common volume inside the scene's box)."""
    train_file, test_file = find_transforms(Path(path))
    meta = read_transforms(train_file)
    frames = list(enumerate(meta["frames"]))
    budget = [int(memory_budget)]
    if test_file is not None:
        test_meta = read_transforms(test_file)
        train = load_views(train_file, meta, frames, budget)
        test = load_views(test_file, test_meta, list(enumerate(test_meta["frames"])), budget)
        split = test_file.name
    else:
        if len(frames) < 2:
            raise InputError(f"{train_file}: one frame is not enough (no test view can be held out)")
        held_out = [f for f in frames if f[0] % HOLD_OUT_EVERY == 0]
        train = load_views(train_file, meta, [f for f in frames if f[0] % HOLD_OUT_EVERY != 0], budget)
        test = load_views(train_file, meta, held_out, budget)
        split = f"every {HOLD_OUT_EVERY}th frame of {train_file.name}"
    if (train.width, train.height) != (test.width, test.height):
        raise InputError(
            f"{test.files[0]}: the image is {test.width}x{test.height}, "
            f"the train views are {train.width}x{train.height}"
        )
    matrix = unit_map(
        float(scale if scale is not None else meta.get("scale", DEFAULT_SCALE)),
        offset if offset is not None else meta.get("offset", DEFAULT_OFFSET),
        float(aabb_scale if aabb_scale is not None else meta.get("aabb_scale", 1.0)),
    )
    check_overlap([(train_file, train), (test_file or train_file, test)], matrix)
    layout = "blender" if "camera_angle_x" in meta and "fl_x" not in meta else "instant-ngp"
    return NerfData(train, test, matrix, train_file, layout, split)
