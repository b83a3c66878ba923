"""`fieldscope view`: the window on a scene, a saved model or a sweep's results folder (DearPyGui and
ModernGL load only when it opens)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fieldscope.app.commands import command_parser
from fieldscope.app.options import DEFAULT_IMAGE, Subparsers, add_device_option, kind_help
from fieldscope.fields import config as configs


def add_parser(sub: Subparsers) -> None:
    view = command_parser(sub, "view")
    view.add_argument("path", nargs="?", default=str(DEFAULT_IMAGE), help="default: the bundled astronaut")
    view.add_argument("--task", help="scene task (default: detected from the path)")
    view.add_argument("--field", default="hashgrid", help=kind_help("field kind trained on a scene"))
    view.add_argument("--seconds", type=float, help="close the window after this long")
    view.add_argument("--screenshot", metavar="PNG", help="save the window as a PNG when closing")
    view.add_argument("--view-size", metavar="WxH", help="fixed view size in pixels (default: follow the window)")
    view.add_argument(
        "--camera", metavar="SPEC", help="3D view's camera: test:N (a NeRF's test view N) or orbit:AZ,EL,DIST"
    )
    view.add_argument(
        "--view-screenshot",
        metavar="PNG",
        help="save the picture the view last displayed when the window closes (2D: the scene's part)",
    )
    add_device_option(view)
    view.set_defaults(run=cmd_view)


def cmd_view(args: argparse.Namespace) -> int:
    from fieldscope.app.ui.launch import launch  # the window: DearPyGui and ModernGL load only when it opens

    configs.config_class(args.field)  # an unknown kind: one line before any window opens

    size = None
    if args.view_size:
        width, _, height = args.view_size.partition("x")
        size = (int(width), int(height))
    screenshot = Path(args.screenshot) if args.screenshot else None
    view_screenshot = Path(args.view_screenshot) if args.view_screenshot else None
    return launch(
        Path(args.path),
        args.task,
        args.seconds,
        screenshot,
        size,
        args.field,
        args.camera,
        view_screenshot,
        args.device,
    )
