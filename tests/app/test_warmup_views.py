"""`fieldscope warmup --views`: after the Warp modules, each task's default view is drawn once (the
GL driver's shader cache then holds its program); without a display it says so and exits 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fieldscope.app.cli import main
from fieldscope.app.commands.warmup_views import VIEW_TASKS


def test_warmup_views_draws_every_task_view(display):
    # In a fresh process, as a user runs it: its own GL context made current and released in this
    # process left the tests' shared window drawing without its context (a segfault in DearPyGui's
    # next frame, in a shuffled order where a window test came after this one).
    result = subprocess.run(
        [sys.executable, "-m", "fieldscope.app.cli", "warmup", "--device", "cpu", "--views"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    views = [line.split() for line in lines if line.startswith("view ")]
    assert [(words[3], words[4]) for words in views] == [
        ("image", "(field)"),
        ("sdf", "(shaded)"),
        ("volume", "(shaded)"),
        ("nerf", "(rgb)"),
    ]
    assert len(views) == len(VIEW_TASKS)
    assert all(float(words[1]) >= 0 for words in views)


def test_warmup_views_without_a_display_says_so(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("FIELDSCOPE_GL", raising=False)
    assert main(["warmup", "--device", "cpu", "--views"]) == 2
    assert "no display" in capsys.readouterr().err
