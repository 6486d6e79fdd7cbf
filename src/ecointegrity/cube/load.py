"""Load a collection into a lazy (time, y, x) Dataset of float32 reflectance, NaN where not
clear."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import dask.array as da
import numpy as np
import odc.stac
import pandas as pd
import pystac
import xarray as xr
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from pystac.extensions.raster import RasterExtension

from ._aligned_read import read_aligned
from .catalog import Catalog, open_catalog
from .errors import MissingBandError, NoDataError
from .observations import Decoding, Observations
from .sensors import (
    SensorProfile,
    clean_mask,
    harmonisation_coefficients,
    harmonise,
    sentinel2_offset,
)
from .timerange import TimeRange, to_time_range

__all__ = ["load", "load_observations", "native_geobox", "band_stack"]

DEFAULT_CHUNKS = {"time": 1, "y": 2048, "x": 2048}


def load(
    catalog: Catalog | str | os.PathLike,
    collection: str,
    bands: Sequence[str] | None = None,
    time: TimeRange | str | int | tuple | None = None,
    *,
    geobox: GeoBox | None = None,
    bbox: Sequence[float] | None = None,
    crs: str | CRS | None = None,
    resolution: float | None = None,
    chunks: dict[str, int] | None = None,
    mask: bool = True,
    mask_open_px: int = 0,
    mask_buffer_px: int = 0,
    groupby: str = "solar_day",
    eager: bool = False,
    items: Sequence[pystac.Item] | None = None,
) -> xr.Dataset:
    """Clear-sky reflectance of a collection on a pixel grid.

    Args:
        catalog: a catalog object, folder, catalog.json or STAC API URL.
        collection: collection id.
        bands: common band names (``red``, ``nir``...) or asset keys; default all the
            profile's bands present in the items.
        time: time range (``2019``, ``"2019/2021"``, ``("2019-03-01", "2019-06-30")``).
        geobox: output pixel grid. Otherwise ``bbox`` (lon/lat) + ``crs`` + ``resolution``;
            with none of them, the items' own grid (when they share one).
        chunks: dask chunks; default one date per chunk, 2048 px tiles.
        mask: set not-clear observations (per the sensor's quality band) to NaN.
        mask_open_px, mask_buffer_px: morphological clean-up of the clear mask.
        groupby: ``"solar_day"`` fuses scenes of one overpass; ``"time"`` keeps every item.
        eager: read now, into numpy (no dask graph): :func:`load_observations`, turned into
            reflectance in one pass, straight into one (band, time, y, x) float32 buffer whose
            slices are the variables (see :func:`band_stack`).
        items: the items of ``collection`` for this time and area, when the caller has them
            already (saves the catalog query: the pipeline loads a tile in several blocks).
    Returns:
        Dataset (time, y, x) of float32 variables named by common band name, dask-backed
        (numpy-backed if ``eager``), with ``spatial_ref``; bands stored in physical units
        already (indices) are kept as is.
    Raises:
        NoDataError: nothing matches the collection, time and area.
        MissingBandError: a band is neither in the sensor profile nor in the items.
    """
    if eager:
        return load_observations(
            catalog, collection, bands, time, geobox=geobox, bbox=bbox, crs=crs,
            resolution=resolution, mask=mask, mask_open_px=mask_open_px,
            mask_buffer_px=mask_buffer_px, groupby=groupby, items=items,
        ).reflectance()
    source = _Source.open(catalog, collection, bands, time, geobox, bbox, crs, resolution,
                          mask, groupby, items)
    raw = source.odc_load(chunks or DEFAULT_CHUNKS)
    source.check_dates(raw)
    profile, plan = source.profile, source.plan
    clear = _clear_mask(raw, profile, mask_open_px, mask_buffer_px) if plan.masked else None
    out = {}
    for name, key in zip(source.names, plan.assets, strict=True):
        out[name] = _reflectance(raw, source.items, key, profile, clear)
    platforms = _item_platforms(source.items, raw.time.values) if profile.harmonise else None
    for name in out if platforms is not None else ():  # one bandpass: sensors.HARMONISATION
        out[name] = out[name].copy(data=harmonise(out[name].data, platforms, name))
    return xr.Dataset(out, coords=raw.coords, attrs=source.attrs)


def load_observations(
    catalog: Catalog | str | os.PathLike,
    collection: str,
    bands: Sequence[str] | None = None,
    time: TimeRange | str | int | tuple | None = None,
    *,
    geobox: GeoBox | None = None,
    bbox: Sequence[float] | None = None,
    crs: str | CRS | None = None,
    resolution: float | None = None,
    mask: bool = True,
    mask_open_px: int = 0,
    mask_buffer_px: int = 0,
    groupby: str = "solar_day",
    items: Sequence[pystac.Item] | None = None,
) -> Observations:
    """Read now, as stored: the counts of ``bands`` in one (band, time, y, x) buffer, with the
    clear mask and what turns them into reflectance (:class:`Observations`).

    Arguments as :func:`load`. Half the memory of an eager :func:`load` for 16-bit sources;
    ``.reflectance()`` of the result is exactly what ``load(..., eager=True)`` returns. Sources
    on the output grid (one scene a date, covering it whole) are read by a thread pool
    straight into the buffer; anything else through odc-stac.
    """
    source = _Source.open(catalog, collection, bands, time, geobox, bbox, crs, resolution,
                          mask, groupby, items)
    profile, plan, items = source.profile, source.plan, source.items
    threads = os.cpu_count() or 1  # GDAL and imagecodecs decode outside the GIL
    lazy = source.odc_load({})
    source.check_dates(lazy)
    first = {key: i for i, key in reversed(list(enumerate(plan.assets)))}
    counts = np.empty(
        (len(plan.assets), *lazy[plan.assets[0]].shape),
        np.result_type(*(lazy[key].dtype for key in first)),
    )
    into = {key: counts[i] for key, i in first.items() if lazy[key].dtype == counts.dtype}
    raw = read_aligned(items, lazy, source.grid.get("geobox"), threads, into)
    if raw is None:
        raw = source.odc_load(None, threads)
        into = {}
    for i, key in enumerate(plan.assets):
        if key not in into or first[key] != i:  # read elsewhere, or a band asked twice
            counts[i] = raw[key].values
    clear = _clear_mask_now(raw, profile, mask_open_px, mask_buffer_px) if plan.masked else None
    times = raw.time.values
    platforms = _item_platforms(items, times) if profile.harmonise else None
    nb, nt = counts.shape[:2]
    affine = np.empty((4, nb, nt), np.float32)
    nodata = np.zeros(nb, np.float64)
    has_nodata = np.zeros(nb, bool)
    for i, (name, key) in enumerate(zip(source.names, plan.assets, strict=True)):
        scale, offset = _scale_offset(items, times, key, profile)
        affine[0, i] = 1.0 if scale is None else scale
        affine[1, i] = np.broadcast_to(
            np.asarray(offset if scale is not None else 0.0, np.float32).reshape(-1), (nt,)
        )
        coef = harmonisation_coefficients(platforms if platforms is not None else [None], name)
        affine[2, i], affine[3, i] = coef[:, 0], coef[:, 1]
        value = raw[key].attrs.get("nodata")
        if value is not None and not _isnan(value):
            nodata[i], has_nodata[i] = float(value), True
    masked = np.asarray([plan.masked and key != profile.mask_band for key in plan.assets], bool)
    return Observations(
        counts=counts,
        bands=tuple(source.names),
        decoding=Decoding(affine, nodata, has_nodata, masked, clear),
        coords=raw.drop_vars(list(raw.data_vars)).coords,
        band_attrs=tuple(
            {"asset": key, "units": "1", "nodata": float("nan")} for key in plan.assets
        ),
        attrs=source.attrs,
    )


@dataclass(frozen=True)
class _Source:
    """What :func:`load` and :func:`load_observations` read: items, assets, grid."""

    profile: SensorProfile
    collection: str
    items: Sequence[pystac.Item]
    plan: _AssetPlan
    grid: dict[str, Any]
    trange: TimeRange | None
    groupby: str

    @classmethod
    def open(
        cls,
        catalog: Catalog | str | os.PathLike,
        collection: str,
        bands: Sequence[str] | None,
        time: TimeRange | str | int | tuple | None,
        geobox: GeoBox | None,
        bbox: Sequence[float] | None,
        crs: str | CRS | None,
        resolution: float | None,
        mask: bool,
        groupby: str,
        items: Sequence[pystac.Item] | None,
    ) -> _Source:
        cat = open_catalog(catalog) if isinstance(catalog, (str, os.PathLike)) else catalog
        profile = cat.sensor_profile(collection)
        trange = to_time_range(time) if time is not None else None
        query_bbox = bbox
        if query_bbox is None and geobox is not None:
            query_bbox = list(geobox.footprint("epsg:4326").boundingbox)
        if items is None:
            items = cat.items(collection, bbox=query_bbox, time=trange)
        if not items:
            raise NoDataError(
                f"no data in collection {collection!r} for time={trange or 'any'} "
                f"bbox={query_bbox or 'any'}"
            )
        plan = _plan_assets(items, profile, collection, bands, mask)
        grid = _grid_arguments(items, collection, geobox, bbox, crs, resolution)
        return cls(profile, collection, items, plan, grid, trange, groupby)

    @property
    def names(self) -> list[str]:
        """The loaded variables' names: common names for bands asked by asset key too."""
        return [
            self.profile.common_name(key) if band == key else band
            for band, key in zip(self.plan.requested, self.plan.assets, strict=True)
        ]

    @property
    def attrs(self) -> dict[str, str]:
        return {"collection": self.collection, "sensor": self.profile.name}

    def odc_load(self, chunks: dict[str, int] | None, pool: int | None = None) -> xr.Dataset:
        return odc.stac.load(
            self.items,
            bands=self.plan.load_assets,
            # odc-stac only reads ``chunks``, but types it as an (invariant) dict that may also
            # hold "auto": our dict[str, int] is a valid value that the hint does not admit
            chunks=cast("dict[str, int | Literal['auto']] | None", chunks),
            pool=pool,
            groupby=self.groupby,
            fail_on_error=True,
            **self.grid,
        )

    def check_dates(self, raw: xr.Dataset) -> None:
        if raw.sizes.get("time", 0) == 0:
            raise NoDataError(
                f"no data in collection {self.collection!r} for time={self.trange or 'any'}"
            )


@dataclass(frozen=True)
class _AssetPlan:
    """Which assets answer the requested bands, and what ``odc.stac.load`` must read."""

    requested: list[str]  # bands as asked for (common names or asset keys)
    assets: list[str]  # the asset key of each requested band
    load_assets: list[str]  # assets plus the quality band when masking
    masked: bool  # whether the clear mask applies


def _plan_assets(
    items: Sequence[pystac.Item],
    profile: SensorProfile,
    collection: str,
    bands: Sequence[str] | None,
    mask: bool,
) -> _AssetPlan:
    available = sorted({k for it in items for k in it.assets})
    if bands is not None:
        requested = list(bands)
    else:
        requested = [b for b, k in profile.bands.items() if k in available]
    assets = []
    for band in requested:
        key = profile.asset(band) if band not in available else band
        if key not in available:
            raise MissingBandError(band, f"collection {collection!r}", available)
        assets.append(key)
    mask_band = profile.mask_band if mask else None
    if mask_band is not None and mask_band not in available:
        raise MissingBandError(
            mask_band, f"collection {collection!r} (needed for the clear mask)", available
        )
    extra = [mask_band] if mask_band is not None and mask_band not in assets else []
    return _AssetPlan(requested, assets, assets + extra, mask_band is not None)


def _grid_arguments(
    items: Sequence[pystac.Item],
    collection: str,
    geobox: GeoBox | None,
    bbox: Sequence[float] | None,
    crs: str | CRS | None,
    resolution: float | None,
) -> dict[str, Any]:
    """The output grid as ``odc.stac.load`` takes it: a geobox, bbox+crs+resolution, or the
    items' own grid."""
    if geobox is not None:
        return {"geobox": geobox}
    if bbox is not None:
        if crs is None or resolution is None:
            raise ValueError("bbox needs crs and resolution too (or pass a geobox)")
        return {"bbox": tuple(bbox), "crs": crs, "resolution": resolution}
    native = native_geobox(items)
    if native is None:
        raise ValueError(
            f"items of {collection!r} are on different grids: pass geobox, or bbox+crs+resolution"
        )
    return {"geobox": native}


def _clear_mask(
    raw: xr.Dataset, profile: SensorProfile, open_px: int, buffer_px: int
) -> da.Array:
    """Lazy boolean clear mask from the quality band, cleaned up morphologically if asked."""
    qa = raw[profile.mask_band].data
    clear = da.map_blocks(profile.clear, qa, dtype=bool)
    if open_px or buffer_px:
        depth = {0: 0, 1: open_px + buffer_px, 2: open_px + buffer_px}
        clear = da.map_overlap(
            clean_mask, clear, depth=depth, boundary="none", dtype=bool,
            open_px=open_px, buffer_px=buffer_px,
        )
    return clear


def _clear_mask_now(
    raw: xr.Dataset, profile: SensorProfile, open_px: int, buffer_px: int
) -> np.ndarray:
    """The clear mask of an eager load (numpy), as :func:`_clear_mask` makes it lazily."""
    clear = np.asarray(profile.clear(raw[profile.mask_band].values), dtype=bool)
    if open_px or buffer_px:
        clear = clean_mask(clear, open_px=open_px, buffer_px=buffer_px)
    return clear


def band_stack(ds: xr.Dataset, bands: Sequence[str]) -> np.ndarray:
    """The (band, time, y, x) array of ``bands``: without a copy when the variables are the
    consecutive slices of one buffer (an eager :func:`load`), else stacked (copied)."""
    arrays = [ds[b].transpose("time", "y", "x").data for b in bands]
    base = arrays[0].base if isinstance(arrays[0], np.ndarray) else None
    if (
        isinstance(base, np.ndarray)
        and base.ndim == 4
        and base.dtype == np.float32
        and base.flags.c_contiguous
        and base.shape[1:] == arrays[0].shape
    ):
        start = base.__array_interface__["data"][0]
        slots = []
        for a in arrays:
            offset = a.__array_interface__["data"][0] - start if a.base is base else -1
            slots.append(offset // base.strides[0] if offset >= 0 else -1)
        first = slots[0]
        if first >= 0 and slots == list(range(first, first + len(arrays))):
            if all(a.flags.c_contiguous for a in arrays):
                return base[first : first + len(arrays)]
    return np.stack([np.asarray(a, dtype=np.float32) for a in arrays])


def _reflectance(
    raw: xr.Dataset,
    items: Sequence[pystac.Item],
    key: str,
    profile: SensorProfile,
    clear: da.Array | None,
) -> xr.DataArray:
    """One asset in physical units as float32, NaN for nodata and (except the quality band
    itself) where not clear."""
    scale, offset = _scale_offset(items, raw.time.values, key, profile)
    nodata = raw[key].attrs.get("nodata")
    values = raw[key].data
    valid = values != nodata if nodata is not None and not _isnan(nodata) else None
    refl = values.astype(np.float32)
    if scale is not None:
        refl = refl * scale + offset
    if valid is not None:
        refl = da.where(valid, refl, np.float32(np.nan))
    if clear is not None and key != profile.mask_band:
        refl = da.where(clear, refl, np.float32(np.nan))
    return xr.DataArray(
        refl.astype(np.float32),
        dims=raw[key].dims,
        coords=raw[key].coords,
        attrs={"asset": key, "units": "1", "nodata": float("nan")},
    )


def native_geobox(items: Sequence[pystac.Item]) -> GeoBox | None:
    """The grid all items share, from their projection extension; None if they differ."""
    grids = set()
    for item in items:
        p = item.properties
        shape = p.get("proj:shape")
        transform = p.get("proj:transform")
        crs = (
            p.get("proj:code")
            or (f"EPSG:{p['proj:epsg']}" if p.get("proj:epsg") else None)
            or p.get("proj:wkt2")
        )
        if not (shape and transform and crs):
            return None
        grids.add((tuple(shape), tuple(transform[:6]), crs))
    if len(grids) != 1:
        return None
    shape, transform, crs = grids.pop()
    from affine import Affine

    return GeoBox(shape, Affine(*transform), CRS(crs))


def _scale_offset(
    items: Sequence[pystac.Item], times: np.ndarray, asset: str, profile: SensorProfile
) -> tuple[float | None, float | np.ndarray]:
    """Scale and offset of an asset; the offset may vary by date (Sentinel-2 baselines)."""
    if asset == profile.mask_band:
        return None, 0.0
    scales, offsets, when = [], [], []
    for item in items:
        if asset not in item.assets:
            continue
        bands = (
            RasterExtension.ext(item.assets[asset]).bands
            if RasterExtension.has_extension(item)
            else None
        )
        band = bands[0] if bands else None
        scale = band.scale if band is not None and band.scale is not None else None
        offset = band.offset if band is not None and band.offset is not None else None
        if scale is None and asset in profile.unscaled:
            return None, 0.0
        if scale is None:
            scale = profile.scale
        if offset is None:
            offset = (
                sentinel2_offset(item.properties)
                if profile.name == "sentinel-2-l2a"
                else profile.offset
            )
        scales.append(scale)
        offsets.append(offset)
        when.append(
            item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])
        )
    if not scales:
        return profile.scale, profile.offset
    if len(set(scales)) > 1:
        raise ValueError(
            f"asset {asset!r} has several scales across items ({sorted(set(scales))}); load "
            "them separately"
        )
    if scales[0] == 1.0 and set(offsets) == {0.0} and asset in profile.unscaled:
        return None, 0.0
    if len(set(offsets)) == 1:
        return float(scales[0]), float(offsets[0])
    # Per date: the offset of the item nearest in time (items of one solar day share it).
    item_times = pd.DatetimeIndex(when).tz_convert(None).values
    nearest = np.abs(times[:, None] - item_times[None, :]).argmin(axis=1)
    per_time = np.asarray(offsets, dtype=np.float32)[nearest]
    return float(scales[0]), per_time[:, None, None]


def _isnan(value: float) -> bool:
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def _item_platforms(items: Sequence[pystac.Item], times: np.ndarray) -> list[str | None] | None:
    """The STAC ``platform`` of each loaded date (its nearest item's); None if no item has one."""
    found = [item.properties.get("platform") for item in items]
    if not any(found):
        return None
    when = pd.DatetimeIndex([
        item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])
        for item in items
    ]).tz_convert(None).values
    nearest = np.abs(times[:, None] - when[None, :]).argmin(axis=1)
    return [found[i] for i in nearest]
