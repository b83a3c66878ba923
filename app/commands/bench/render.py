"""`fieldscope bench render`: frames per second of the GL renderer drawing a trained 3D hash-grid
SDF offscreen (shaded, orbiting camera), at a chosen resolution. Each frame is what the window's
3D view does: shade in GLSL and read the picture back."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from fieldscope.app.options import Subparsers, add_device_option
from fieldscope.app.render import camera, context, renderer
from fieldscope.fields.scenes.sphere import SphereScene
from fieldscope.fields.training.run import FieldOptions, TrainOptions, build_run
from fieldscope.fields.training.trainer import Snapshot


def add_parser(which: Subparsers) -> argparse.ArgumentParser:
    render = which.add_parser("render", help="GL frames per second of a trained 3D SDF, offscreen")
    render.add_argument("--json", action="store_true")
    render.add_argument("--width", type=int, default=1920)
    render.add_argument("--height", type=int, default=1080)
    render.add_argument("--frames", type=int, default=30)
    render.add_argument("--steps", type=int, default=300, help="training steps of the sphere SDF first")
    add_device_option(render)
    render.add_argument("--impl", default="warp", choices=("warp", "torch"), help="encoding used to train it")
    render.add_argument("--mode", default="shaded", help="3D view mode (shaded, normals, depth, slice...)")
    return render


def trained_sphere(steps: int, device: str, impl: str = "warp") -> Snapshot:
    """A default-sized 3D hash grid (16 levels, T=2^19) fitted to a sphere's SDF."""
    options = FieldOptions(max_resolution=1024)
    trainer = build_run(SphereScene(device=device), options, TrainOptions(lr=3e-3), device, impl=impl)
    for _ in range(steps):
        trainer.step()
    trainer.publish("stopped")
    return trainer.latest()


def run(args: argparse.Namespace) -> dict[str, Any]:
    snapshot = trained_sphere(args.steps, args.device, args.impl)
    drawer = renderer.Renderer()
    options = renderer.ViewOptions(width=args.width, height=args.height, mode=args.mode)
    view = camera.Camera3D()
    drawer.draw(snapshot, view, options)  # compile and upload
    times = []
    for _ in range(args.frames):
        view = view.orbit(3.0, 0.0)
        started = time.perf_counter()
        drawer.draw(snapshot, view, options)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    report = {"width": args.width, "height": args.height, "frames": args.frames, "median_ms": median * 1e3,
              "fps": 1.0 / median, "device": args.device, **context.gl_info(drawer.ctx)}  # fmt: skip
    if not args.json:
        print(f"{args.width}x{args.height} {args.mode} SDF on {report['gl_renderer']}: {report['fps']:.1f} frames/s "
              f"(median {report['median_ms']:.1f} ms per frame, read-back included)")  # fmt: skip
    drawer.release()
    return report
