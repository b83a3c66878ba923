"""`fieldscope bench ui --overlay`: the time to draw the whole 2D view (800x600, as the window
refreshes it) with each inside overlay on, against the same view with none, while a
Gaussian-bucket field trains on the bundled image in the background; the overlays are drawn in
turn, round after round, so that the ratios come from one process under the same load. Then the
same for a Laplacian-block field of the image (a few steps trained): its view with the finest
level's block grid against its view without."""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from typing import Any

from fieldscope.app.options import DEFAULT_IMAGE
from fieldscope.app.render import overlays
from fieldscope.app.render.camera import Camera2D
from fieldscope.app.render.heatmaps import lagrangian_start
from fieldscope.app.render.renderer import Renderer, ViewOptions
from fieldscope.app.state.levels import LevelState
from fieldscope.app.state.session import Session, new_session
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.scenes.base import Scene
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run
from fieldscope.fields.training.trainer import Snapshot

VIEW_SIZE = (800, 600)
#: Training steps of the Laplacian-block field before its view is timed (some blocks active).
LAPLACIAN_STEPS = 20


def overlay_options(snapshot: Snapshot, base: ViewOptions) -> dict[str, ViewOptions]:
    """Name -> the view's options with that overlay on (the Inside panel's choices) for a
    Gaussian-bucket snapshot: heatmaps of a level, every Lagrangian level's points with sigma
    circles, the level strip with a level-of-detail cut, and everything at once."""
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


def time_overlays(session: Session, renderer: Renderer, rounds: int) -> dict[str, list[float]]:
    """Seconds per full draw of the view with each overlay, interleaved over `rounds` rounds, each
    draw of the latest snapshot (new parameters to upload as training goes on, as in the window)."""
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


def laplacian_snapshot(scene: Scene, steps: int) -> Snapshot:
    """A snapshot of a Laplacian-block field of the scene after `steps` training steps."""
    trainer = build_run(scene, FieldOptions(kind="laplacian_blocks"), TrainOptions())
    for _ in range(steps):
        trainer.step()
    trainer.publish("paused")
    return trainer.latest()


def time_block_layer(renderer: Renderer, snapshot: Snapshot, rounds: int) -> dict[str, list[float]]:
    """Seconds per full draw of a Laplacian-block snapshot's view without ("none") and with its
    finest level's block grid ("blocks"), interleaved over `rounds` rounds."""
    camera = Camera2D()
    none = ViewOptions(width=VIEW_SIZE[0], height=VIEW_SIZE[1], mode="field")
    options = {"none": none, "blocks": replace(none, blocks=snapshot.config.scales - 1)}
    for option in options.values():  # warm-up: shaders, buffers
        renderer.draw(snapshot, camera, option)
    times: dict[str, list[float]] = {name: [] for name in options}
    for _ in range(rounds):
        for name, option in options.items():
            started = time.perf_counter()
            renderer.draw(snapshot, camera, option)
            times[name].append(time.perf_counter() - started)
    return times


def run(args: argparse.Namespace) -> dict[str, Any]:
    scene = open_scene(DEFAULT_IMAGE)
    session = new_session(scene, FieldOptions(kind="gaussian_buckets"))
    config = session.latest().config
    renderer = Renderer()
    session.start()
    try:
        time.sleep(2.0)  # the trainer's first steps (kernel loads)
        times = time_overlays(session, renderer, args.rounds)
        blocks = time_block_layer(renderer, laplacian_snapshot(scene, LAPLACIAN_STEPS), args.rounds)
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
            "none_ms": 1000 * statistics.median(blocks["none"]),
            "median_ms": 1000 * statistics.median(blocks["blocks"]),
            "ratio_to_none": statistics.median(blocks["blocks"]) / statistics.median(blocks["none"]),
        },
    }
    if not args.json:
        print(f"full draws of the {VIEW_SIZE[0]}x{VIEW_SIZE[1]} view while {config.kind} trains ({steps} steps)")
        print("| overlay | median ms | vs none |\n|---|---|---|")
        for name, row in report["overlays"].items():
            print(f"| {name} | {row['median_ms']:.1f} | {row['ratio_to_none']:.2f} |")
        row = report["laplacian_blocks_layer"]
        print(
            f"| Laplacian blocks (a laplacian_blocks field's view, none: {row['none_ms']:.1f} ms) | "
            f"{row['median_ms']:.1f} | {row['ratio_to_none']:.2f} |"
        )
    return report


