"""STAC items for rasters on a GeoBox, with the projection, raster and eo extensions.

The projection extension is what lets odc-stac load an item without opening its files first;
the raster extension carries nodata/scale/offset per asset, which loading honours item by item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pystac
from odc.geo.geobox import GeoBox
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, NoDataStrings, RasterBand, RasterExtension

from .grids import grid_crs

__all__ = ["AssetSpec", "raster_item"]

_COMMON_NAMES = {
    "coastal",
    "blue",
    "green",
    "red",
    "yellow",
    "pan",
    "rededge",
    "nir",
    "nir08",
    "nir09",
    "cirrus",
    "swir16",
    "swir22",
    "lwir",
    "lwir11",
    "lwir12",
}
_SWIR = {"swir1": "swir16", "swir2": "swir22"}


@dataclass(frozen=True)
class AssetSpec:
    """One file of an item: where it is and how to read its values."""

    href: str
    dtype: str
    nodata: float | int | None = None
    scale: float | None = None
    offset: float | None = None
    common_name: str | None = None
    roles: tuple[str, ...] = ("data",)
    title: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def raster_item(
    item_id: str,
    when: dt.datetime | tuple[dt.datetime, dt.datetime],
    geobox: GeoBox,
    assets: Mapping[str, AssetSpec],
    properties: Mapping[str, Any] | None = None,
) -> pystac.Item:
    """A STAC item whose assets all share one pixel grid.

    Args:
        item_id: unique id within its collection.
        when: acquisition time, or a (start, end) interval for composites.
        geobox: the assets' pixel grid.
        assets: asset key -> file and value description.
        properties: extra item properties.
    Returns:
        The item, with proj:*, raster:bands and eo:bands filled in.
    """
    crs = grid_crs(geobox, f"item {item_id}")
    footprint = geobox.footprint("epsg:4326", npoints=8)
    props: dict[str, Any] = dict(properties or {})
    if isinstance(when, tuple):
        start, end = (_utc(t) for t in when)
        props["start_datetime"] = pystac.utils.datetime_to_str(start)
        props["end_datetime"] = pystac.utils.datetime_to_str(end)
        item_time = None
    else:
        item_time = _utc(when)
    item = pystac.Item(
        id=item_id,
        geometry=footprint.json,
        bbox=list(footprint.boundingbox),
        datetime=item_time,
        properties=props,
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    if crs.epsg is not None:
        proj.code = f"EPSG:{crs.epsg}"
    else:
        proj.wkt2 = crs.to_wkt()
    proj.shape = list(geobox.shape)
    proj.transform = list(geobox.affine)[:6]
    RasterExtension.add_to(item)
    EOExtension.add_to(item)

    for key, spec in assets.items():
        asset = pystac.Asset(
            href=spec.href,
            media_type=pystac.MediaType.COG,
            roles=list(spec.roles),
            title=spec.title or key,
            extra_fields=dict(spec.extra),
        )
        item.add_asset(key, asset)
        band = RasterBand.create(
            data_type=DataType(np.dtype(spec.dtype).name),
            # pystac types nodata as float | NoDataStrings, yet the raster extension's JSON
            # (and pystac reading it back) holds the plain string "nan": we keep writing that.
            nodata=cast("float | NoDataStrings | None", _json_nodata(spec.nodata)),
            scale=spec.scale,
            offset=spec.offset,
        )
        RasterExtension.ext(asset).apply([band])
        common = _SWIR.get(spec.common_name or "", spec.common_name)
        if common in _COMMON_NAMES:
            EOExtension.ext(asset).bands = [Band.create(name=key, common_name=common)]
    return item


def _json_nodata(value: float | int | None) -> float | int | str | None:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return "nan"
    return value


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
