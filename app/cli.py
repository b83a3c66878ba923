"""The `fieldscope` command line: the subcommands below (app/commands, one module each); with no
arguments, the window on the bundled image."""

from __future__ import annotations

import os

# Before anything imports torch (the commands do): OpenMP reads its settings once, when torch loads
# it, and spinning waiters make small ops 10-20x slower on shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import importlib
import sys
from collections.abc import Sequence

from fieldscope.app.commands import COMMANDS
from fieldscope.fields.devices import resolve
from fieldscope.fields.errors import FieldscopeError


def build_parser(command: str | None = "") -> argparse.ArgumentParser:
    """The parser of `fieldscope`. `command`: "" (the default) builds every subcommand in full; a
    name builds that one in full (importing its module) and the others as their one-line help;
    None builds only the one-line helps (`fieldscope --help`)."""
    parser = argparse.ArgumentParser(prog="fieldscope", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    for name, entry in COMMANDS.items():
        if command == "" or name == command:
            importlib.import_module(f"fieldscope.app.commands.{entry.module}").add_parser(sub)
        else:
            sub.add_parser(name, help=entry.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # the window on the bundled scene
        argv = ["view"]
    args = build_parser(argv[0] if argv[0] in COMMANDS else None).parse_args(argv)
    try:
        if getattr(args, "device", None) is not None:
            args.device = resolve(args.device)
        return int(args.run(args) or 0)
    except FieldscopeError as error:
        print(f"fieldscope: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fieldscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
