"""Launching the window from the command line: `fieldscope` / `fieldscope view PATH`, and the
one-line message without a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fieldscope.app.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_without_a_display_it_says_so_in_one_line_and_points_to_the_headless_commands() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = run_cli([], env, timeout=120)  # no arguments: the window on the bundled scene
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no display" in lines[0] and "fieldscope fit" in lines[0] and "fieldscope render" in lines[0]


def test_view_opens_the_window_and_trains(display: str, tmp_path: Path, astronaut_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = {**os.environ, "DISPLAY": display, "XDG_CONFIG_HOME": str(tmp_path)}
    result = run_cli(["view", str(astronaut_path), "--seconds", "20", "--screenshot", str(shot)], env)
    assert result.returncode == 0, result.stderr
    window = iio.imread(shot)
    assert window.shape[0] >= 600 and window.shape[1] >= 1000
    assert (tmp_path / "fieldscope" / "recent.json").read_text().count("astronaut.png") == 1
