"""Tiny NeRF folders (Blender layout, 8x8 PNGs, transforms_train.json only) with one thing wrong
each, for the loader's and the window's bad-input tests: name -> (folder, the file the error must
name, words it must say)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from fieldscope.fields.render.cameras import look_at

UP = np.array([0.0, 0.0, 1.0])


def ring(count: int, radius: float = 4.0) -> list[np.ndarray]:
    """Cameras on a horizontal circle around the origin, looking at it (camera-to-world (4, 4))."""
    eyes = [radius * np.array([math.cos(a), math.sin(a), 0.5]) for a in np.linspace(0, 2 * math.pi, count + 1)[:-1]]
    return [look_at(eye, np.zeros(3), UP) for eye in eyes]


def write_folder(root: Path, cameras: list[np.ndarray], sizes: list[tuple[int, int]], angle_x: float = 0.7) -> Path:
    """A folder of views r_i.png of the given (height, width) sizes seen by the given cameras."""
    (root / "train").mkdir(parents=True)
    frames = []
    for i, (c2w, (height, width)) in enumerate(zip(cameras, sizes, strict=True)):
        pixels = np.full((height, width, 4), 255, np.uint8)
        pixels[..., 0] = 40 * i
        iio.imwrite(root / "train" / f"r_{i}.png", pixels)
        frames.append({"file_path": f"./train/r_{i}", "transform_matrix": c2w.tolist()})
    (root / "transforms_train.json").write_text(json.dumps({"camera_angle_x": angle_x, "frames": frames}))
    return root


def write_good_folder(root: Path) -> Path:
    """Four views around the origin: a folder that opens."""
    return write_folder(root, ring(4), [(8, 8)] * 4)


def write_bad_folders(root: Path) -> dict[str, tuple[Path, str, str]]:
    """The bad folders under `root`: cameras that do not see a common volume (one looks away; two
    look past each other), a missing image, images of different sizes."""
    away = ring(4)
    away[2] = look_at(away[2][:3, 3], 2.0 * away[2][:3, 3], UP)  # the third camera turns round
    apart = [look_at(np.array([x, 0.0, 4.0]), np.array([x, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])) for x in (-1, -1, 1)]
    missing = write_good_folder(root / "missing image")
    (missing / "train" / "r_3.png").unlink()
    mixed = write_folder(root / "mixed sizes", ring(4), [(8, 8), (8, 8), (6, 8), (8, 8)])
    return {
        "looks away": (write_folder(root / "looks away", away, [(8, 8)] * 4), "r_2.png", "sees no part of the scene"),
        # narrow views (0.2 rad) 2 apart: each sees a column of the box, the columns do not meet in it
        "apart": (write_folder(root / "apart", apart, [(8, 8)] * 3, angle_x=0.2), "r_2.png", "not see a common volume"),
        "missing image": (missing, "r_3", "does not exist"),
        "mixed sizes": (mixed, "r_2.png", "the image is 8x6, the other views are 8x8"),
    }
