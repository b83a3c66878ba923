"""`fieldscope warmup --views`: after the Warp modules, each task's default view is drawn once (the
GL driver's shader cache then holds its program); without a display it says so and exits 2."""

from __future__ import annotations

import pytest

from fieldscope.app.cli import main
from fieldscope.app.commands.warmup import VIEW_TASKS


def test_warmup_views_draws_every_task_view(display, capsys):
    assert main(["warmup", "--device", "cpu", "--views"]) == 0
    lines = capsys.readouterr().out.splitlines()
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
