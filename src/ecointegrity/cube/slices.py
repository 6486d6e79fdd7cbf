"""Slices: one band of a product over a region and a run of years, as a (year, y, x) stack.

The stack is on the product's own grid (the CRS, resolution and pixel alignment of its
items), so a slice's pixels are the product's pixels, not a resampling of them. A slice asked
at a coarser resolution is read from the product's coarsest overview level no coarser than it
(:mod:`.overviews`): a state over thirty years reads a few files per year, not every tile. Writers for
the two file formats a slice is delivered in (GeoTIFF, a band per year; NetCDF) sit at the edge.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.geom import box
from odc.geo.xr import xr_coords

from .catalog import LocalCatalog
from .cog import write_cog
from .errors import NoDataError
from .load import native_geobox
from .overviews import overview_levels
from .products import read_product

__all__ = [
    "item_years",
    "product_grid",
    "read_slice",
    "slice_geobox",
    "slice_to_geotiff",
    "slice_to_netcdf",
]


def item_years(item: pystac.Item) -> list[int]:
    """Calendar years an item covers (an annual item: one).

    An interval that ends exactly at midnight on 1 January ends with the year before.
    """
    props = item.properties
    start = props.get("start_datetime") or props.get("datetime")
    if start is None:
        return []
    end = props.get("end_datetime") or start
    s, e = pystac.utils.str_to_datetime(str(start)), pystac.utils.str_to_datetime(str(end))
    new_year = (e.month, e.day, e.hour, e.minute, e.second, e.microsecond) == (1, 1, 0, 0, 0, 0)
    last = e.year - 1 if new_year and e.year > s.year else e.year
    return list(range(s.year, last + 1))


def product_grid(
    catalog: LocalCatalog, product: str, bbox: Sequence[float] | None = None
) -> GeoBox:
    """The pixel grid of a product's item (one meeting the lon/lat ``bbox`` when there is one).

    Raises:
        NoDataError: the product has no item, or its items carry no projection extension.
    """
    items = (catalog.items(product, bbox=bbox) if bbox is not None else []) or catalog.items(
        product
    )
    if not items:
        raise NoDataError(f"product {product!r} has no items")
    grid = native_geobox(items[:1])
    if grid is None:
        raise NoDataError(
            f"the items of {product!r} do not say their grid "
            "(proj:code, proj:shape, proj:transform)"
        )
    return grid


def slice_geobox(
    catalog: LocalCatalog,
    product: str,
    bbox: Sequence[float],
    resolution: float | None = None,
) -> GeoBox:
    """The pixel grid covering a lon/lat ``bbox`` (west, south, east, north) on the product's grid.

    Same CRS, resolution and pixel alignment as the product's items: pixels are never resampled.
    ``resolution`` (CRS units, e.g. 480): a coarser grid with the same alignment; a multiple of
    the product's by a power of 4 is exactly one of its overview levels.
    """
    grid = product_grid(catalog, product, bbox)
    west, south, east, north = bbox
    if grid.crs is None:
        raise NoDataError(f"the items of {product!r} have no CRS")
    native = box(west, south, east, north, "epsg:4326").to_crs(grid.crs).boundingbox
    res = grid.resolution
    if resolution is not None and resolution > abs(res.x):
        # anchored at the CRS's origin, as the national grids and their overview levels are
        return GeoBox.from_bbox(native, grid.crs, resolution=float(resolution))
    return GeoBox.from_bbox(native, grid.crs, resolution=res, anchor=grid.anchor)


def read_slice(
    catalog: LocalCatalog, product: str, band: str, years: Sequence[int], geobox: GeoBox
) -> xr.DataArray:
    """One band of a product on ``geobox`` for each year that has data there.

    Args:
        catalog: the product catalog.
        product: the product (a collection with a product spec).
        band: one of its bands.
        years: the years asked for.
        geobox: the pixel grid (see :func:`slice_geobox`).
    Returns:
        A float32 (year, y, x) DataArray named ``band``, physical values, NaN where missing;
        years without data over ``geobox`` are left out (no year at all: a zero-length axis).
    """
    arrays = {}
    source = _source(catalog, product, abs(geobox.resolution.x))
    for year in years:
        try:
            arrays[int(year)] = read_product(catalog, source, int(year), geobox, [band])[band]
        except NoDataError:
            if source == product:
                continue
            try:  # an overview level without this year: the product's own tiles
                arrays[int(year)] = read_product(catalog, product, int(year), geobox, [band])[band]
            except NoDataError:
                continue
    if not arrays:
        empty = np.empty((0, *geobox.shape), np.float32)
        coords = {
            "year": np.array([], dtype=int),
            **xr_coords(geobox, crs_coord_name="spatial_ref"),
        }
        return xr.DataArray(empty, dims=("year", "y", "x"), coords=coords, name=band)
    stack = xr.concat(list(arrays.values()), dim="year").assign_coords(year=list(arrays))
    stack.name = band
    return stack


def _source(catalog: LocalCatalog, product: str, resolution: float) -> str:
    """The collection to read pixels of ``resolution`` from: the coarsest overview level no
    coarser than them, or the product itself."""
    best = product
    for level in overview_levels(catalog, product):
        if level.resolution <= resolution * (1 + 1e-6):
            best = level.collection
    return best


def slice_to_netcdf(stack: xr.DataArray, product: str, geobox: GeoBox) -> bytes:
    """NetCDF (classic, by scipy) of a slice; its CRS (WKT) and affine transform as attributes."""
    data = stack.to_dataset().drop_vars("spatial_ref", errors="ignore")
    wkt = geobox.crs.to_wkt() if geobox.crs is not None else ""
    data.attrs.update(product=product, crs=wkt, transform=list(geobox.affine)[:6])
    return bytes(data.to_netcdf(engine="scipy"))


def slice_to_geotiff(
    stack: xr.DataArray, geobox: GeoBox, scratch_dir: str | os.PathLike | None = None
) -> bytes:
    """A float32 COG of a slice, one band per year (named by the year).

    The file is written (atomically) in a private folder under ``scratch_dir`` (default: the
    system's temporary folder) and removed once read.
    """
    if scratch_dir is not None:
        Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".slice-", dir=scratch_dir) as tmp:
        path = Path(tmp) / "slice.tif"
        years = [str(int(y)) for y in stack["year"].values]
        write_cog(path, stack.values.astype(np.float32), geobox, band_names=years)
        return path.read_bytes()
