"""`fieldscope bench`: speed and quality figures, each measured against a reference run in the same
process (ratios, never absolute asserts). One module per benchmark, each with `add_parser(which)`
and `run(args) -> dict`; this dispatcher prints the dict as JSON with --json (one place)."""

from __future__ import annotations

import argparse
import importlib
import json

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers

#: Benchmark name -> module in this package.
BENCHES = {
    "encoding": "encoding",
    "fit": "fit",
    "budget": "budget",
    "curve": "curve",
    "render": "render",
    "ui": "ui",
    "collisions": "collisions",
    "flow": "flow",
    "points": "points",
    "record": "record",
    "sweep": "sweep",
}


def add_parser(sub: Subparsers) -> None:
    bench = command_parser(sub, "bench")
    which = bench.add_subparsers(dest="bench", required=True)
    for module in BENCHES.values():
        importlib.import_module(f"{__name__}.{module}").add_parser(which)
    for parser in which.choices.values():
        parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark; with --json print its report as one JSON object."""
    report = importlib.import_module(f"{__name__}.{BENCHES[args.bench]}").run(args)
    if args.json:
        print(json.dumps(report))
    return 0
