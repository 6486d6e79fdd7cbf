"""Animation frames drawn with Pillow: the map, the year as a large label, and a strip below
with the legend and the attribution.

Colour-mapped bands use the colour map's own entries (240 of its 256, evenly spaced: 16 palette
slots are kept for background, text and legend); class maps their class colours; RGB
composites one adaptive palette computed over all frames, so frames never flicker and a GIF
needs one global colour table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .styles import Style

__all__ = ["Layout", "draw_frames"]

_RAMP = 240  # colour-map entries in a frame's palette; the 16 others are the UI's
_UI = {  # name -> (palette index, rgb)
    "nodata": (240, (222, 222, 222)),
    "strip": (241, (34, 34, 38)),
    "text": (242, (255, 255, 255)),
    "dim": (243, (190, 190, 196)),
    "dark": (244, (16, 16, 20)),
    "edge": (245, (120, 120, 128)),
}

Ink = Callable[[str], Any]  # UI colour name -> a palette index or an RGB triple
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=32)
def _font(px: int, bold: bool = True) -> Font:
    """DejaVu Sans where installed (Latin accents: class names are Spanish), else Pillow's own."""
    for name in (
        ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
        if bold
        else ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    ):
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(size=px)


@dataclass(frozen=True)
class Layout:
    """Where things go in a frame (pixels) and the font sizes."""

    width: int  # frame
    height: int
    map_x: int  # map's offset inside the frame (centred when the legend needs more width)
    map_w: int
    map_h: int
    strip_h: int
    pad: int
    small: int  # font sizes
    big: int
    rows: int  # legend rows

    @staticmethod
    def make(style: Style, merc: Sequence[float], size: int, attribution: str) -> Layout:
        """The layout of a frame of long side ``size`` showing web-mercator bounds ``merc``."""
        small = max(9, round(size * 0.026))
        pad = max(3, round(small * 0.5))
        row = round(small * 1.8)
        rows = 2 if style.kind == "classes" else 1
        strip = pad + rows * row + (round(small * 1.5) if attribution else 0) + pad
        aspect = (merc[2] - merc[0]) / (merc[3] - merc[1])
        if aspect >= size / (size - strip):
            map_w, map_h = size, max(1, round(size / aspect))
        else:
            map_h = size - strip
            map_w = max(1, round(map_h * aspect))
        width = max(map_w, min(size, round(size * 0.6)))  # room for the legend next to a narrow map
        big = max(
            10, min(round(size * 0.08), round(map_h * 0.3))
        )  # the year: large, not the whole map
        return Layout(
            width, map_h + strip, (width - map_w) // 2, map_w, map_h, strip, pad, small, big, rows
        )


@dataclass(frozen=True)
class Words:
    """The words of a frame's legend in one language, from the product's plain-language text
    (:func:`.layers.public_text`); where one is None the legend says what the data says (the
    band's label, the ramp's numbers, the class names of the scheme)."""

    title: str | None = None  # the picture's name, beside the colour bar
    low: str | None = None  # the colour bar's ends
    high: str | None = None
    summary: str | None = None  # what an RGB picture shows
    classes: Mapping[int, str] | None = None  # class code -> name
    no_data: str = "no data"


def _palette(style: Style) -> tuple[list[int], dict[int, int] | None]:
    """Palette (768 values) for colour-mapped and class frames, and class code -> index."""
    pal = np.zeros((256, 3), np.uint8)
    codes = None
    if style.kind == "continuous":
        assert style.lut is not None
        pal[:_RAMP] = style.lut[np.rint(np.linspace(0, 255, _RAMP)).astype(int), :3]
    elif style.kind == "classes":
        codes = {c: i for i, (c, _, _) in enumerate(style.classes[:_RAMP])}
        for i in codes.values():
            pal[i] = style.classes[i][2][:3]
    for idx, rgb in _UI.values():
        pal[idx] = rgb
    return pal.flatten().tolist(), codes


def draw_frames(
    style: Style,
    lay: Layout,
    years: Sequence[int],
    data: Sequence[np.ma.MaskedArray | None],
    attribution: str,
    words: Words = Words(),
) -> list[Image.Image]:
    """One "P"-mode frame per year (``data``: its values, None for no data), sharing one palette;
    the legend in ``words``."""
    paletted = style.kind == "continuous" or (
        style.kind == "classes" and len(style.classes) <= _RAMP
    )
    present: set[int] = set()
    if style.kind == "classes":
        for d in data:
            if d is not None:
                present.update(
                    int(c) for c in np.unique(np.ma.getdata(d)[0][~np.ma.getmaskarray(d)[0]])
                )
    pal, codes = _palette(style) if paletted else ([], None)
    frames = []
    for year, d in zip(years, data, strict=True):
        empty = d is None or bool(np.ma.getmaskarray(d).all())
        img, ink = _paletted_map(style, lay, d, codes, pal) if paletted else _rgb_map(style, lay, d)
        draw = ImageDraw.Draw(img)
        _draw_label(draw, lay, str(year), ink)
        if empty:
            _draw_nodata(draw, lay, ink, words.no_data)
        _draw_legend(draw, img, lay, style, ink, present, paletted, words)
        if attribution:
            font = _font(lay.small, bold=False)
            y = lay.height - lay.pad - round(lay.small * 1.5) + round(lay.small * 0.2)
            draw.text(
                (lay.pad, y),
                _fit(draw, attribution, font, lay.width - 2 * lay.pad),
                font=font,
                fill=ink("dim"),
            )
        frames.append(img)
    if paletted:
        return frames
    # RGB composites: one adaptive palette over all frames (no flicker, one global table).
    strip = Image.new("RGB", (lay.width, lay.height * len(frames)))
    for i, f in enumerate(frames):
        strip.paste(f, (0, i * lay.height))
    shared = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return [f.quantize(palette=shared, dither=Image.Dither.NONE) for f in frames]


def _paletted_map(
    style: Style,
    lay: Layout,
    d: np.ma.MaskedArray | None,
    codes: dict[int, int] | None,
    pal: list[int],
) -> tuple[Image.Image, Ink]:
    """A frame's background and map as palette indices (colour maps, class maps)."""
    nodata = _UI["nodata"][0]
    frame = np.full((lay.height, lay.width), nodata, np.uint8)
    frame[lay.map_h :] = _UI["strip"][0]
    if d is not None and not np.ma.getmaskarray(d).all():
        mask = np.ma.getmaskarray(d)[0]
        if style.kind == "continuous":
            idx = style.levels(np.ma.getdata(d)[0], _RAMP)
        else:
            lut = np.full(max(max(codes or {0: 0}) + 1, 1), nodata, np.uint8)
            for c, i in (codes or {}).items():
                lut[c] = i
            raw = np.ma.getdata(d)[0].astype(np.int64)
            ok = (raw >= 0) & (raw < len(lut))
            idx = np.where(ok, lut[np.where(ok, raw, 0)], nodata)
        frame[: lay.map_h, lay.map_x : lay.map_x + lay.map_w] = np.where(mask, nodata, idx)
    img = Image.fromarray(frame, "P")
    img.putpalette(pal)
    return img, lambda name: _UI[name][0]


def _rgb_map(style: Style, lay: Layout, d: np.ma.MaskedArray | None) -> tuple[Image.Image, Ink]:
    """A frame's background and map in RGB (composites; quantised later, over all frames)."""
    frame = np.empty((lay.height, lay.width, 3), np.uint8)
    frame[:] = _UI["nodata"][1]
    frame[lay.map_h :] = _UI["strip"][1]
    if d is not None and not np.ma.getmaskarray(d).all():
        rgba = style.rgba(d).astype(np.uint16)
        a = rgba[..., 3:4]
        bg = np.array(_UI["nodata"][1], np.uint16)
        blended = (rgba[..., :3] * a + bg * (255 - a)) // 255
        frame[: lay.map_h, lay.map_x : lay.map_x + lay.map_w] = blended.astype(np.uint8)
    return Image.fromarray(frame, "RGB"), lambda name: _UI[name][1]


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    """``text``, cut with "…" to fit ``width`` px."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _draw_label(draw: ImageDraw.ImageDraw, lay: Layout, text: str, ink: Ink) -> None:
    font = _font(lay.big)
    x0, y0 = lay.map_x + lay.pad, lay.pad
    stroke = max(1, lay.big // 16)
    left, top, right, bottom = draw.textbbox((x0, y0), text, font=font, stroke_width=stroke)
    m = max(2, lay.big // 6)
    draw.rounded_rectangle((left - m, top - m, right + m, bottom + m), radius=m, fill=ink("dark"))
    draw.text(
        (x0, y0), text, font=font, fill=ink("text"), stroke_width=stroke, stroke_fill=ink("dark")
    )


def _draw_nodata(draw: ImageDraw.ImageDraw, lay: Layout, ink: Ink, text: str) -> None:
    font = _font(max(10, lay.big // 2))
    cx, cy = lay.map_x + lay.map_w / 2, lay.map_h / 2
    left, top, right, bottom = draw.textbbox((cx, cy), text, font=font, anchor="mm")
    m = max(2, lay.small // 2)
    draw.rectangle((left - m, top - m, right + m, bottom + m), fill=ink("dark"))
    draw.text((cx, cy), text, font=font, fill=ink("text"), anchor="mm")


def _fmt_value(v: float) -> str:
    return f"{v:.3g}"


def _draw_legend(
    draw: ImageDraw.ImageDraw,
    img: Image.Image,
    lay: Layout,
    style: Style,
    ink: Ink,
    present: set[int],
    paletted: bool,
    words: Words,
) -> None:
    font = _font(lay.small, bold=False)
    cy = lay.map_h + lay.pad + round(lay.small * 1.8) / 2
    if style.kind == "continuous":
        _draw_colour_bar(draw, img, lay, style, ink, paletted, words)
    elif style.kind == "rgb":
        text = words.summary or (
            f"{style.label}, reflectance {_fmt_value(style.vmin)}–{_fmt_value(style.vmax)}"
        )
        draw.text(
            (lay.pad, cy),
            _fit(draw, text, font, lay.width - 2 * lay.pad),
            font=font,
            fill=ink("text"),
            anchor="lm",
        )
    else:
        _draw_classes(draw, lay, style, ink, present, paletted, words)


def _draw_colour_bar(
    draw: ImageDraw.ImageDraw,
    img: Image.Image,
    lay: Layout,
    style: Style,
    ink: Ink,
    paletted: bool,
    words: Words,
) -> None:
    """Low end, the colour map as a bar, high end, and the picture's name (the ends in words
    where the product has them, else the values and the band's units)."""
    font = _font(lay.small, bold=False)
    row = round(lay.small * 1.8)
    cy = lay.map_h + lay.pad + row / 2
    x, right = lay.pad, lay.width - lay.pad
    units = "" if style.units in ("", "1") else f" ({style.units})"
    lo, hi = _fmt_value(style.vmin), _fmt_value(style.vmax)
    if words.low and words.high:
        lo, hi = words.low, words.high
    name = words.title or style.label + units
    title = _fit(draw, name, font, max(20, (right - x) // 3))
    wlo, whi, wt = (draw.textlength(t, font=font) for t in (lo, hi, title))
    gap = lay.pad
    bar0, bar1 = int(x + wlo + gap), int(right - wt - 2 * gap - whi)
    draw.text((x, cy), lo, font=font, fill=ink("text"), anchor="lm")
    if bar1 - bar0 >= 8:
        bh = max(4, round(row * 0.55))
        top = int(cy - bh / 2)
        n = bar1 - bar0
        assert style.lut is not None
        if paletted:
            idx = np.rint(np.linspace(0, _RAMP - 1, n)).astype(np.uint8)
            bar = Image.fromarray(np.repeat(idx[None, :], bh, axis=0), "P")
            img.paste(bar, (bar0, top))  # same palette: indices are copied as they are
        else:
            cols = style.lut[np.rint(np.linspace(0, 255, n)).astype(int), :3]
            img.paste(Image.fromarray(np.repeat(cols[None], bh, axis=0), "RGB"), (bar0, top))
        draw.rectangle((bar0 - 1, top - 1, bar1, top + bh), outline=ink("edge"))
        draw.text((bar1 + gap, cy), hi, font=font, fill=ink("text"), anchor="lm")
    draw.text((right, cy), title, font=font, fill=ink("dim"), anchor="rm")


def _draw_classes(
    draw: ImageDraw.ImageDraw,
    lay: Layout,
    style: Style,
    ink: Ink,
    present: set[int],
    paletted: bool,
    words: Words,
) -> None:
    """A swatch and a name per class present in the frames, in rows; "…" when they run out."""
    font = _font(lay.small, bold=False)
    row = round(lay.small * 1.8)
    y = lay.map_h + lay.pad
    cy = y + row / 2
    x, right = lay.pad, lay.width - lay.pad
    names = words.classes or {}
    shown = [
        (c, names.get(c, n), i)
        for i, (c, n, _) in enumerate(style.classes)
        if not present or c in present
    ]
    sw = max(6, round(lay.small * 0.9))
    r = 0
    for _code, name, i in shown:
        w = sw + 4 + draw.textlength(name, font=font) + lay.pad * 2
        if x + w > right and x > lay.pad:  # next row, or "…" when the rows are full
            if r + 1 >= lay.rows:
                draw.text((x, cy), "…", font=font, fill=ink("text"), anchor="lm")
                break
            r, x = r + 1, lay.pad
            cy = y + row * r + row / 2
        fill = i if paletted else style.classes[i][2][:3]
        draw.rectangle(
            (x, int(cy - sw / 2), x + sw, int(cy + sw / 2)), fill=fill, outline=ink("edge")
        )
        draw.text(
            (x + sw + 4, cy),
            _fit(draw, name, font, right - x - sw - 4),
            font=font,
            fill=ink("text"),
            anchor="lm",
        )
        x += int(w)
