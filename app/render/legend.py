"""Legends and the level strip, drawn with Pillow into a transparent layer the size of the view:
the heatmap's colour bar (with its title and range), the points overlay's level colours and
counts, and the level strip (which levels are on, off, past the level-of-detail cut, or still
waiting for the coarse-to-fine schedule). Exports carry them as the view shows them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fieldscope.app.render.colormaps import inferno, level_colour
from fieldscope.app.state.blocks import STATE_COLOURS
from fieldscope.fields.kinds.laplacian_blocks.layout import STATUS_NAMES
from fieldscope.fields.pixels import to_uint8

#: Level states of the strip, drawn as: filled level colour; grey outline; dark with a cross;
#: the level colour's outline only.
LEVEL_STATES = ("on", "off", "lod", "waiting")
PANEL = (18, 20, 24, 200)
TEXT = (235, 235, 235, 255)


@dataclass(frozen=True)
class PointsLine:
    """A level's points: how many it has, how many are in view and drawn (thinned), sigma."""

    level: int
    total: int
    visible: int
    drawn: int
    sigma: float


@dataclass(frozen=True)
class LegendContent:
    """What the legends say: heat colour bar (title, low and high labels), a note (e.g. "counting"),
    the points' levels, and the level strip's states (empty: no strip) with a caption."""

    heat_title: str = ""
    heat_low: str = ""
    heat_high: str = ""
    note: str = ""
    points: tuple[PointsLine, ...] = ()
    levels: tuple[str, ...] = ()
    levels_caption: str = ""
    blocks_title: str = ""
    blocks: tuple[tuple[str, int], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.heat_title or self.note or self.points or self.levels or self.blocks)


@cache
def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def font_size(width: int, height: int) -> int:
    return int(np.clip(round(min(width, height) / 36), 9, 24))


def layer(width: int, height: int, content: LegendContent) -> np.ndarray | None:
    """The legends as a premultiplied RGBA float32 layer (H, W, 4), or None when there is nothing."""
    if content.empty:
        return None
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    size = font_size(width, height)
    margin = max(4, size // 2)
    if content.heat_title or content.note:
        # above the level strip when both are shown (a wide title would run into it)
        lift = strip_height(size, margin) + margin if content.levels else 0
        colour_bar(draw, image, content, size, margin, lift)
    if content.points:
        points_key(draw, width, content.points, size, margin)
    if content.levels:
        level_strip(draw, height, content.levels, content.levels_caption, size, margin)
    if content.blocks:
        blocks_key(draw, content.blocks_title, content.blocks, size, margin)
    rgba = np.asarray(image, np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    return rgba


def _box(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float]) -> None:
    draw.rounded_rectangle(box, radius=3, fill=PANEL)


def strip_height(size: int, margin: int) -> int:
    """Height of the level strip's box (level_strip)."""
    return max(6, size) + size + 4 + 2 * margin


def colour_bar(
    draw: ImageDraw.ImageDraw, image: Image.Image, content: LegendContent, size: int, margin: int, lift: int = 0
) -> None:
    """Bottom right (`lift` pixels higher): the title, an inferno bar from low (left) to high
    (right) with their labels."""
    width, height = image.size
    f = font(size)
    title = content.heat_title or content.note
    text_w = draw.textlength(title, font=f)
    bar_w = int(min(width - 4 * margin, max(8 * size, text_w)))
    box_w = min(width - 2 * margin, max(bar_w, text_w) + 2 * margin)
    rows = 1 if not content.heat_title else 3
    box_h = rows * (size + 4) + margin
    x0, y0 = width - margin - box_w, height - margin - box_h - lift
    _box(draw, (x0, y0, x0 + box_w, y0 + box_h))
    draw.text((x0 + margin, y0 + margin // 2), title, font=f, fill=TEXT)
    if not content.heat_title:
        return
    bar_y = y0 + margin // 2 + size + 4
    bar = inferno(np.linspace(0.0, 1.0, bar_w))
    strip = np.repeat(to_uint8(bar)[None], size, axis=0)
    image.paste(Image.fromarray(strip, "RGB"), (int(x0 + margin), int(bar_y)))
    label_y = bar_y + size + 2
    draw.text((x0 + margin, label_y), content.heat_low, font=f, fill=TEXT)
    high_w = draw.textlength(content.heat_high, font=f)
    draw.text((x0 + margin + bar_w - high_w, label_y), content.heat_high, font=f, fill=TEXT)


def points_key(draw: ImageDraw.ImageDraw, width: int, lines: tuple[PointsLine, ...], size: int, margin: int) -> None:
    """Top right: a dot of each shown level's colour, its point count and sigma."""
    f = font(size)
    texts = []
    for line in lines:
        drawn = f" ({line.drawn:,} of {line.visible:,} in view drawn)" if line.drawn < line.visible else ""
        texts.append(f"level {line.level}: {line.total:,} points{drawn}, sigma {line.sigma:.3g}")
    text_w = max(draw.textlength(t, font=f) for t in texts)
    box_w = text_w + size + 3 * margin
    box_h = len(texts) * (size + 4) + margin
    x0, y0 = width - margin - box_w, margin
    _box(draw, (x0, y0, x0 + box_w, y0 + box_h))
    for i, (line, text) in enumerate(zip(lines, texts, strict=True)):
        y = y0 + margin // 2 + i * (size + 4)
        colour = tuple(int(255 * c) for c in level_colour(line.level))
        r = size * 0.35
        cx, cy = x0 + margin + size / 2, y + size / 2 + 1
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*colour, 255), outline=(10, 10, 10, 255))
        draw.text((x0 + 2 * margin + size, y), text, font=f, fill=TEXT)


def level_strip(
    draw: ImageDraw.ImageDraw, height: int, states: tuple[str, ...], caption: str, size: int, margin: int
) -> None:
    """Bottom left: one box per level, coarse to fine, in its state, and a red bar at the cut."""
    f = font(size)
    cell = max(6, size)
    gap = max(1, cell // 6)
    strip_w = len(states) * (cell + gap)
    box_w = max(strip_w, draw.textlength(caption, font=f)) + 2 * margin
    box_h = strip_height(size, margin)
    x0, y0 = margin, height - margin - box_h
    _box(draw, (x0, y0, x0 + box_w, y0 + box_h))
    top = y0 + margin
    for level, state in enumerate(states):
        left = x0 + margin + level * (cell + gap)
        box = (left, top, left + cell, top + cell)
        colour = tuple(int(255 * c) for c in level_colour(level))
        if state == "on":
            draw.rectangle(box, fill=(*colour, 255))
        elif state == "waiting":
            draw.rectangle(box, outline=(*colour, 255), width=max(1, cell // 6))
        elif state == "lod":
            draw.rectangle(box, fill=(45, 45, 48, 255))
            draw.line((box[0], box[1], box[2], box[3]), fill=(120, 120, 120, 255))
        else:
            draw.rectangle(box, outline=(130, 130, 130, 255))
        if state == "lod" and (level == 0 or states[level - 1] != "lod"):
            draw.line((left - gap, top - 2, left - gap, top + cell + 2), fill=(230, 60, 50, 255), width=2)
    draw.text((x0 + margin, top + cell + 4), caption, font=f, fill=TEXT)


def blocks_key(
    draw: ImageDraw.ImageDraw, title: str, counts: tuple[tuple[str, int], ...], size: int, margin: int
) -> None:
    """Top left: the title, then a swatch of each block state's colour with its block count."""
    f = font(size)
    texts = [f"{name.replace('_', ' ')}: {count:,}" for name, count in counts]
    box_w = max(draw.textlength(title, font=f), *(draw.textlength(t, font=f) + size + margin for t in texts))
    box_h = (len(texts) + 1) * (size + 4) + margin
    x0, y0 = margin, margin
    _box(draw, (x0, y0, x0 + box_w + 2 * margin, y0 + box_h))
    draw.text((x0 + margin, y0 + margin // 2), title, font=f, fill=TEXT)
    for i, ((name, _), text) in enumerate(zip(counts, texts, strict=True), start=1):
        y = y0 + margin // 2 + i * (size + 4)
        r, g, b, a = STATE_COLOURS[STATUS_NAMES.index(name)]
        swatch = (x0 + margin, y + 2, x0 + margin + size - 2, y + size)
        # the colour the state has over black, opaque, and an outline for "not started" (clear)
        draw.rectangle(swatch, fill=(int(255 * r * a), int(255 * g * a), int(255 * b * a), 255), outline=TEXT)
        draw.text((x0 + 2 * margin + size, y), text, font=f, fill=TEXT)
