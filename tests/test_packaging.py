"""The wheel is one `fieldscope` package: every module, the shaders, the bundled image and the
console script, with no top-level `app`, `fields` or `gpu` to collide with other projects."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app", "fields", "gpu", "shaders", "assets")


def build_wheel(tmp_path: Path) -> zipfile.ZipFile:
    """Build the wheel offline from a copy of the sources (setuptools writes build/ and egg-info
    next to them, which must not land in the checkout)."""
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path / "wheel"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    result = subprocess.run([*command, "-w", str(out), str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("fieldscope-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_holds_one_fieldscope_package(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(wheel.namelist())
    modules = [p for folder in ("app", "fields", "gpu") for p in (ROOT / folder).rglob("*.py")]
    expected = {f"fieldscope/{p.relative_to(ROOT).as_posix()}" for p in modules}
    shaders = [p for p in (ROOT / "shaders").iterdir() if p.suffix in (".glsl", ".vert", ".frag")]
    expected |= {f"fieldscope/shaders/{p.name}" for p in shaders}
    expected |= {"fieldscope/shaders/__init__.py", "fieldscope/assets/__init__.py", "fieldscope/assets/astronaut.png"}
    assert len(shaders) >= 10 and len(expected) > 100
    assert sorted(expected - names) == []
    assert wheel.read("fieldscope/assets/astronaut.png") == (ROOT / "assets" / "astronaut.png").read_bytes()
    tops = {name.split("/")[0] for name in names}
    (metadata,) = tops - {"fieldscope"}
    assert metadata.startswith("fieldscope-") and metadata.endswith(".dist-info"), tops
    assert not tops & {"app", "fields", "gpu", "shaders", "assets"}, tops
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    lines = wheel.read(entry_points).decode().split("\n")
    assert "[console_scripts]" in lines
    assert "fieldscope = fieldscope.app.cli:main" in lines
