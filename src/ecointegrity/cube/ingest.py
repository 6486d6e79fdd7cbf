"""Ingest: add source data to a catalog as STAC items.

Three kinds of source, one result (dated items whose assets are rasters on one grid):

1. a STAC API search: items keep their remote hrefs, loading streams COGs over HTTP;
2. a folder of single-date GeoTIFFs, date and band from the file name (a regex) or a CSV
   manifest: the files stay where they are and are referenced;
3. georeferenced arrays (an xarray Dataset, numpy arrays on a GeoBox, eo-learn's EOPatch
   layout): written out as COGs beside their items.

A broken input never stops a batch: it is recorded in the :class:`IngestReport` with the reason,
and the rest is ingested. Items are added only once complete.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pystac
import rasterio
import xarray as xr
from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.xr import assign_crs, xr_coords

from ..io import join
from ._items import AssetSpec, raster_item
from .catalog import LocalCatalog, StacApiCatalog
from .cog import read_every_block, write_cog
from .errors import CorruptFileError, NoDataError, UnknownCRSError
from .grids import grid_crs
from .sensors import PLATFORMS, SensorProfile, get_profile
from .timerange import TimeRange

__all__ = [
    "IngestReport",
    "DEFAULT_FILENAME_PATTERN",
    "ingest_stac_api",
    "ingest_geotiffs",
    "ingest_dataset",
    "ingest_arrays",
    "ingest_eopatch",
    "eopatch_geobox",
]

# "<anything>_<BAND>_<YYYY-MM-DD or YYYYMMDD>.tif", e.g. CBERS-4_AWFI_B13_2017-08-29.tif
DEFAULT_FILENAME_PATTERN = r"(?:^|_)(?P<band>[A-Za-z0-9]+)_(?P<date>\d{4}-?\d{2}-?\d{2})\.tiff?$"

Progress = Callable[[int], None]


@dataclass
class IngestReport:
    """What an ingest did: items added, and every input it skipped with the reason."""

    collection: str
    items_added: int = 0
    files: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, path: str | os.PathLike, reason: str) -> None:
        self.problems.append((str(path), reason))

    def __str__(self) -> str:
        lines = [f"{self.collection}: {self.items_added} items from {self.files} files"]
        if self.problems:
            lines.append(f"{len(self.problems)} input(s) skipped:")
            lines += [f"  {path}: {reason}" for path, reason in self.problems]
        return "\n".join(lines)


# -- 1. STAC API --------------------------------------------------------------------------------
def ingest_stac_api(
    catalog: LocalCatalog,
    collection: str,
    *,
    bbox: Sequence[float],
    time: TimeRange | str | tuple,
    api_url: str,
    max_cloud: float | None = None,
    limit: int | None = None,
    sensor: SensorProfile | str | None = None,
) -> IngestReport:
    """Copy the items of a STAC API search into the catalog (hrefs stay remote)."""
    api = StacApiCatalog(api_url, max_cloud=max_cloud)
    items = api.items(collection, bbox=bbox, time=time, limit=limit)
    catalog.ensure_collection(
        collection,
        description=f"{collection} from {api_url}",
        sensor=sensor if sensor is not None else get_profile(collection),
    )
    report = IngestReport(collection, files=sum(len(it.assets) for it in items))
    for item in items:
        item.clear_links()
    report.items_added = catalog.add_items(collection, items)
    return report


# -- 2. GeoTIFF folders -------------------------------------------------------------------------
@dataclass(frozen=True)
class _RasterFile:
    path: Path
    band: str
    date: dt.datetime


def ingest_geotiffs(
    catalog: LocalCatalog,
    source: str | os.PathLike,
    collection: str,
    *,
    sensor: SensorProfile | str,
    pattern: str = DEFAULT_FILENAME_PATTERN,
    manifest: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Add a folder of single-date, single-band GeoTIFFs: one item per date, one asset per band.

    Args:
        catalog: destination catalog.
        source: folder searched recursively for ``*.tif``/``*.tiff``.
        collection: collection id to add to (created with ``sensor`` if missing).
        sensor: profile (or its name) saying which asset is which band and the mask.
        pattern: regex with named groups ``band`` and ``date``, searched in each file name.
        manifest: CSV with columns ``path,date,band`` instead of file-name parsing
            (paths relative to the CSV).
        progress: called with the number of files checked so far.
    Returns:
        The report; broken files are listed there, never raised.
    """
    source = Path(source)
    if not source.is_dir():
        raise CorruptFileError(str(source), "not a folder")
    profile = get_profile(sensor)
    report = IngestReport(collection)
    files = (
        _files_from_manifest(Path(manifest), report)
        if manifest
        else _files_from_names(source, pattern, report)
    )
    report.files = len(files) + len(report.problems)
    if not files:
        raise NoDataError(
            f"{source}: no GeoTIFF matched "
            f"{('manifest ' + str(manifest)) if manifest else 'pattern ' + pattern!r}"
        )

    by_date: dict[dt.datetime, list[_RasterFile]] = defaultdict(list)
    for f in files:
        by_date[f.date].append(f)
    catalog.ensure_collection(collection, description=f"GeoTIFFs from {source}", sensor=profile)

    items = []
    checked = 0
    for date in sorted(by_date):
        assets: dict[str, AssetSpec] = {}
        grid: GeoBox | None = None
        for f in sorted(by_date[date], key=lambda f: f.band):
            checked += 1
            if progress:
                progress(checked)
            try:
                fgrid, spec = _inspect_geotiff(f.path, profile, f.band)
            except (CorruptFileError, UnknownCRSError) as exc:
                report.skip(f.path, exc.problem if isinstance(exc, CorruptFileError) else str(exc))
                continue
            if grid is None:
                grid = fgrid
            elif fgrid != grid:
                report.skip(f.path, f"grid differs from the other bands of {date:%Y-%m-%d}")
                continue
            assets[f.band] = spec
        if not assets or grid is None:
            continue
        items.append(
            raster_item(
                f"{collection}_{date:%Y%m%d}",
                date,
                grid,
                assets,
                {"ecointegrity:source": str(source)},
            )
        )
    report.items_added = catalog.add_items(collection, items)
    return report


def _files_from_names(source: Path, pattern: str, report: IngestReport) -> list[_RasterFile]:
    regex = re.compile(pattern)
    out = []
    for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in (".tif", ".tiff")):
        m = regex.search(path.name)
        if not m:
            report.skip(path, f"file name does not match pattern {pattern!r}")
            continue
        try:
            out.append(_RasterFile(path, m.group("band"), _parse_date(m.group("date"))))
        except (ValueError, IndexError) as exc:
            report.skip(path, f"cannot read band/date from the file name: {exc}")
    return out


def _files_from_manifest(manifest: Path, report: IngestReport) -> list[_RasterFile]:
    try:
        table = pd.read_csv(manifest, dtype=str)
    except (OSError, ValueError) as exc:
        raise CorruptFileError(str(manifest), f"cannot read manifest: {exc}") from None
    missing = {"path", "date", "band"} - set(table.columns)
    if missing:
        raise CorruptFileError(str(manifest), f"manifest lacks column(s) {sorted(missing)}")
    out = []
    for row in table.itertuples(index=False):
        path = (manifest.parent / row.path).resolve()
        try:
            out.append(_RasterFile(path, row.band, _parse_date(row.date)))
        except ValueError as exc:
            report.skip(path, f"manifest date {row.date!r}: {exc}")
    return out


def _parse_date(text: str) -> dt.datetime:
    return pd.Timestamp(text).to_pydatetime().replace(tzinfo=dt.UTC)


def _inspect_geotiff(path: Path, profile: SensorProfile, asset: str) -> tuple[GeoBox, AssetSpec]:
    """Open a GeoTIFF, check it is readable and georeferenced, and describe it."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise UnknownCRSError(str(path))
            h, w = src.height, src.width
            read_every_block(src, path)
            grid = GeoBox((h, w), src.transform, CRS(src.crs.to_wkt()))
            unscaled = asset == profile.mask_band or asset in profile.unscaled
            spec = AssetSpec(
                href=str(path.resolve()),
                dtype=src.dtypes[0],
                nodata=src.nodata if src.nodata is not None else profile.nodata,
                scale=None if unscaled else profile.scale,
                offset=None if unscaled else profile.offset,
                common_name=profile.common_name(asset),
                roles=("cloud",) if asset == profile.mask_band else ("data",),
            )
            return grid, spec
    except rasterio.errors.RasterioIOError as exc:
        raise CorruptFileError(str(path), f"not a readable raster ({exc})") from None


# -- 3. arrays ----------------------------------------------------------------------------------
def ingest_dataset(
    catalog: LocalCatalog,
    collection: str,
    dataset: xr.Dataset,
    *,
    sensor: SensorProfile | str,
    rename: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    max_workers: int = 4,
    geobox: GeoBox | None = None,
) -> IngestReport:
    """Write a georeferenced (time, y, x) Dataset as one COG per date and variable, plus items.

    Args:
        catalog: destination catalog; data go beside each item's JSON.
        collection: collection id (created with ``sensor`` if missing).
        dataset: variables on an odc-geo grid (``dataset.odc.geobox``) with a ``time`` axis;
            each variable's ``nodata`` attr is kept. A ``platform`` coordinate along time
            (as the simulator's) becomes each item's STAC ``platform``, with the
            ``instruments`` and ``constellation`` of ``cube.sensors.PLATFORMS``.
        sensor: profile giving scale/offset/mask of the variables.
        rename: variable -> asset key (e.g. ``{"nir": "nir08"}`` for Landsat C2).
        progress: called with the number of dates written so far.
        geobox: the grid, when the coordinates cannot tell it (a single row or column).
    """
    geobox = geobox or dataset.odc.geobox
    if geobox is None or geobox.crs is None:
        raise UnknownCRSError(f"dataset for {collection!r}", "attach a CRS with odc.geo assign_crs")
    if "time" not in dataset.dims:
        raise ValueError(
            f"dataset for {collection!r} has no 'time' dimension (dims: {tuple(dataset.dims)})"
        )
    profile = get_profile(sensor)
    rename = dict(rename or {})
    catalog.ensure_collection(
        collection, description=f"arrays ingested into {collection}", sensor=profile
    )
    report = IngestReport(collection)
    times = pd.DatetimeIndex(dataset.time.values)
    # An acquisition day can hold several dates (eo-learn has two on 2015-12-08): keep them apart.
    ids = _unique_ids(collection, times)
    platforms = _platforms(dataset)

    def write_date(i: int) -> pystac.Item:
        item_id = ids[i]
        assets: dict[str, AssetSpec] = {}
        for var in dataset.data_vars:
            key = rename.get(str(var), str(var))
            da = dataset[var].isel(time=i)
            values = np.asarray(da.values)
            nodata = da.attrs.get("nodata", da.encoding.get("_FillValue"))
            href = join(catalog.item_dir(collection, item_id), f"{key}.tif")
            # one GDAL thread a file: the pool below already writes several files at once
            write_cog(href, values, geobox, nodata=nodata, band_names=[key], num_threads=1)
            unscaled = (key == profile.mask_band or key in profile.unscaled
                        or np.issubdtype(values.dtype, np.floating))
            assets[key] = AssetSpec(
                href=href,
                dtype=values.dtype.name if values.dtype != bool else "uint8",
                nodata=nodata,
                scale=None if unscaled else profile.scale,
                offset=None if unscaled else profile.offset,
                common_name=profile.common_name(key),
                roles=("cloud",) if key == profile.mask_band else ("data",),
            )
        properties = dict(dataset.attrs.get("stac_properties", {}))
        if platforms is not None:
            properties.update(_platform_properties(platforms[i]))
        return raster_item(item_id, times[i].to_pydatetime(), geobox, assets, properties)

    items = []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for n, item in enumerate(pool.map(write_date, range(len(times))), start=1):
            items.append(item)
            if progress:
                progress(n)
    report.files = len(items) * len(dataset.data_vars)
    report.items_added = catalog.add_items(collection, items)
    return report


def _platforms(dataset: xr.Dataset) -> list[str] | None:
    """The STAC platform of each date, from a ``platform`` coordinate along time."""
    coord = dataset.coords.get("platform")
    if coord is None or coord.dims != ("time",):
        return None
    return [str(p) for p in coord.values]


def _platform_properties(platform: str) -> dict[str, object]:
    """STAC common metadata of a platform: ``platform``, and what PLATFORMS knows of it."""
    known = PLATFORMS.get(platform)
    if known is None:
        return {"platform": platform}
    return {"platform": platform, "instruments": [known.instrument],
            "constellation": known.constellation}


def ingest_arrays(
    catalog: LocalCatalog,
    collection: str,
    data: np.ndarray,
    *,
    bands: Sequence[str],
    times: Sequence[dt.datetime | str | np.datetime64],
    geobox: GeoBox,
    sensor: SensorProfile | str,
    nodata: float | int | None = None,
) -> IngestReport:
    """Ingest a (time, y, x, band) array, the layout eo-learn and most numpy pipelines use."""
    arr = np.asarray(data)
    if arr.ndim != 4 or arr.shape[0] != len(times) or arr.shape[-1] != len(bands):
        raise ValueError(
            f"array shape {arr.shape} does not match (time={len(times)}, y, x, band={len(bands)})"
        )
    if arr.shape[1:3] != tuple(geobox.shape):
        raise ValueError(
            f"array grid {arr.shape[1:3]} does not match geobox shape {tuple(geobox.shape)}"
        )
    coords = {"time": pd.DatetimeIndex([pd.Timestamp(t) for t in times]).tz_localize(None)}
    ds = xr.Dataset(
        {
            band: xr.DataArray(
                arr[..., k],
                dims=("time", "y", "x"),
                attrs={"nodata": nodata} if nodata is not None else {},
            )
            for k, band in enumerate(bands)
        },
        coords=coords,
    )
    crs = grid_crs(geobox, f"ingest into {collection}")
    ds = assign_crs(ds.assign_coords(xr_coords(geobox)), crs=crs)
    return ingest_dataset(catalog, collection, ds, sensor=sensor, geobox=geobox)


def ingest_eopatch(
    catalog: LocalCatalog,
    path: str | os.PathLike,
    collection: str,
    *,
    sensor: SensorProfile | str = "sentinel-2-l1c-eopatch",
    features: Iterable[str] | None = None,
) -> IngestReport:
    """Ingest the time-dependent features of an eo-learn EOPatch folder.

    Reads ``bbox.geojson`` (CRS and bounds), ``timestamps.json`` and every ``data/*.npy`` and
    ``mask/*.npy`` of shape (time, y, x, channels); each channel becomes an asset
    (``NAME`` for one channel, ``NAME_k`` otherwise).
    """
    root = Path(path)
    geobox = eopatch_geobox(root)
    try:
        times = json.loads((root / "timestamps.json").read_text())
    except (OSError, ValueError) as exc:
        raise CorruptFileError(
            str(root / "timestamps.json"), f"cannot read timestamps: {exc}"
        ) from None
    wanted = set(features) if features is not None else None
    report = IngestReport(collection)
    arrays, names = [], []
    for folder in ("data", "mask"):
        for npy in sorted((root / folder).glob("*.npy")):
            if wanted is not None and npy.stem not in wanted:
                continue
            try:
                arr = np.load(npy, allow_pickle=False)
            except (OSError, ValueError) as exc:
                report.skip(npy, f"cannot read array: {exc}")
                continue
            if arr.ndim != 4 or arr.shape[0] != len(times) or arr.shape[1:3] != tuple(geobox.shape):
                report.skip(
                    npy,
                    f"shape {arr.shape} is not (time={len(times)}, {geobox.shape[0]}, "
                    f"{geobox.shape[1]}, channels)",
                )
                continue
            for c in range(arr.shape[-1]):
                arrays.append(arr[..., c].astype(np.uint8) if arr.dtype == bool else arr[..., c])
                names.append(npy.stem if arr.shape[-1] == 1 else f"{npy.stem}_{c}")
    if not arrays:
        raise NoDataError(
            f"{root}: no time-dependent feature to ingest ({report.problems or 'none found'})"
        )
    ds = xr.Dataset(
        {n: (("time", "y", "x"), a) for n, a in zip(names, arrays, strict=True)},
        coords={"time": pd.DatetimeIndex(times)},
    )
    crs = grid_crs(geobox, str(root))
    ds = assign_crs(ds.assign_coords(xr_coords(geobox)), crs=crs)
    inner = ingest_dataset(catalog, collection, ds, sensor=sensor, geobox=geobox)
    inner.problems[:0] = report.problems
    return inner


def eopatch_geobox(root: str | os.PathLike) -> GeoBox:
    """The pixel grid of an EOPatch: its bbox.geojson bounds split into the arrays' shape."""
    root = Path(root)
    bbox_file = root / "bbox.geojson"
    try:
        geo = json.loads(bbox_file.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptFileError(str(bbox_file), f"cannot read bbox: {exc}") from None
    crs_name = geo.get("crs", {}).get("properties", {}).get("name")
    if not crs_name:
        raise UnknownCRSError(str(bbox_file))
    epsg = re.search(r"EPSG::?(\d+)", crs_name)
    crs = CRS(f"EPSG:{epsg.group(1)}") if epsg else CRS(crs_name)
    ring = np.asarray(geo["coordinates"][0])
    bounds = (ring[:, 0].min(), ring[:, 1].min(), ring[:, 0].max(), ring[:, 1].max())
    ny, nx = _eopatch_shape(root)
    # eo-learn splits the bbox exactly into the array shape: pixels are not square (~9.995 m).
    dx = (bounds[2] - bounds[0]) / nx
    dy = (bounds[3] - bounds[1]) / ny
    return GeoBox((ny, nx), Affine(dx, 0.0, bounds[0], 0.0, -dy, bounds[3]), crs)


def _eopatch_shape(root: Path) -> tuple[int, int]:
    for folder in ("data", "mask", "data_timeless", "mask_timeless"):
        for npy in sorted((root / folder).glob("*.npy")):
            arr = np.load(npy, mmap_mode="r", allow_pickle=False)
            return (arr.shape[-3], arr.shape[-2])
    raise NoDataError(f"{root}: no arrays to take the grid shape from")


def _unique_ids(collection: str, times: pd.DatetimeIndex) -> list[str]:
    ids, seen = [], set()
    for t in times:
        base = f"{collection}_{t:%Y%m%d}"
        item_id = base if base not in seen else f"{collection}_{t:%Y%m%dT%H%M%S}"
        seen.add(item_id)
        ids.append(item_id)
    return ids
