"""The command line's table of subcommands (app/commands/__init__.py, COMMANDS): `fieldscope --help`
lists them all without importing any command's module (so it loads no Warp), a command loads its
own module only, and every module builds the subcommand the table names."""

from __future__ import annotations

import subprocess
import sys

from fieldscope.app.cli import build_parser
from fieldscope.app.commands import COMMANDS


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    out = run_python(
        "import contextlib, io, sys\n"
        "from fieldscope.app.cli import main\n"
        "text = io.StringIO()\n"
        "with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('fieldscope.app.commands.') or m == 'warp')\n"
        "print(loaded)\n"
        "print(text.getvalue())\n"
    )
    loaded, _, help_text = out.partition("\n")
    assert loaded == "[]"
    for name, entry in COMMANDS.items():
        assert f"    {name} " in help_text and entry.help.split()[0] in help_text


def test_a_command_loads_its_own_module_only() -> None:
    out = run_python(
        "import sys\n"
        "from fieldscope.app.cli import main\n"
        "assert main(['kinds']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('fieldscope.app.commands.')))\n"
    )
    assert out.splitlines()[-1] == "['fieldscope.app.commands.kinds']"


def test_every_module_builds_the_subcommand_the_table_names() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
    helps = {action.dest: action.help for action in sub._choices_actions}
    assert helps == {name: entry.help for name, entry in COMMANDS.items()}
    for name, parser in sub.choices.items():
        nested = [a for a in parser._actions if isinstance(a, type(sub))]  # bench: one subcommand a task
        leaves = list(nested[0].choices.values()) if nested else [parser]
        assert all(leaf.get_default("run") is not None for leaf in leaves), name
