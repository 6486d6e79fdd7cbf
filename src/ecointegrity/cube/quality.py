"""Data availability: how many clear observations each pixel has in a period.

The first question before any composite ("is there enough clear sky here?"), and the first
product of the tile-wise chain: :class:`ClearCountTask` loads a tile, summarises it and
(optionally) writes it to the product catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pystac
import xarray as xr

from .catalog import LocalCatalog
from .grids import Tile
from .load import load
from .products import ProductBand, ProductSpec, write_product
from .timerange import TimeRange

__all__ = ["CLEAR_OBSERVATIONS", "clear_observations", "ClearCountTask"]

CLEAR_OBSERVATIONS = ProductSpec(
    name="clear_observations",
    title="Clear observations",
    description="Number and share of clear-sky observations per pixel and period (data "
    "availability).",
    bands=(
        ProductBand(
            "clear_count",
            "uint16",
            nodata=65535,
            units="observations",
            description="clear observations",
        ),
        ProductBand(
            "clear_fraction",
            "uint8",
            nodata=255,
            scale=0.01,
            units="1",
            description="clear / acquisitions",
        ),
    ),
    colormap="viridis",
    value_range=(0, 30),
)


def clear_observations(ds: xr.Dataset, band: str | None = None) -> xr.Dataset:
    """Clear-observation count and fraction over ``time`` (NaN marks not clear).

    Args:
        ds: (time, y, x) reflectance as returned by :func:`ecointegrity.cube.load`.
        band: the variable whose NaNs mark not-clear; default the first one.
    """
    var = ds[band or next(iter(ds.data_vars))]
    count = var.notnull().sum("time").astype(np.uint16)
    fraction = (count / max(var.sizes["time"], 1)).astype(np.float32)
    out = xr.Dataset({"clear_count": count, "clear_fraction": fraction})
    return out.assign_coords(spatial_ref=ds.spatial_ref) if "spatial_ref" in ds.coords else out


@dataclass(frozen=True)
class ClearCountTask:
    """Picklable tile task: load one tile, summarise clear observations, optionally write it.

    Runs the same in this process and on a Dask worker (it carries catalog locations, not
    open handles).
    """

    catalog: str
    collection: str
    period: TimeRange
    products: str | None = None
    band: str = "red"

    def __call__(self, tile: Tile) -> xr.Dataset | pystac.Item:
        ds = load(self.catalog, self.collection, [self.band], self.period, geobox=tile.geobox)
        summary = clear_observations(ds).compute()
        if self.products is None:
            return summary
        return write_product(
            LocalCatalog(self.products),
            CLEAR_OBSERVATIONS,
            tile,
            self.period,
            summary,
            register=False,
        )
