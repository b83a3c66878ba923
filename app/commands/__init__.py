"""The subcommands of `fieldscope`, one module each (add_parser(subparsers) and run(args)), and
COMMANDS, their one table: name -> module and one-line help, in the order `fieldscope --help` lists
them. The command line loads only the module of the command it runs (`fieldscope --help` loads none:
it lists the table), so that no command's imports (Warp, the renderers, Ray) slow the others."""

from __future__ import annotations

import argparse
from typing import NamedTuple


class Command(NamedTuple):
    """A subcommand: its module (in this package) and its one-line help."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "view": Command(
        "view", "open the window on a scene (image, data folder), a saved model (.fsnap) or a sweep's results folder"
    ),
    "fit": Command("fit", "train a field on a scene, headless, and save it"),
    "render": Command("render", "render a saved field: an image of any size, or a 3D model from a camera"),
    "export-mesh": Command("export_mesh", "marching cubes of a 3D model's surface -> .ply or .obj"),
    "make-test-image": Command("bigimage", "write a procedural tiled TIFF of any size (tile by tile)"),
    "bench": Command("bench", "benchmarks (ratios against a reference in the same process)"),
    "compare": Command("compare", "several field kinds on one scene at equal parameters, side by side"),
    "ntk": Command("ntk", "NTK eigenvalue spectra: field kinds at equal parameters, or the paper's experiment"),
    "flow": Command("flow", "optical flow from image A to B through a field fitted to A"),
    "warmup": Command("warmup", "compile the Warp kernels the default scenes need (for CI and installs)"),
    "kinds": Command("kinds", "the field kinds (--field), what each is, and its own settings (--option)"),
    "sweep": Command(
        "sweep", "field kinds x scenes x parameter budgets x seeds, each a `fit`, on Ray (local or a cluster)"
    ),
    "make-views": Command(
        "make_views", "render a mesh from cameras on a sphere into a NeRF data set (RGBA PNGs + transforms)"
    ),
}


def command_parser(sub: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    """The subparser of command `name`, with its help from COMMANDS."""
    return sub.add_parser(name, help=COMMANDS[name].help)
