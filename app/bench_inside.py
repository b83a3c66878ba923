"""Figures of the inside views. `fieldscope bench ui --overlay`: the time to draw the whole 2D view
(800x600, as the window refreshes it) with each overlay on, against the same view with none, while
a Gaussian-bucket field trains on the bundled image in the background; the overlays are drawn in
turn, round after round, so that the ratios come from one process under the same load.
The Laplacian-block layer is timed on its own (its field's GLSL is not in this branch) and added
to the plain draw. `fieldscope bench collisions`: the share of colliding entries per level of a
field config for an image (a table)."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from typing import Any

from fieldscope.app import collisions

VIEW_SIZE = (800, 600)


def add_collisions_parser(which: Any) -> None:
    from fieldscope.app.cli import add_field_options

    parser = which.add_parser("collisions", help="share of colliding hash-table entries per level (a table)")
    parser.add_argument("--image", help="image whose size sets the finest resolution (default: the bundled one)")
    parser.add_argument("--json", action="store_true")
    add_field_options(parser)


def overlay_options(snapshot: Any, base: Any) -> dict[str, Any]:
    """Name -> the view's options with that overlay on (the Inside panel's choices) for a
    Gaussian-bucket snapshot: heatmaps of a level, every Lagrangian level's points with sigma
    circles, the level strip with a level-of-detail cut, and everything at once."""
    from fieldscope.app.levels import LevelState
    from fieldscope.app.render import overlays
    from fieldscope.app.render.heatmaps import lagrangian_start

    config = snapshot.config
    finest, middle = config.levels - 1, config.levels // 2
    levels = LevelState.all_on(config.levels).with_lod(finest - 2)
    strip = {"level_states": levels.states(), "levels_caption": levels.caption(), "level_mask": levels.mask()}
    points = (True,) * len(overlays.lagrangian_levels(snapshot))
    chosen = {
        "none": {},
        "collisions": {"heatmap": "collisions", "heat_level": finest},
        "contribution": {"heatmap": "contribution", "heat_level": middle},
        "points_per_vertex": {"heatmap": "points_per_vertex", "heat_level": max(lagrangian_start(config), finest)},
        "points": {"points": points, "sigma_circles": True},
        "level_strip": strip,
    }
    chosen["all"] = {**chosen["points_per_vertex"], **chosen["points"], **strip}
    return {name: replace(base, **settings) for name, settings in chosen.items()}


def time_overlays(session: Any, renderer: Any, rounds: int) -> dict[str, list[float]]:
    """Seconds per full draw of the view with each overlay, interleaved over `rounds` rounds, each
    draw of the latest snapshot (new parameters to upload as training goes on, as in the window)."""
    from fieldscope.app.render import Camera2D, ViewOptions

    camera = Camera2D()
    base = ViewOptions(width=VIEW_SIZE[0], height=VIEW_SIZE[1], mode="field")
    options = overlay_options(session.latest(), base)
    for option in options.values():  # warm-up: shaders, collision counts
        renderer.draw(session.latest(), camera, option)
    times: dict[str, list[float]] = {name: [] for name in options}
    for _ in range(rounds):
        for name, option in options.items():
            snapshot = session.latest()
            started = time.perf_counter()
            renderer.draw(snapshot, camera, option)
            times[name].append(time.perf_counter() - started)
    return times


def time_block_layer(scene: Any, rounds: int) -> list[float]:
    """Seconds to lay the finest level's Laplacian blocks over the whole view (app/blocks.py's numpy
    raster; it does not depend on the field's evaluation, which this branch cannot draw yet)."""
    from types import SimpleNamespace

    from fieldscope.app import blocks
    from fieldscope.app.render import Camera2D
    from fieldscope.app.session import default_config
    from fieldscope.fields import config as configs

    config = default_config(scene, "laplacian_blocks")
    snapshot = SimpleNamespace(config=config, params=configs.build_field(config).state())
    finest = blocks.block_levels(snapshot)[-1]
    coords = Camera2D().field_coords(*VIEW_SIZE, tuple(config.size))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        blocks.layer(finest, coords)
        times.append(time.perf_counter() - started)
    return times


def bench_overlays(args: argparse.Namespace) -> dict[str, Any]:
    from fieldscope.app.cli import DEFAULT_IMAGE
    from fieldscope.app.render import Renderer
    from fieldscope.app.session import APP_TRAIN, default_config, new_session
    from fieldscope.fields.scenes import open_scene

    scene = open_scene(DEFAULT_IMAGE)
    config = default_config(scene, "gaussian_buckets")
    session = new_session(scene, config, APP_TRAIN)
    renderer = Renderer()
    session.start()
    try:
        time.sleep(2.0)  # the trainer's first steps (kernel loads)
        times = time_overlays(session, renderer, args.rounds)
        block_layer = time_block_layer(scene, args.rounds)
        steps = session.latest().step
    finally:
        session.stop(wait=True)
    none = statistics.median(times["none"])
    report = {
        "view": list(VIEW_SIZE),
        "field": config.kind,
        "rounds": args.rounds,
        "training_steps_meanwhile": steps,
        "overlays": {
            name: {"median_ms": 1000 * statistics.median(t), "ratio_to_none": statistics.median(t) / none}
            for name, t in times.items()
        },
        "laplacian_blocks_layer": {
            "median_ms": 1000 * statistics.median(block_layer),
            "ratio_to_none": (none + statistics.median(block_layer)) / none,
        },
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"full draws of the {VIEW_SIZE[0]}x{VIEW_SIZE[1]} view while {config.kind} trains ({steps} steps)")
        print("| overlay | median ms | vs none |\n|---|---|---|")
        for name, row in report["overlays"].items():
            print(f"| {name} | {row['median_ms']:.1f} | {row['ratio_to_none']:.2f} |")
        row = report["laplacian_blocks_layer"]
        print(
            f"| Laplacian blocks (the layer alone, added to none) | {row['median_ms']:.1f} | "
            f"{row['ratio_to_none']:.2f} |"
        )
    return report


def collision_table(config: Any) -> list[dict[str, Any]]:
    """Per level of a grid config: resolution, dense or hashed, vertices, entries, the share of
    colliding entries, the share of vertices that share their entry, the most per entry."""
    rows = []
    for level in range(config.levels):
        key = collisions.level_key(config, level)
        stats = collisions.stats(key, collisions.count(key) if key.countable else None)
        rows.append(
            {
                "level": level,
                "resolution": key.resolution,
                "hashed": key.hashed,
                "vertices": key.vertices,
                "entries": key.rows,
                "colliding_entries": stats.colliding_share,
                "vertices_sharing": stats.vertices_colliding_share,
                "max_per_entry": stats.max_count,
                "expected": stats.expected,
            }
        )
    return rows


def bench_collisions(args: argparse.Namespace) -> dict[str, Any]:
    from fieldscope.app.cli import DEFAULT_IMAGE, field_config
    from fieldscope.fields.scenes import open_scene

    scene = open_scene(args.image or DEFAULT_IMAGE)
    config = field_config(args, scene.dims, scene.out_dims, int(scene.describe().get("extent", 512)))
    if not hasattr(config, "log2_table_size"):
        from fieldscope.fields.errors import ConfigError

        raise ConfigError(f"{config.kind} fields have no hash table")
    rows = collision_table(config)
    report = {"image": str(args.image or DEFAULT_IMAGE), "config": config.__dict__, "levels": rows}
    if not args.json:
        print(f"{scene.name}: {config.kind}, L={config.levels}, T=2^{config.log2_table_size}")
        print("| level | N | table | vertices | colliding entries | vertices sharing an entry | most per entry |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            kind = "hashed" if r["hashed"] else "dense"
            share = f"{100 * r['colliding_entries']:.1f}%" + (" (expected)" if r["expected"] else "")
            print(
                f"| {r['level']} | {r['resolution']} | {kind} | {r['vertices']:,} | {share} | "
                f"{100 * r['vertices_sharing']:.1f}% | {r['max_per_entry']} |"
            )
    return report
