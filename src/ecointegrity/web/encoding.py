"""Pictures to bytes: PNG (RGBA or paletted), WebP and JPEG, tuned for tiles."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .errors import InvalidRequest

__all__ = ["MEDIA_TYPES", "encode", "encode_paletted", "image_format"]

MEDIA_TYPES: dict[str, str] = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}
_FORMAT_ALIASES = {
    "png": "png",
    "image/png": "png",
    "webp": "webp",
    "image/webp": "webp",
    "jpeg": "jpeg",
    "jpg": "jpeg",
    "image/jpeg": "jpeg",
}


def image_format(fmt: str, allowed: Sequence[str] = ("png", "webp", "jpeg")) -> str:
    """The format's short name (``png``, ``webp``, ``jpeg``) from a name or media type."""
    f = _FORMAT_ALIASES.get(str(fmt).lower())
    if f is None or f not in allowed:
        raise InvalidRequest(f"format {fmt!r} is not served; use one of: {', '.join(allowed)}")
    return f


def encode(rgba: np.ndarray, fmt: str, *, lossless: bool = False, quality: int = 85) -> bytes:
    """(h, w, 4) or (h, w, 3) uint8 -> PNG, WebP (lossy unless ``lossless``) or JPEG bytes.

    JPEG has no alpha: transparent pixels become white.
    """
    fmt = image_format(fmt)
    arr = np.ascontiguousarray(rgba, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidRequest(f"expected an (h, w, 4) or (h, w, 3) array, not {arr.shape}")
    buf = io.BytesIO()
    if fmt == "jpeg":
        if arr.shape[2] == 4:
            alpha = arr[..., 3:4].astype(np.uint16)
            arr = ((arr[..., :3] * alpha + 255 * (255 - alpha)) // 255).astype(np.uint8)
        Image.fromarray(arr, "RGB").save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    img = Image.fromarray(arr, "RGBA" if arr.shape[2] == 4 else "RGB")
    if fmt == "png":
        # Level 1: a tile compresses to about the same size in a fraction of the time.
        img.save(buf, "PNG", compress_level=1)
    else:
        # method 0: the fastest encoder setting; a tile is re-encoded far more often than it
        # is looked at closely
        img.save(buf, "WEBP", lossless=lossless, quality=quality if not lossless else 100, method=0)
    return buf.getvalue()


def encode_paletted(idx: np.ndarray, palette: np.ndarray) -> bytes:
    """(h, w) palette indices and a (256, 4) RGBA palette -> paletted PNG bytes.

    A paletted PNG encodes ten times faster than RGBA and is smaller.
    """
    img = Image.fromarray(idx, "P")
    img.putpalette(palette[:, :3].tobytes())
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1, transparency=palette[:, 3].tobytes())
    return buf.getvalue()
