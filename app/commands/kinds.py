"""`fieldscope kinds`: the registered field kinds (fields/kinds/__init__.py, KINDS), in their order:
each one's name (what `--field` takes), what it is, and its own settings (`--option KEY=VALUE`).
`--markdown` gives them as a table."""

from __future__ import annotations

import argparse
import textwrap

from fieldscope.app.commands import command_parser
from fieldscope.app.options import Subparsers
from fieldscope.fields.kinds import KINDS, FieldKind


def add_parser(sub: Subparsers) -> None:
    kinds = command_parser(sub, "kinds")
    kinds.add_argument("--markdown", action="store_true", help="as a Markdown table")
    kinds.set_defaults(run=cmd_kinds)


def markdown_table(kinds: tuple[FieldKind, ...] = KINDS) -> str:
    """The kinds as a Markdown table: `--field`, what it is, its own settings; one row a kind."""
    rows = ["| `--field` | what it is | its own settings (`--option KEY=VALUE`) |", "| --- | --- | --- |"]
    rows += [f"| `{kind.name}` | {kind.summary} | {kind.settings} |" for kind in kinds]
    return "\n".join(rows)


def plain_text(kinds: tuple[FieldKind, ...] = KINDS, width: int = 100) -> str:
    """The kinds as indented paragraphs: the name, then what it is and its settings wrapped to `width`."""
    blocks = []
    for kind in kinds:
        summary = textwrap.fill(kind.summary, width, initial_indent="  ", subsequent_indent="  ")
        settings = textwrap.fill(
            f"settings: {kind.settings}", width, initial_indent="  ", subsequent_indent="    "
        )
        blocks.append(f"{kind.name}\n{summary}\n{settings}")
    return "\n\n".join(blocks)


def cmd_kinds(args: argparse.Namespace) -> int:
    print(markdown_table() if args.markdown else plain_text())
    return 0
