"""Line plots drawn with Pillow (one line plot does not need matplotlib): compare's and a sweep's
curves and Pareto plots (app/commands/sweep_report.py), the NTK paper's spectra (ntk_paper.py)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from fieldscope.fields.paths import atomic_output

#: Line colours of the curves, one per field (at most five kinds are registered today).
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)]


def save_png(path: Path, image: Image.Image) -> None:
    with atomic_output(path) as handle:
        image.save(handle, format="PNG")


def plot_lines(
    series: Sequence[Sequence[Sequence[float]]],
    labels: Sequence[str],
    title: str,
    x_label: str,
    log: bool = False,
    size: tuple[int, int] = (720, 440),
    styles: Sequence[tuple[int, bool]] | None = None,
    log_x: bool = False,
    markers: bool = False,
) -> Image.Image:
    """A line plot, one line per series of (x, y) points, with axes, ticks and a key; `log`: both
    axes logarithmic, `log_x`: the x axis only (ticks show the values); `styles`: per series (colour
    index, dashed), by default the i-th colour, solid; `markers`: a dot at each point."""
    left, right, top, bottom = 64, 150, 30, 44
    width, height = size
    canvas = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(canvas)

    log_x = log or log_x

    def scaled(x: float, y: float) -> tuple[float, float]:
        return (math.log10(x) if log_x else x, math.log10(y) if log else y)

    def shown(x: float, y: float) -> bool:
        return math.isfinite(y) and (not log_x or x > 0) and (not log or y > 0)

    lines = [[scaled(x, y) for x, y in line if shown(x, y)] for line in series]
    points = [p for line in lines for p in line]
    if not points:
        return canvas
    x_lo = min(x for x, _ in points) if log_x else 0.0
    x_hi = max(x for x, _ in points)
    y_lo, y_hi = min(y for _, y in points), max(y for _, y in points)
    x_hi = x_hi if x_hi > x_lo else x_lo + 1.0
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 1.0, y_hi + 1.0
    if markers:  # a margin of 5%: no dot on the frame
        x_pad, y_pad = (x_hi - x_lo) / 20, (y_hi - y_lo) / 20
        x_lo, x_hi, y_lo, y_hi = x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad

    def xy(x: float, y: float) -> tuple[float, float]:
        return (
            left + (width - left - right) * (x - x_lo) / (x_hi - x_lo),
            height - bottom - (height - top - bottom) * (y - y_lo) / (y_hi - y_lo),
        )

    def tick(v: float, logged: bool) -> str:
        return f"1e{v:.0f}" if logged and abs(v - round(v)) < 1e-6 else f"{10**v:.3g}" if logged else f"{v:.4g}"

    draw.rectangle([left, top, width - right, height - bottom], outline=(0, 0, 0))
    for i in range(5):
        tx, ty = x_lo + (x_hi - x_lo) * i / 4, y_lo + (y_hi - y_lo) * i / 4
        x, _ = xy(tx, y_lo)
        _, y = xy(x_lo, ty)
        draw.line([(x, height - bottom), (x, height - bottom + 4)], fill=(0, 0, 0))
        draw.text((x - 10, height - bottom + 6), tick(tx, log_x), fill=(0, 0, 0))
        draw.line([(left - 4, y), (left, y)], fill=(0, 0, 0))
        draw.text((left - 58, y - 6), tick(ty, log), fill=(0, 0, 0))
    draw.text((left + (width - left - right) / 2 - 60, height - 18), x_label, fill=(0, 0, 0))
    draw.text((left, 8), title, fill=(0, 0, 0))
    styles = styles or [(i, False) for i in range(len(lines))]
    for i, (line, label, (hue, dashed)) in enumerate(zip(lines, labels, styles, strict=True)):
        colour = COLOURS[hue % len(COLOURS)]
        if len(line) > 1:
            draw_line(draw, [xy(x, y) for x, y in line], colour, dashed)
        for px, py in [xy(x, y) for x, y in line] if markers else []:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        y = top + 10 + 18 * i
        draw_line(draw, [(width - right + 10, y + 6), (width - right + 30, y + 6)], colour, dashed)
        draw.text((width - right + 36, y), label, fill=(0, 0, 0))
    return canvas


def draw_line(draw: ImageDraw.ImageDraw, points: Sequence[tuple[float, float]], colour: tuple, dashed: bool) -> None:
    """A polyline 2 px wide; dashed: 6 px on, 4 px off along its length."""
    if not dashed:
        draw.line(list(points), fill=colour, width=2)
        return
    travelled = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        steps = max(1, math.ceil(length))
        for k in range(steps):
            if (travelled + k) % 10 < 6:
                a, b = k / steps, min(1.0, (k + 1) / steps)
                draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                          fill=colour, width=2)  # fmt: skip
        travelled += steps
