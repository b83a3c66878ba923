"""`fieldscope make-views MESH --out FOLDER`: render a mesh from cameras on a sphere around it into a
NeRF data set (transforms_train.json, transforms_test.json, RGBA PNGs) that `fit --task nerf` reads,
with the cameras in the mesh's own coordinates (fields/render/mesh_views.py)."""

from __future__ import annotations

import argparse
import time

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers
from fieldscope.fields.render.mesh_views import ViewsConfig, make_views, parse_size


def add_parser(sub: Subparsers) -> None:
    views = command_parser(sub, "make-views")
    views.add_argument("mesh", help="mesh file (.obj .ply .off .stl .glb)")
    views.add_argument("--out", required=True, help="folder to create (must not exist, or be empty)")
    views.add_argument("--views", type=int, default=50, help="training views on a Fibonacci sphere (default 50)")
    views.add_argument(
        "--test-views", type=int, help="test views from seeded random directions (default: views // 8, at least 1)"
    )
    views.add_argument("--size", default="200x200", metavar="WxH", help="image size in pixels (default 200x200)")
    views.add_argument(
        "--radius", type=float, help="camera distance from the mesh's centre, mesh units (default: 3 bounding radii)"
    )
    views.add_argument("--seed", type=int, default=0, help="seed of the test views' directions (default 0)")
    views.set_defaults(run=cmd_make_views)


def cmd_make_views(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    config = ViewsConfig(args.views, args.test_views, width, height, args.radius, args.seed)
    started = time.perf_counter()
    facts = make_views(args.mesh, args.out, config)
    print(
        f"make-views: {int(facts['views'])} training and {int(facts['test_views'])} test views of {args.mesh} "
        f"({width}x{height}, cameras at radius {facts['radius']:.4g}, camera_angle_x {facts['camera_angle_x']:.4f}, "
        f"mesh coverage {facts['coverage']:.1%}) -> {args.out} in {time.perf_counter() - started:.1f} s"
    )
    return 0
