"""`fieldscope bench collisions`: per level of a hash grid for an image, dense or hashed, vertices,
the share of colliding table entries, of vertices sharing an entry, the most per entry (a table)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from fieldscope.app.options import DEFAULT_IMAGE, Subparsers, add_field_options, field_options
from fieldscope.app.state import collisions
from fieldscope.fields.errors import ConfigError
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.run import field_config

if TYPE_CHECKING:  # the hash grid loads Warp (~1 s): not at --help time
    from fieldscope.fields.kinds.hashgrid import GridConfig


def add_parser(which: Subparsers) -> None:
    parser = which.add_parser("collisions", help="share of colliding hash-table entries per level (a table)")
    parser.add_argument("--image", help="image whose size sets the finest resolution (default: the bundled one)")
    parser.add_argument("--json", action="store_true")
    add_field_options(parser)


def collision_table(config: GridConfig) -> list[dict[str, Any]]:
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    scene = open_scene(args.image or DEFAULT_IMAGE)
    config = field_config(scene, field_options(args))
    if not config.capabilities.hash_table:
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
