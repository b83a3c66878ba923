"""A sweep's report, from its rows (fields/training/sweep.py): results.md (a table per scene),
curves.png (each run's metric against its training seconds, a plot per scene) and pareto.png (the
final metric against parameters, a line per kind, the mean over seeds: the papers' Pareto plots).
Drawn with Pillow (app/commands/plots.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from fieldscope.app.commands.plots import plot_lines, save_png
from fieldscope.fields.paths import write_atomic

#: Each scene's plot in curves.png and pareto.png.
PLOT_SIZE = (760, 420)


def by_scene(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by scene, in the order the scenes first appear."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["scene"], []).append(row)
    return groups


def label(row: dict[str, Any], seeds: bool) -> str:
    """'hashgrid 20k s1': kind, parameter budget (when the sweep has one), seed (when it has several)."""
    parts = [row["kind"]]
    if row.get("params_target"):
        parts.append(f"{row['params_target'] / 1000:g}k")
    if seeds:
        parts.append(f"s{row['seed']}")
    return " ".join(parts)


def number(value: Any, digits: str = ".4g") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, digits)


def parameters(row: dict[str, Any]) -> str:
    """'3,508 (budgeted 298,180)': the trained field's parameters, and its budgeted count when that
    differs (a field that grows while it trains, Laplacian blocks, is budgeted fully grown)."""
    budgeted = row.get("params_budgeted")
    grown = f" (budgeted {budgeted:,})" if budgeted and row.get("params") and budgeted != row["params"] else ""
    return number(row.get("params"), ",") + grown


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as Markdown: a table per scene."""
    lines: list[str] = []
    for scene, group in by_scene(rows).items():
        metric = next((r["metric"] for r in group if r.get("metric")), "metric")
        lines += [
            f"## {scene}",
            "",
            f"| field | budget | parameters | seed | steps | seconds | {metric} | host | error |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for row in group:
            error = str(row.get("error") or "").replace("|", "/")
            lines.append(
                f"| {row['kind']} | {number(row.get('params_target'), ',')} | {parameters(row)} | "
                f"{row['seed']} | {number(row.get('steps'), 'd')} | {number(row.get('seconds'), '.1f')} | "
                f"{number(row.get('value'))} | {row.get('host', '')} | {error} |"
            )
        lines.append("")
    return "\n".join(lines)


def stacked(images: Sequence[Image.Image]) -> Image.Image:
    """Images one under the other (a blank plot when there are none)."""
    if not images:
        return Image.new("RGB", PLOT_SIZE, (255, 255, 255))
    canvas = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), (255, 255, 255))
    y = 0
    for image in images:
        canvas.paste(image, (0, y))
        y += image.height
    return canvas


def curves_plot(rows: Sequence[dict[str, Any]]) -> Image.Image:
    """Each finished run's curve (metric against training seconds), a plot per scene."""
    plots = []
    for scene, group in by_scene(rows).items():
        done = [r for r in group if r.get("curve")]
        if not done:
            continue
        seeds = len({r["seed"] for r in done}) > 1
        metric = done[0].get("curve_metric") or "metric"
        series = [r["curve"] for r in done]
        plots.append(
            plot_lines(
                series, [label(r, seeds) for r in done], f"{scene}: {metric}", "training seconds", size=PLOT_SIZE
            )
        )
    return stacked(plots)


def pareto_points(rows: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Per kind: (parameters, mean final metric over seeds) of each budget, by parameters."""
    sums: dict[tuple[str, Any], list[tuple[float, float]]] = {}
    for row in rows:
        if row.get("value") is not None and row.get("params"):
            sums.setdefault((row["kind"], row.get("params_target")), []).append((row["params"], row["value"]))
    lines: dict[str, list[tuple[float, float]]] = {}
    for (kind, _), points in sums.items():
        mean = (sum(p for p, _ in points) / len(points), sum(v for _, v in points) / len(points))
        lines.setdefault(kind, []).append(mean)
    return {kind: sorted(points) for kind, points in lines.items()}


def pareto_plot(rows: Sequence[dict[str, Any]]) -> Image.Image:
    """The final metric against parameters (log), a line per kind, a plot per scene."""
    plots = []
    for scene, group in by_scene(rows).items():
        lines = pareto_points(group)
        if not lines:
            continue
        metric = next((r["metric"] for r in group if r.get("metric")), "metric")
        plots.append(
            plot_lines(
                list(lines.values()),
                list(lines),
                f"{scene}: {metric} vs parameters",
                "parameters",
                size=PLOT_SIZE,
                log_x=True,
                markers=True,
            )
        )
    return stacked(plots)


def write_report(folder: Path, rows: Sequence[dict[str, Any]]) -> None:
    """results.md, curves.png and pareto.png in `folder` (each written atomically)."""
    write_atomic(folder / "results.md", (markdown(rows) + "\n").encode())
    save_png(folder / "curves.png", curves_plot(rows))
    save_png(folder / "pareto.png", pareto_plot(rows))
