"""The surface tests' data set: a sphere rendered by make-views (24 views, 64x64) into a NeRF folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from fieldscope.fields.render.mesh_views import ViewsConfig, make_views

CENTRE = np.array([0.3, -0.2, 0.1])
RADIUS = 0.5  # of the sphere mesh, in its own coordinates
UNIT_RADIUS = 0.4  # the same in the unit cube (make-views' bounding sphere)


def write_sphere_views(folder: Path, views: int = 24, side: int = 64) -> Path:
    """An icosphere of RADIUS around CENTRE seen by make-views; returns the views' folder."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    mesh.apply_translation(CENTRE)
    path = folder / "sphere.ply"
    mesh.export(path)
    make_views(path, folder / "views", ViewsConfig(views=views, width=side, height=side, seed=0))
    return folder / "views"
