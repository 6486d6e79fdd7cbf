"""Overviews for national viewers: a pyramid of coarser mosaics per product-year.

A map at a national zoom (web zoom 4-7) would otherwise read every tile COG of a product-year
it covers: a few hundred files for a state, thousands for Mexico (datacube-ows was slow at low
zoom over Africa for this reason until overview mosaics were built). Each product gets levels
``k = 1, 2, ...``, each a factor 4 coarser than the one below (30 m -> 120 m, 480 m, 1.92 km,
7.68 km), stored as COG tiles of ``tile_px`` pixels (1024, like the national grid's tiles) on a
grid anchored at the CRS's origin, as the national grids are. With 1024-pixel base tiles a
level-k tile covers 4^k x 4^k base tiles, so:

* each overview file is built from at most 16 files of the level below (reading is bounded
  when building too);
* a request of up to ``tile_px`` pixels whose pixel size is at least level k's reads at most
  2 x 2 (3 x 3 across a reprojection's bend) files of level k, whatever the zoom: the
  renderer (:mod:`ecointegrity.web.renderer`) picks the coarsest level not coarser than the
  request's pixels, and each file's own internal COG overviews cover the factor 4 in between.

Why a pyramid of tiles rather than one national COG with internal overviews per product-year:
when a tile of the product changes, only its ancestors (one file per level) are rewritten,
written atomically and in parallel like every product tile, on local folders and ``s3://``
alike; a national COG (Mexico at 30 m: about 2.3 billion pixels per band-year) would be
rewritten whole for any change, by one writer.

Each level is its own collection, ``<product>.overview-<k>`` (a product name never holds a
dot: WMS layer names are ``product.band``), carrying the product's spec and an
``ecointegrity:overview`` field (level, resolution, tile size), with one item per overview
tile and period, like any product: the catalog stays the source of truth, :func:`read_product`
reads a level as it reads the product, and a STAC browser shows it. There are none where the
product-year fits in ``tile_px`` pixels at its own resolution (its few files are the pyramid);
otherwise levels go up to the first that holds the product-year in a single file, so the
coarsest zooms read one file (Quintana Roo: 120 m, 480 m, 1.92 km; Mexico: up to 7.68 km).

Resampling: the average of the valid (not nodata) pixels for continuous bands; the most common
valid value (ties: the smallest) for class maps, i.e. integer bands of a product drawn with a
class scheme (``colormap="scheme"``) or whose COG carries a colour table (averaging codes would
invent classes). A pixel is nodata only where all its 16 pixels below are. Each level is
built from the level below (as GDAL builds overviews), so with partial nodata a level-2 pixel
averages its level-1 averages rather than every 30 m pixel.

Layering: cube's catalog, cog, products, load <- overviews (nothing above the cube).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pystac
import rasterio
from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox

from .. import io as _io
from ._items import AssetSpec, raster_item
from .catalog import LocalCatalog
from .cog import write_cog
from .errors import CatalogError
from .grids import Tile
from .load import native_geobox
from .products import PRODUCT_KEY, ProductSpec, product_item_id, spec_from_collection
from .timerange import TimeRange, to_time_range

__all__ = [
    "FACTOR",
    "OVERVIEW_KEY",
    "OverviewLevel",
    "overview_collection",
    "overview_levels",
    "update_overviews",
]

FACTOR = 4
OVERVIEW_KEY = "ecointegrity:overview"
MAX_LEVELS = 8
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class OverviewLevel:
    """One level of a product's pyramid: its collection, resolution (CRS units) and tile size."""

    product: str
    level: int
    resolution: float
    tile_px: int

    @property
    def collection(self) -> str:
        return overview_collection(self.product, self.level)


def overview_collection(product: str, level: int) -> str:
    """The collection holding ``product``'s overview level ``level`` (1 = 4x coarser)."""
    return f"{product}.overview-{level}"


def overview_levels(catalog: LocalCatalog, product: str) -> list[OverviewLevel]:
    """The overview levels a catalog holds for a product, finest first (none: [])."""
    prefix = f"{product}.overview-"
    out = []
    for name in catalog.collections():
        if not name.startswith(prefix):
            continue
        meta = catalog.collection(name).extra_fields.get(OVERVIEW_KEY)
        if not meta:
            continue
        out.append(
            OverviewLevel(product, int(meta["level"]), float(meta["resolution"]),
                          int(meta["tile_px"]))
        )
    return sorted(out, key=lambda lv: lv.level)


@dataclass(frozen=True)
class _Node:
    """A file set of one level: an item's id, its pixel grid and its COG per band."""

    id: str
    geobox: GeoBox
    hrefs: dict[str, str]

    @property
    def bounds(self) -> BBox:
        b = self.geobox.boundingbox
        return (b.left, b.bottom, b.right, b.top)


def update_overviews(
    catalog: LocalCatalog,
    product: str,
    year: int,
    changed: Iterable[pystac.Item | str] | None = None,
    *,
    tile_px: int | None = None,
    workers: int | None = None,
) -> list[pystac.Item]:
    """Build or refresh a product-year's overview pyramid after its tiles were written.

    Args:
        catalog: the product catalog (local folder or ``s3://``).
        product: the product (a collection carrying a product spec).
        year: the calendar year whose overviews are updated.
        changed: the base items (or their ids) written or rewritten; only overview tiles
            above them are rebuilt, level by level. None: rebuild the whole pyramid.
        tile_px: overview tile size in pixels (default: the one the product's pyramid
            already uses, else 1024).
        workers: overview tiles built at once (default: the core count, at most 4).
    Returns:
        The overview items written, every level.
    Raises:
        CatalogError: the product is not in the catalog.
    """
    spec = spec_from_collection(catalog, product)
    base = _year_items(catalog, product, year)
    nodes = [_node(it) for it in base]
    if len(nodes) < 2:
        return []
    existing = {lv.level: lv for lv in overview_levels(catalog, product)}
    if tile_px is None:
        tile_px = existing[min(existing)].tile_px if existing else 1024
    crs = nodes[0].geobox.crs
    if crs is None:
        raise CatalogError(f"the items of {product!r} have no CRS")
    res0 = abs(nodes[0].geobox.resolution.x)
    extent = _union([n.bounds for n in nodes])
    changed_ids = None if changed is None else {c if isinstance(c, str) else c.id for c in changed}
    dirty = [n.bounds for n in nodes if changed_ids is None or n.id in changed_ids]
    workers = workers or min(4, os.cpu_count() or 1)
    written: list[pystac.Item] = []
    children = nodes
    period = to_time_range(int(year))
    level = 0
    while level < MAX_LEVELS and not _is_top(extent, res0, level, tile_px):
        level += 1
        lv = OverviewLevel(product, level, res0 * FACTOR**level, tile_px)
        _ensure_level(catalog, spec, lv)
        old = {n.id: n for n in (_node(it) for it in _year_items(catalog, lv.collection, year))}
        # a new level (or year) is built whole: nothing of it exists yet
        parents = _tiles_over(lv, dirty if old else [extent])

        def build(index: tuple[int, int], lv: OverviewLevel = lv,
                  kids: Sequence[_Node] = children) -> pystac.Item | None:
            return _build_tile(catalog, spec, lv, crs, index, kids, period)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            made = [it for it in pool.map(build, sorted(parents)) if it is not None]
        catalog.register_items(lv.collection, made)
        written += made
        for it in made:
            old[it.id] = _node(it)
        children = list(old.values())
        dirty = [_node(it).bounds for it in made]
        if not dirty:
            break
    return written


def _year_items(catalog: LocalCatalog, collection: str, year: int) -> list[pystac.Item]:
    """Items of a collection for one calendar year (an interval ending at midnight on
    1 January ends with the year before, as :func:`ecointegrity.cube.item_years` counts)."""
    out = []
    for it in catalog.items(collection, time=str(int(year))):
        start = it.properties.get("start_datetime") or it.properties.get("datetime")
        end = it.properties.get("end_datetime") or start
        if start is None:
            continue
        e = pystac.utils.str_to_datetime(str(end))
        s = pystac.utils.str_to_datetime(str(start))
        last = e.year - 1 if (e.year > s.year and (e.month, e.day, e.hour, e.minute, e.second,
                                                    e.microsecond) == (1, 1, 0, 0, 0, 0)) else e.year
        if s.year <= int(year) <= last:
            out.append(it)
    return out


def _ensure_level(catalog: LocalCatalog, spec: ProductSpec, lv: OverviewLevel) -> None:
    if lv.collection in catalog.collections():
        return
    catalog.ensure_collection(
        lv.collection,
        description=f"{spec.title or spec.name}: overview level {lv.level} "
        f"({lv.resolution:g} m pixels, {FACTOR**lv.level}x coarser), for map viewers",
        extra_fields={
            PRODUCT_KEY: spec.to_dict(),
            "title": f"{spec.title} (overview {lv.level})",
            OVERVIEW_KEY: {"product": spec.name, "level": lv.level,
                           "resolution": lv.resolution, "tile_px": lv.tile_px,
                           "factor": FACTOR},
        },
    )


def _node(item: pystac.Item) -> _Node:
    geobox = native_geobox([item])
    if geobox is None:
        raise CatalogError(
            f"item {item.id} does not say its grid (proj:code, proj:shape, proj:transform)"
        )
    return _Node(item.id, geobox, {k: a.get_absolute_href() or a.href for k, a in item.assets.items()})


def _union(boxes: Sequence[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _extent_px(extent: BBox, res: float) -> float:
    return max(extent[2] - extent[0], extent[3] - extent[1]) / res


def _is_top(extent: BBox, res0: float, level: int, tile_px: int) -> bool:
    """Whether ``level`` ends the pyramid: the product-year fits in ``tile_px`` pixels there
    and, above the product's own tiles, in one file (a national zoom then reads one file)."""
    res = res0 * FACTOR**level
    if _extent_px(extent, res) > tile_px:
        return False
    return level == 0 or len(_tiles_over(OverviewLevel("", level, res, tile_px), [extent])) == 1


def _tile_size(lv: OverviewLevel) -> float:
    return lv.resolution * lv.tile_px


def _tiles_over(lv: OverviewLevel, boxes: Sequence[BBox]) -> set[tuple[int, int]]:
    """Indices (x, y) of level tiles meeting any of the boxes (y grows northwards, as odc-geo's
    GridSpec numbers the national grids' tiles)."""
    size = _tile_size(lv)
    eps = lv.resolution * 1e-6
    out = set()
    for x0, y0, x1, y1 in boxes:
        for ix in range(math.floor((x0 + eps) / size), math.floor((x1 - eps) / size) + 1):
            for iy in range(math.floor((y0 + eps) / size), math.floor((y1 - eps) / size) + 1):
                out.add((ix, iy))
    return out


def _build_tile(
    catalog: LocalCatalog,
    spec: ProductSpec,
    lv: OverviewLevel,
    crs: CRS,
    index: tuple[int, int],
    children: Sequence[_Node],
    period: TimeRange,
) -> pystac.Item | None:
    """One overview tile from the files below it; None when no child meets it."""
    size = _tile_size(lv)
    left, bottom = index[0] * size, index[1] * size
    right, top = left + size, bottom + size
    kids = [c for c in children if _meets(c.bounds, (left, bottom, right, top))]
    if not kids:
        return None
    res = lv.resolution
    ux0, uy0, ux1, uy1 = _union([c.bounds for c in kids])
    # the tile cropped to its children's extent, snapped outwards to its own pixels: a small
    # product makes small overview files
    col0 = max(0, math.floor((ux0 - left) / res + 1e-6))
    col1 = min(lv.tile_px, math.ceil((ux1 - left) / res - 1e-6))
    row0 = max(0, math.floor((top - uy1) / res + 1e-6))
    row1 = min(lv.tile_px, math.ceil((top - uy0) / res - 1e-6))
    h, w = row1 - row0, col1 - col0
    gx0, gy0 = left + col0 * res, top - row0 * res
    geobox = GeoBox((h, w), Affine(res, 0, gx0, 0, -res, gy0), crs)
    fine = GeoBox((h * FACTOR, w * FACTOR),
                  Affine(res / FACTOR, 0, gx0, 0, -res / FACTOR, gy0), crs)
    tile = Tile(f"overview-{res:g}m", index, geobox)
    item_id = product_item_id(spec.name, tile, period)
    assets = {}
    for band in spec.bands:
        hrefs = [c.hrefs[band.name] for c in kids if band.name in c.hrefs]
        if not hrefs:
            continue
        nodata = band.nodata
        values, valid, colormap = _mosaic_fine(fine, [c for c in kids if band.name in c.hrefs],
                                               band.name, band.dtype, nodata)
        categorical = np.issubdtype(np.dtype(band.dtype), np.integer) and (
            spec.colormap == "scheme" or colormap is not None
        )
        out, ok = (block_mode if categorical else block_mean)(values, valid, FACTOR)
        stored = _to_storage(out, ok, band.dtype, nodata)
        href = _io.join(catalog.item_dir(lv.collection, item_id), f"{band.name}.tif")
        write_cog(
            href, stored, geobox, nodata=nodata, band_names=[band.name], scale=band.scale,
            offset=band.offset, colormap=colormap if categorical else None,
            tags={"product": spec.name, "units": band.units, "period": str(period),
                  "overview_level": str(lv.level),
                  "resampling": "mode" if categorical else "average"},
        )
        assets[band.name] = AssetSpec(
            href=href, dtype=band.dtype, nodata=nodata, scale=band.scale, offset=band.offset,
            title=band.description or band.name, extra={"unit": band.units} if band.units else {},
        )
    if not assets:
        return None
    props = {
        PRODUCT_KEY: spec.name,
        "ecointegrity:tile": tile.id,
        "ecointegrity:overview_level": lv.level,
        "ecointegrity:colormap": spec.colormap,
        "ecointegrity:value_range": list(spec.value_range) if spec.value_range else None,
        "ecointegrity:children": sorted(c.id for c in kids),
        "created": pystac.utils.datetime_to_str(dt.datetime.now(dt.UTC)),
    }
    item = raster_item(item_id, (period.start, period.end), geobox, assets, props)
    catalog.write_item(lv.collection, item)
    return item


def _meets(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _mosaic_fine(
    fine: GeoBox, kids: Sequence[_Node], band: str, dtype: str, nodata: float | int | None
) -> tuple[np.ndarray, np.ndarray, dict | None]:
    """The children's stored values pasted on the fine grid, where they are valid, and the
    first colour table met."""
    values = np.zeros(fine.shape, dtype=np.dtype(dtype))
    valid = np.zeros(fine.shape, dtype=bool)
    colormap = None
    fres = fine.resolution.x
    fx0, fy0 = fine.affine.c, fine.affine.f
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        for kid in kids:
            with rasterio.open(kid.hrefs[band]) as src:
                if colormap is None:
                    try:
                        colormap = {int(k): tuple(int(c) for c in v)
                                    for k, v in src.colormap(1).items()}
                    except ValueError:
                        pass
                col = (src.transform.c - fx0) / fres
                row = (fy0 - src.transform.f) / fres
                aligned = (
                    math.isclose(src.transform.a, fres, rel_tol=1e-9)
                    and abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6
                )
                if aligned:
                    _paste(src, int(round(col)), int(round(row)), values, valid, nodata)
                else:
                    _warp(src, fine, values, valid, nodata)
    return values, valid, colormap


def _paste(src: rasterio.DatasetReader, col: int, row: int, values: np.ndarray,
           valid: np.ndarray, nodata: float | int | None) -> None:
    h, w = values.shape
    c0, r0 = max(0, col), max(0, row)
    c1, r1 = min(w, col + src.width), min(h, row + src.height)
    if c0 >= c1 or r0 >= r1:
        return
    window = rasterio.windows.Window(c0 - col, r0 - row, c1 - c0, r1 - r0)
    data = src.read(1, window=window)
    ok = _valid(data, nodata)
    values[r0:r1, c0:c1][ok] = data[ok]
    valid[r0:r1, c0:c1] |= ok


def _warp(src: rasterio.DatasetReader, fine: GeoBox, values: np.ndarray, valid: np.ndarray,
          nodata: float | int | None) -> None:
    """A child not on the fine grid's pixels (another anchor): nearest neighbour onto it."""
    from rasterio.warp import Resampling, reproject

    fill = nodata if nodata is not None else 0
    out = np.full(values.shape, fill, dtype=values.dtype)
    reproject(rasterio.band(src, 1), out, dst_transform=fine.affine,
              dst_crs=fine.crs.to_wkt() if fine.crs is not None else None,
              src_nodata=src.nodata, dst_nodata=nodata, resampling=Resampling.nearest)
    ok = _valid(out, nodata) & ~valid
    values[ok] = out[ok]
    valid |= ok


def _valid(data: np.ndarray, nodata: float | int | None) -> np.ndarray:
    if np.issubdtype(data.dtype, np.floating):
        ok = np.isfinite(data)
        if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
            ok &= data != nodata
        return ok
    if nodata is None:
        return np.ones(data.shape, dtype=bool)
    return data != nodata


def block_mean(values: np.ndarray, valid: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid pixels of each ``factor`` x ``factor`` block (float64) and whether the
    block had any; the array's shape must be a multiple of ``factor``."""
    h, w = values.shape[0] // factor, values.shape[1] // factor
    v = np.where(valid, values, 0).reshape(h, factor, w, factor)
    n = valid.reshape(h, factor, w, factor).sum(axis=(1, 3))
    total = v.sum(axis=(1, 3), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return mean, n > 0


def block_mode(values: np.ndarray, valid: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Most common valid value of each ``factor`` x ``factor`` block (ties: the smallest) and
    whether the block had any valid pixel."""
    h, w = values.shape[0] // factor, values.shape[1] // factor
    out = np.zeros((h, w), dtype=np.float64)
    ok = np.zeros((h, w), dtype=bool)
    rows = max(1, 2**20 // max(1, w * factor**4))  # strips: bounded memory for the k x k compare
    for r in range(0, h, rows):
        r1 = min(h, r + rows)
        raw = values[r * factor:r1 * factor].reshape(r1 - r, factor, w, factor)
        blk = raw.transpose(0, 2, 1, 3).reshape(r1 - r, w, factor * factor).astype(np.float64)
        vraw = valid[r * factor:r1 * factor].reshape(r1 - r, factor, w, factor)
        vb = vraw.transpose(0, 2, 1, 3).reshape(r1 - r, w, factor * factor)
        blk = np.where(vb, blk, np.inf)  # invalid pixels sort last and are never counted
        order = np.argsort(blk, axis=-1, kind="stable")
        blk = np.take_along_axis(blk, order, axis=-1)
        vb = np.take_along_axis(vb, order, axis=-1)
        counts = ((blk[..., :, None] == blk[..., None, :]) & vb[..., None, :]).sum(-1)
        counts = np.where(vb, counts, -1)
        best = np.argmax(counts, axis=-1)  # first maximum: the smallest of the tied values
        out[r:r1] = np.take_along_axis(blk, best[..., None], axis=-1)[..., 0]
        ok[r:r1] = vb.any(axis=-1)
    out[~ok] = np.nan
    return out, ok


def _to_storage(values: np.ndarray, ok: np.ndarray, dtype: str,
                nodata: float | int | None) -> np.ndarray:
    target = np.dtype(dtype)
    if np.issubdtype(target, np.floating):
        out = values.astype(target)
        out[~ok] = np.nan if nodata is None else nodata
        return out
    info = np.iinfo(target)
    out = np.clip(np.rint(np.where(ok, values, 0)), info.min, info.max).astype(target)
    if nodata is not None:
        out[~ok] = nodata
    return out
