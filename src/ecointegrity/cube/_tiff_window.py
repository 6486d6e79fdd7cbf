"""Windowed reads of local tiled GeoTIFFs (COGs) through tifffile and imagecodecs.

Reading the sources costs the mosaic pipeline as much as the geomedian (Landsat Collection 2
COGs are DEFLATE with the horizontal predictor). GDAL's GeoTIFF driver decodes them through
libtiff's zlib path; imagecodecs decodes the same tiles with libdeflate and undoes the
predictor in C, without the GIL: 2.0x rasterio's speed on a tile-year of sources, the same
pixels (``benchmarks/cog_io.py``).

Only the simple case is taken: a local file whose first image is tiled, one sample per pixel,
of the expected dtype and nodata. Anything else (a remote URL, strips, several samples, an
unknown codec) returns False and the caller reads the file with rasterio as before.
"""

from __future__ import annotations

import math
from urllib.parse import urlparse

import numpy as np
import tifffile

from .errors import CorruptFileError

__all__ = ["read_tiff_window", "local_path", "same_nodata"]


def local_path(href: str) -> str | None:
    """The filesystem path of a local ``href`` (a path or a file:// URL); None for others."""
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and href[1:3] in (":\\", ":/")):
        return href  # a plain path (a one-letter "scheme" is a Windows drive)
    return None


def read_tiff_window(
    path: str, rows: tuple[int, int], cols: tuple[int, int], out: np.ndarray,
    nodata: float | None,
) -> bool:
    """Read band 1 of ``path`` over ``rows`` x ``cols`` (half-open) into ``out``.

    Returns False, having written nothing, when the file is not a case this reader takes
    (see the module's docstring) or its nodata differs from ``nodata``; the caller then reads
    it another way. A tile that does not decode raises :class:`CorruptFileError` naming the
    file and the rows of the tile.
    """
    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError):
        return False  # not a TIFF tifffile understands: GDAL may still read it
    with tif:
        page = tif.pages.first
        if (
            not page.is_tiled
            or page.samplesperpixel != 1
            or page.imagedepth != 1
            or page.dtype != out.dtype
            or not same_nodata(_gdal_nodata(page), nodata)
            or rows[1] > page.imagelength
            or cols[1] > page.imagewidth
        ):
            return False
        try:
            decode = page.decode  # raises for a codec imagecodecs lacks
        except (tifffile.TiffFileError, ValueError, NotImplementedError):
            return False
        tile_h, tile_w = page.tilelength, page.tilewidth
        across = math.ceil(page.imagewidth / tile_w)
        handle = tif.filehandle
        for tile_row in range(rows[0] // tile_h, (rows[1] - 1) // tile_h + 1):
            y0 = tile_row * tile_h
            ys, ye = max(rows[0], y0), min(rows[1], y0 + tile_h)
            for tile_col in range(cols[0] // tile_w, (cols[1] - 1) // tile_w + 1):
                x0 = tile_col * tile_w
                xs, xe = max(cols[0], x0), min(cols[1], x0 + tile_w)
                index = tile_row * across + tile_col
                target = out[ys - rows[0] : ye - rows[0], xs - cols[0] : xe - cols[0]]
                size = page.databytecounts[index]
                if size == 0:  # a sparse tile: GDAL reads it as nodata (or 0 without one)
                    target[...] = nodata if nodata is not None else 0
                    continue
                handle.seek(page.dataoffsets[index])
                try:
                    tile, _, shape = decode(handle.read(size), index)
                except Exception as exc:  # noqa: BLE001 - any codec failure is damaged data
                    raise CorruptFileError(
                        path, f"damaged data in rows {y0}-{y0 + tile_h - 1} ({exc})"
                    ) from None
                if tile is None:  # nothing stored for the tile: as a sparse one
                    target[...] = nodata if nodata is not None else 0
                    continue
                tile = tile.reshape(shape[1], shape[2])
                target[...] = tile[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return True


def _gdal_nodata(page: tifffile.TiffPage) -> float | None:
    tag = page.tags.get("GDAL_NODATA")
    if tag is None:
        return None
    text = str(tag.value).strip("\x00 ")
    try:
        return float(text)
    except ValueError:
        return math.nan if text.lower() == "nan" else None


def same_nodata(a: float | None, b: float | None) -> bool:
    """Whether two nodata values are the same (NaN equals NaN; None only None)."""
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b or (math.isnan(a) and math.isnan(b)))
