"""`fieldscope export-mesh`: marching cubes of a 3D model's level set -> .ply / .obj."""

from __future__ import annotations

import argparse
from pathlib import Path

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers, add_device_option
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.render.mesh_export import (
    MESH_OUTPUTS,
    check_resolution,
    scene_surface,
    transform_points,
    vertex_normals,
    write_mesh,
)
from fieldscope.fields.scenes.nerf import vertex_colours
from fieldscope.fields.scenes.surface_head import scene_head


def add_parser(sub: Subparsers) -> None:
    export = command_parser(sub, "export-mesh")
    export.add_argument("model", help="snapshot file")
    export.add_argument("--out", required=True, help="mesh file to write (.ply or .obj)")
    export.add_argument("--resolution", type=int, default=256, help="marching-cubes grid (default 256)")
    export.add_argument("--level", type=float, help="iso-level (default: the scene's: 0 for SDF/occupancy)")
    export.add_argument("--unit-cube", action="store_true", help="keep the unit cube's coordinates")
    add_device_option(export)
    export.set_defaults(run=cmd_export_mesh)


def cmd_export_mesh(args: argparse.Namespace) -> int:
    """Marching cubes of a 3D model's level set -> .ply / .obj (world coordinates of the scene)."""
    out = Path(args.out)
    if out.suffix.lower() not in MESH_OUTPUTS:
        raise ConfigError(f"{out}: unsupported mesh output type {out.suffix or '(none)'}; use .ply or .obj")
    if not out.parent.is_dir():
        raise FieldscopeError(f"{out}: the folder {out.parent} does not exist")
    check_resolution(args.resolution)
    snapshot = snapshots.load(args.model)
    if snapshot.config.dims != 3:
        raise ConfigError(f"{args.model}: a {snapshot.config.dims}D field; export-mesh needs a 3D field")
    facts = dict(snapshot.scene)
    field = snapshots.field_from(snapshot).to(args.device)
    vertices, faces, level = scene_surface(field, facts, args.resolution, args.level, world=False)
    colors = None
    head = scene_head(snapshot)  # a NeRF's or a surface's colour network: vertex colours
    if head is not None:
        colors = vertex_colours(field, head.to(args.device), vertices, vertex_normals(vertices, faces))
    world = None if args.unit_cube else facts.get("world_from_unit")
    write_mesh(out, transform_points(vertices, world), faces, colors)
    print(f"exported {len(vertices):,} vertices and {len(faces):,} triangles (level {level:g}) -> {out}")
    return 0
