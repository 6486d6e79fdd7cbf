"""Eager reads of pixel-aligned sources straight into numpy: the common case of the mosaic
pipeline (tiles of a grid the items were ingested on, one scene a date).

``odc.stac.load(chunks=None)`` handles every case (reprojection, scenes fused by solar day,
partial cover), and so first fills each output with nodata, enters a GDAL environment per read
and fuses dates: about a third of its time on aligned sources, where a windowed read into the
output is all there is to do. This module does only that, and declines (returns None) as soon
as any source is not a plain windowed read, so the caller falls back to odc-stac. The layout,
coordinates and attributes come from odc-stac's own lazy result, so both agree exactly.

Each window of a local tiled GeoTIFF is decoded by :mod:`._tiff_window` (libdeflate through
imagecodecs, 2.0x GDAL's speed on DEFLATE COGs: ``benchmarks/cog_io.py``); other files
(remote URLs, strips) by rasterio.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pystac
import rasterio
import xarray as xr
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from rasterio.windows import Window

from ._tiff_window import local_path, read_tiff_window, same_nodata

__all__ = ["read_aligned"]


class _NotAligned(Exception):
    """A source is not a plain windowed read of the output grid."""


def read_aligned(
    items: Sequence[pystac.Item],
    lazy: xr.Dataset,
    geobox: GeoBox | None,
    threads: int,
    into: Mapping[str, np.ndarray] | None = None,
) -> xr.Dataset | None:
    """``lazy`` (odc-stac's dask result for ``items`` on ``geobox``) read into numpy, or None
    when a source is not on the grid, several items share a date, or an item does not cover
    ``geobox`` whole.

    ``into`` gives the arrays some variables are read into (of their shape and dtype, e.g.
    the slices of one stack); the others get their own."""
    if geobox is None or "time" not in lazy.dims:
        return None
    by_time: dict[np.datetime64, pystac.Item] = {}
    for item in items:
        if item.datetime is None:
            return None
        when = np.datetime64(item.datetime.astimezone(dt.UTC).replace(tzinfo=None), "ns")
        if when in by_time:
            return None  # odc-stac fuses the scenes of one date
        by_time[when] = item
    times = lazy.time.values
    if len(times) != len(by_time) or any(t not in by_time for t in times):
        return None
    out: dict[str, np.ndarray] = {}
    jobs = []
    try:
        for name, var in lazy.data_vars.items():
            arr = (into or {}).get(str(name))
            if arr is None:
                arr = np.empty(var.shape, var.dtype)
            elif arr.shape != var.shape or arr.dtype != var.dtype:
                raise ValueError(
                    f"{name}: array {arr.shape} {arr.dtype} for {var.shape} {var.dtype}"
                )
            out[str(name)] = arr
            nodata = var.attrs.get("nodata")
            for i, t in enumerate(times):
                asset = by_time[t].assets.get(str(name))
                if asset is None:
                    return None
                jobs.append((asset.get_absolute_href(), _window(by_time[t], asset, geobox),
                             arr[i], nodata))
        per_thread = [jobs[k::threads] for k in range(threads)]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(_read_all, per_thread))
    except _NotAligned:
        return None
    return xr.Dataset(
        {name: (var.dims, out[str(name)], var.attrs) for name, var in lazy.data_vars.items()},
        coords=lazy.coords,
        attrs=lazy.attrs,
    )


def _read_all(jobs: list[tuple[str, Window, np.ndarray, float | None]]) -> None:
    # one GDAL environment per thread, not per file
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        for href, window, dst, nodata in jobs:
            path = local_path(href)
            (r0, r1), (c0, c1) = window.toranges()
            if path is not None and read_tiff_window(path, (r0, r1), (c0, c1), dst, nodata):
                continue
            with rasterio.open(href) as src:
                if src.count != 1 or src.dtypes[0] != dst.dtype.name or not same_nodata(
                    src.nodata, nodata
                ):
                    raise _NotAligned(href)
                src.read(1, window=window, out=dst)


def _window(item: pystac.Item, asset: pystac.Asset, geobox: GeoBox) -> Window:
    """The window of ``asset`` that is exactly ``geobox``; raises _NotAligned otherwise."""
    props = {**item.properties, **asset.extra_fields}
    transform, shape = props.get("proj:transform"), props.get("proj:shape")
    code = props.get("proj:code") or (f"EPSG:{props['proj:epsg']}" if props.get("proj:epsg") else None)
    if not (transform and shape and code) or geobox.crs is None:
        raise _NotAligned(item.id)
    a, b, c, d, e, f = transform[:6]
    g = geobox.affine
    if b or d or g.b or g.d or a != g.a or e != g.e or CRS(code) != geobox.crs:
        raise _NotAligned(item.id)
    col, row = (g.c - c) / a, (g.f - f) / e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise _NotAligned(item.id)
    col, row = round(col), round(row)
    height, width = geobox.shape
    if col < 0 or row < 0 or row + height > shape[0] or col + width > shape[1]:
        raise _NotAligned(item.id)
    return Window(col, row, width, height)
