"""Animated GIF and WebP from frames: timing, the held last frame, looping."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image

from .errors import InvalidRequest

__all__ = ["encode_gif", "encode_webp", "frame_durations"]


def frame_durations(n: int, fps: float, hold_last_s: float) -> list[int]:
    """Milliseconds per frame: ``1/fps`` s each, the last ``hold_last_s`` longer."""
    if n < 1:
        raise InvalidRequest("an animation needs at least one year")
    if not 0 < fps <= 50:
        raise InvalidRequest(f"fps {fps} must be within (0, 50]")
    if not 0 <= hold_last_s <= 60:
        raise InvalidRequest(f"hold_last_s {hold_last_s} must be within 0..60 s")
    # GIF stores hundredths of a second
    each = max(20, int(round(100 / fps)) * 10)
    out = [each] * n
    out[-1] += int(round(hold_last_s * 100)) * 10
    return out


def encode_gif(frames: Sequence[Image.Image], durations: Sequence[int]) -> bytes:
    """An animated GIF looping forever; the frames share the first frame's palette."""
    buf = io.BytesIO()
    # The shared palette as the file's global colour table: without it Pillow writes a
    # local table into every frame after the first.
    frames[0].save(
        buf,
        "GIF",
        save_all=True,
        append_images=list(frames[1:]),
        duration=list(durations),
        loop=0,
        optimize=False,
        disposal=1,
        palette=bytes(frames[0].getpalette() or []),
    )
    return buf.getvalue()


def encode_webp(
    frames: Sequence[Image.Image], durations: Sequence[int], quality: int = 85
) -> bytes:
    """An animated WebP looping forever (full colour, smaller than the GIF)."""
    rgb = [f.convert("RGB") for f in frames]
    buf = io.BytesIO()
    rgb[0].save(
        buf,
        "WEBP",
        save_all=True,
        append_images=rgb[1:],
        duration=list(durations),
        loop=0,
        quality=quality,
        method=4,
    )
    return buf.getvalue()
