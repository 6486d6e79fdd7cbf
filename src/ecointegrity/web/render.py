"""Pictures of the annual products: XYZ tiles, WMS maps, frames and animated GIF/WebP.

Everything the API draws goes through :class:`ProductRenderer`, built on rio-tiler: a
product-year is the mosaic (``rio_tiler.mosaic.mosaic_reader``) of its tile COGs, each read
through rio-tiler's ``Reader`` (``tile()`` for web-mercator XYZ tiles, ``part()`` for a bbox in
any CRS). How a band is drawn comes from the product's spec, stored with its collection:

* single bands: physical values (the COGs' GDAL scale/offset applied, ``unscale=True``)
  rescaled from the spec's value range to 0-255, then the named colour map (rio-tiler's
  ``cmap``: rdylgn, viridis, blues, rdbu, inferno, rdylbu_r, ...);
* products with an ``rgb`` composite (the geomedian): true colour (red, green, blue) or
  ``band="false_colour"`` (swir1, nir, green), reflectance 0-0.3;
* class maps (``colormap="scheme"``): the COG's own colour table, no rescaling, so a pixel has
  exactly its class colour.

Nodata, and every place outside the product's tiles, is transparent. A request that misses the
data is answered with a transparent picture, never an error; a product, year or band that does
not exist is a typed error (:class:`UnknownProduct`, :class:`UnknownYear`, :class:`UnknownBand`)
whose message says what exists, so the API can answer 404/422.

Tiles must be fast (the API's benchmark wants p50 under 20 ms on two cores), so per-request work
is kept small: the spec, the items per year, their lon/lat boxes and the drawing style are
cached per product and reloaded only when the collection's JSON changes; only items whose box
meets the request are read; open COGs are pooled and reused across requests (GDAL's block cache
belongs to an open dataset, so reopening a file per tile would decompress it again), and every
read runs in one shared set of GDAL options (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: no
directory listing per open).
"""

from __future__ import annotations

import functools
import io
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pystac
import rasterio
from PIL import Image, ImageDraw, ImageFont
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from rio_tiler.colormap import cmap as _rio_cmaps
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader

from ..cube import LocalCatalog, ProductSpec, spec_from_collection
from ..cube.products import PRODUCT_KEY

__all__ = [
    "ProductRenderer",
    "LayerInfo",
    "RenderError",
    "UnknownProduct",
    "UnknownYear",
    "UnknownBand",
    "InvalidRequest",
    "MEDIA_TYPES",
]

Format = Literal["png", "webp", "jpeg"]
MEDIA_TYPES: dict[str, str] = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}
_FORMAT_ALIASES = {"png": "png", "image/png": "png", "webp": "webp", "image/webp": "webp",
                   "jpeg": "jpeg", "jpg": "jpeg", "image/jpeg": "jpeg"}

# Names accepted for the composites a spec lists in ``extra`` (``rgb``, ``false_colour``).
_COMPOSITE_ALIASES = {"rgb": "rgb", "true_colour": "rgb", "true_color": "rgb", "truecolour": "rgb",
                      "false_colour": "false_colour", "false_color": "false_colour"}
_COMPOSITE_NAMES = {"rgb": "true_colour", "false_colour": "false_colour"}

# Our colour-map names -> rio-tiler's. Today they coincide; the table is the one place to
# map a name that does not (rio-tiler's names are lower-case matplotlib names).
_CMAP_ALIASES = {"grey": "gray", "greys": "greys", "spectral": "spectral"}

# GDAL options for every read: no directory listing when opening a file (our COGs carry
# their overviews, colour tables and scale/offset inside), no auxiliary .aux.xml files written
# next to the data. GDAL_CACHEMAX is deliberately absent: setting it in a per-request Env
# resizes GDAL's (process-wide) block cache on every enter and exit, which throws the cached
# blocks away and made composite tiles six times slower; GDAL's default (5% of RAM) stays.
_GDAL_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "VSI_CACHE": "TRUE",
}

_WEB_MERCATOR = CRS.from_epsg(3857)
_MAX_LAT = 85.0511287798066


# ----------------------------------------------------------------------------------------
# Errors: one place, each message says what exists and what to do.
# ----------------------------------------------------------------------------------------
class RenderError(Exception):
    """Base class of the renderer's errors (the API maps them to 4xx)."""


class UnknownProduct(RenderError, LookupError):
    """No product of that name in the catalog (HTTP 404)."""

    def __init__(self, product: str, known: Sequence[str]):
        self.product, self.known = product, list(known)
        super().__init__(f"unknown product {product!r}; products: {', '.join(self.known) or 'none'} "
                         "(GET /api/products lists them)")


class UnknownYear(RenderError, LookupError):
    """The product has no data for that year (HTTP 422)."""

    def __init__(self, product: str, year: int, available: Sequence[int]):
        self.product, self.year, self.available = product, year, list(available)
        super().__init__(f"{product} has no data for {year}; years available: "
                         f"{', '.join(map(str, self.available)) or 'none'}")


class UnknownBand(RenderError, LookupError):
    """The product has no band (or composite) of that name (HTTP 422)."""

    def __init__(self, product: str, band: str, available: Sequence[str]):
        self.product, self.band, self.available = product, band, list(available)
        super().__init__(f"{product} has no band {band!r}; use one of: {', '.join(self.available)} "
                         "(or leave the band out for the default)")


class InvalidRequest(RenderError, ValueError):
    """A malformed request: tile index, bbox, size or format (HTTP 422)."""


# ----------------------------------------------------------------------------------------
# What the API and WMS publish about a product.
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerInfo:
    """A product as a map layer: what it is, which years and where, and how it is drawn.

    ``bands`` are the data bands (what a slice or ``product.band`` WMS layer can name);
    ``composites`` the multi-band pictures (``true_colour``, ``false_colour``) that ``tile``,
    ``render_bbox`` and ``animation`` also accept as ``band``. ``default_band`` is the band a
    slice reads when none is named; ``default_style`` what a map draws when none is named.
    ``legend`` maps class codes (as strings) to names and ``legend_colors`` the same codes to
    ``#rrggbb``, for class maps only; continuous products are described by ``colormap``,
    ``colormap_stops``, ``value_range`` and ``units``.
    """

    product: str
    title: str
    description: str
    kind: Literal["continuous", "rgb", "classes"]
    bands: tuple[str, ...]
    composites: tuple[str, ...]
    default_band: str | None
    default_style: str | None
    colormap: str | None
    colormap_stops: tuple[str, ...]
    value_range: tuple[float, float] | None
    years: tuple[int, ...]
    bounds: tuple[float, float, float, float] | None
    units: dict[str, str] = field(hash=False)
    legend: dict[str, str] | None = field(hash=False)
    legend_colors: dict[str, str] | None = field(hash=False)
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists instead of tuples)."""
        return {
            "product": self.product, "title": self.title, "description": self.description, "kind": self.kind,
            "bands": list(self.bands), "composites": list(self.composites), "default_band": self.default_band,
            "default_style": self.default_style, "colormap": self.colormap,
            "colormap_stops": list(self.colormap_stops),
            "value_range": list(self.value_range) if self.value_range else None, "years": list(self.years),
            "bounds": list(self.bounds) if self.bounds else None, "units": dict(self.units),
            "legend": dict(self.legend) if self.legend else None,
            "legend_colors": dict(self.legend_colors) if self.legend_colors else None, "version": self.version,
        }


# ----------------------------------------------------------------------------------------
# Internal state: products, items, drawing styles, pooled datasets.
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Item:
    id: str
    bbox: tuple[float, float, float, float]  # lon/lat
    hrefs: Mapping[str, str]  # band -> COG


@dataclass
class _Product:
    name: str
    catalog: LocalCatalog
    spec: ProductSpec
    items: dict[int, tuple[_Item, ...]]  # by year
    bounds: tuple[float, float, float, float] | None
    stamp: tuple[int, int] | None  # collection.json (mtime_ns, size); None when not a local file
    checked: float  # time.monotonic() of the last staleness check
    styles: dict[str | None, _Style] = field(default_factory=dict)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self.items))

    @property
    def version(self) -> str:
        if self.stamp is not None:
            return f"{self.stamp[0]:x}-{self.stamp[1]:x}"
        return f"{hash(tuple(i.id for items in self.items.values() for i in items)) & 0xFFFFFFFF:08x}"


@dataclass(frozen=True)
class _Style:
    """How one band (or composite) of a product is drawn."""

    kind: Literal["continuous", "rgb", "classes"]
    name: str  # the band, or the composite's name
    bands: tuple[str, ...]  # bands read, in order
    label: str  # what the legend calls it
    units: str
    vmin: float = 0.0
    vmax: float = 1.0
    cmap: str | None = None
    lut: np.ndarray | None = None  # continuous: the colour map (256, 4); classes: code -> rgba
    classes: tuple[tuple[int, str, tuple[int, int, int, int]], ...] = ()  # code, name, rgba
    # Paletted pictures (continuous and 8-bit class maps): index -> rgba, and the index of the
    # transparent entry. A paletted PNG encodes ten times faster than RGBA and is smaller.
    palette: np.ndarray | None = None
    transparent: int | None = None

    @property
    def unscale(self) -> bool:
        return self.kind != "classes"

    def indexed(self, data: np.ma.MaskedArray) -> np.ndarray:
        """(1, h, w) masked values -> (h, w) palette indices (paletted styles only)."""
        assert self.transparent is not None
        mask = np.ma.getmaskarray(data)[0]
        values = np.ma.getdata(data)[0]
        if self.kind == "classes":
            codes = values.astype(np.int64, copy=False)
            ok = ~mask & (codes >= 0) & (codes < 256)
            return np.where(ok, codes, self.transparent).astype(np.uint8)
        idx = self.levels(values, self.transparent)  # 0..254: the colour map; 255: transparent
        idx[mask] = self.transparent
        return idx

    def rgba(self, data: np.ma.MaskedArray) -> np.ndarray:
        """(bands, h, w) masked values -> (h, w, 4) uint8, transparent where masked."""
        if self.palette is not None:
            return self.palette[self.indexed(data)]
        mask = np.ma.getmaskarray(data)
        values = np.ma.getdata(data)
        if self.kind == "classes":  # codes beyond 8 bits: a lookup table as long as the codes
            assert self.lut is not None
            codes = values[0].astype(np.int64, copy=False)
            inside = (codes >= 0) & (codes < len(self.lut))
            out = self.lut[np.where(inside, codes, 0)]
            out[~inside | mask[0]] = 0
            return out
        h, w = values.shape[1:]
        out = np.empty((h, w, 4), np.uint8)
        for i in range(3):
            out[..., i] = self.levels(values[i], 256)
        missing = mask.any(axis=0)
        out[..., 3] = 255
        out[missing] = 0
        return out

    def levels(self, values: np.ndarray, n: int) -> np.ndarray:
        """Values -> 0..n-1 (the position on a ramp of n levels from vmin to vmax), uint8."""
        top = n - 1
        span = (self.vmax - self.vmin) or 1.0
        v = (values.astype(np.float32, copy=False) - np.float32(self.vmin)) * np.float32(top / span)
        np.nan_to_num(v, copy=False, nan=0.0)
        np.clip(v, 0, top, out=v)
        return np.rint(v, out=v).astype(np.uint8)


class _DatasetPool:
    """Open rasterio datasets, reused across requests, each used by one thread at a time.

    A dataset is taken out while a request reads it and put back afterwards, so concurrent
    requests never share a GDAL handle; the idle ones are kept (least recently used closed
    first) so that the next tile finds the file open and its blocks in GDAL's cache.
    """

    def __init__(self, max_idle: int = 256):
        self.max_idle = max_idle
        self._idle: OrderedDict[str, list[Any]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    @contextmanager
    def dataset(self, href: str, opener: Callable[[], Any] | None = None) -> Iterator[Any]:
        """An open dataset of ``href`` (a file, or a key that ``opener`` opens) for one reader."""
        with self._lock:
            stack = self._idle.get(href)
            ds = stack.pop() if stack else None
            if ds is not None:
                self._count -= 1
                self._idle.move_to_end(href)
        if ds is None:
            ds = opener() if opener is not None else rasterio.open(href)
        try:
            yield ds
        except BaseException:
            ds.close()  # a failed read may leave the handle in any state: never reuse it
            raise
        self._give_back(href, ds)

    def _give_back(self, href: str, ds: Any) -> None:
        evicted = []
        with self._lock:
            self._idle.setdefault(href, []).append(ds)
            self._idle.move_to_end(href)
            self._count += 1
            while self._count > self.max_idle and self._idle:
                _, old = self._idle.popitem(last=False)
                self._count -= len(old)
                evicted.extend(old)
        for old in evicted:
            old.close()

    def discard(self, hrefs: Sequence[str]) -> None:
        """Close the idle datasets reading these files (they were rewritten or removed)."""
        closing = []
        wanted = set(hrefs)
        with self._lock:
            for key in [k for k in self._idle if k in wanted or any(h in k for h in wanted if k.startswith("<"))]:
                stack = self._idle.pop(key)
                self._count -= len(stack)
                closing.extend(stack)
        for ds in closing:
            ds.close()

    def close(self) -> None:
        with self._lock:
            stacks, self._idle, self._count = list(self._idle.values()), OrderedDict(), 0
        for stack in stacks:
            for ds in stack:
                ds.close()


class _BytesCache:
    """A thread-safe LRU of encoded pictures, bounded in bytes."""

    def __init__(self, max_bytes: float):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        if self.max_bytes <= 0:
            return None
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple, value: bytes) -> None:
        if self.max_bytes <= 0 or len(value) > self.max_bytes // 16:
            return
        with self._lock:
            old = self._data.pop(key, None)
            self._bytes += len(value) - (len(old) if old is not None else 0)
            self._data[key] = value
            while self._bytes > self.max_bytes and self._data:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size)


def _collection_path(cat: LocalCatalog, name: str) -> str:
    # the static catalog's documented layout: <root>/<collection>/collection.json
    return os.path.join(str(cat.root), name, "collection.json")


def _is_local(root: str) -> bool:
    return "://" not in str(root) or str(root).startswith("file://")


def _item_years(item: pystac.Item) -> list[int]:
    """Calendar years an item covers (an annual item: one)."""
    props = item.properties
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or start
    if start is None:
        return []
    s, e = pystac.utils.str_to_datetime(start), pystac.utils.str_to_datetime(end)
    last = e.year - 1 if (e.month, e.day, e.hour, e.minute, e.second, e.microsecond) == (1, 1, 0, 0, 0, 0) and e.year > s.year else e.year
    return list(range(s.year, last + 1))


def _stack_vrt(hrefs: Sequence[str]) -> str | None:
    """A GDAL VRT (XML) stacking single-band COGs on one grid, or None if their grids differ.

    Reading a three-band composite through one VRT costs one warp instead of three (the
    reprojection set-up, not the pixels, dominates a tile's read time).
    """
    metas = []
    for href in hrefs:
        with rasterio.open(href) as src:
            metas.append((src.width, src.height, tuple(src.transform), src.crs, src.dtypes[0], repr(src.nodata),
                          src.scales[0], src.offsets[0], src.nodata))
    first = metas[0]
    if any(m[:6] != first[:6] for m in metas[1:]):
        return None
    width, height, gt, crs, dtype, _, _, _, nodata = first
    gdal_type = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
                 "int32": "Int32", "float32": "Float32", "float64": "Float64"}.get(dtype)
    if gdal_type is None:
        return None
    from xml.sax.saxutils import escape

    geo = ", ".join(repr(v) for v in (gt[2], gt[0], gt[1], gt[5], gt[3], gt[4]))
    bands = []
    for i, (href, meta) in enumerate(zip(hrefs, metas), start=1):
        nd = "" if nodata is None else f"<NoDataValue>{'nan' if math.isnan(nodata) else repr(nodata)}</NoDataValue>"
        bands.append(
            f'<VRTRasterBand dataType="{gdal_type}" band="{i}">{nd}<Offset>{meta[7]!r}</Offset><Scale>{meta[6]!r}</Scale>'
            f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(href)}</SourceFilename>'
            f"<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>"
        )
    return (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{escape(crs.to_wkt())}</SRS>'
            f"<GeoTransform>{geo}</GeoTransform>{''.join(bands)}</VRTDataset>")


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _hex(rgba: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*[int(c) for c in rgba[:3]])


@functools.lru_cache(maxsize=64)
def _colormap_lut(name: str) -> np.ndarray:
    """A rio-tiler colour map as a (256, 4) uint8 lookup table."""
    rio_name = _CMAP_ALIASES.get(name.lower(), name.lower())
    table = _rio_cmaps.get(rio_name)
    lut = np.zeros((256, 4), np.uint8)
    for k, v in table.items():
        lut[int(k)] = [int(c) for c in v]
    lut.setflags(write=False)
    return lut


def _tile_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web-mercator XYZ tile -> lon/lat bounds (west, south, east, north)."""
    n = 2.0**z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return (x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y))


def _lonlat_to_mercator(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Exact: lon/lat rectangles stay rectangles in web mercator."""
    r = 6378137.0
    w, s, e, n = bbox
    s, n = max(s, -_MAX_LAT), min(n, _MAX_LAT)

    def y(lat: float) -> float:
        return r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    return (math.radians(w) * r, y(s), math.radians(e) * r, y(n))


# ----------------------------------------------------------------------------------------
# The renderer.
# ----------------------------------------------------------------------------------------
class ProductRenderer:
    """Tiles, maps and animations of the products in one or more product catalogs.

    Args:
        catalog: the product catalog (``LocalCatalog``), or several (annual products and land
            cover live in separate catalogs in the demo); the first to list a product wins.
        refresh_s: how often (seconds) a product's collection JSON is checked for changes;
            a changed one is reloaded (spec, items, styles, pooled files). ``None``: never.
        max_open: idle COGs kept open between requests.
        tile_cache_mb: encoded tiles kept in memory (keyed by the product's version, so a
            changed product is never served stale); 0 turns the cache off.
        read_slots: reads running at once (default: the core count; 8x that for catalogs on
            object storage).
    """

    def __init__(self, catalog: LocalCatalog | Sequence[LocalCatalog], *, refresh_s: float | None = 1.0,
                 max_open: int = 256, tile_cache_mb: float = 64, read_slots: int | None = None):
        self.catalogs: tuple[LocalCatalog, ...] = (catalog,) if isinstance(catalog, LocalCatalog) else tuple(catalog)
        if not self.catalogs:
            raise ValueError("ProductRenderer needs at least one catalog")
        self.refresh_s = refresh_s
        self._pool = _DatasetPool(max_open)
        self._products: dict[str, _Product] = {}
        self._index: dict[str, LocalCatalog] | None = None  # product -> catalog
        self._index_stamp: tuple | None = None
        self._index_checked = 0.0
        self._lock = threading.RLock()
        self._empty: dict[tuple[str, int], bytes] = {}
        self._stacks: dict[tuple[str, ...], str | None] = {}  # composite bands -> stacking VRT
        self._tiles = _BytesCache(tile_cache_mb * 2**20)
        # At most this many reads at once: beyond the core count, threads only contend (for the
        # GIL and GDAL's locks) and throughput falls (97 -> 120 tiles/s at 32 clients, 2 cores).
        # Remote catalogs wait on the network instead, so they get more.
        cpus = os.cpu_count() or 1
        remote = not all(_is_local(c.root) for c in self.catalogs)
        self._slots = threading.BoundedSemaphore(read_slots or (8 * cpus if remote else cpus))

    def __repr__(self) -> str:
        return f"ProductRenderer({', '.join(c.root for c in self.catalogs)})"

    def close(self) -> None:
        """Close the pooled COGs and drop cached tiles."""
        self._pool.close()
        self._tiles.clear()

    # -- catalog state -------------------------------------------------------------------
    def _catalog_stamp(self) -> tuple:
        return tuple(_stat(os.path.join(c.root, "catalog.json")) if _is_local(c.root) else None for c in self.catalogs)

    def _product_index(self) -> dict[str, LocalCatalog]:
        now = time.monotonic()
        index = self._index
        if index is not None and (self.refresh_s is None or now - self._index_checked < self.refresh_s):
            return index
        with self._lock:
            stamp = self._catalog_stamp()
            if self._index is None or stamp != self._index_stamp:
                found: dict[str, LocalCatalog] = {}
                for cat in self.catalogs:
                    for name in cat.collections():
                        if name in found:
                            continue
                        try:
                            if PRODUCT_KEY in cat.collection(name).extra_fields:
                                found[name] = cat
                        except Exception:  # a broken collection is not a product to show
                            continue
                self._index, self._index_stamp = found, stamp
            self._index_checked = now
            return self._index

    def products(self) -> list[str]:
        """Names of the products (collections carrying a product spec)."""
        return list(self._product_index())

    def catalog_of(self, product: str) -> LocalCatalog:
        """The catalog that serves ``product`` (raises ``UnknownProduct``)."""
        index = self._product_index()
        if product not in index:
            raise UnknownProduct(product, list(index))
        return index[product]

    def _product(self, name: str) -> _Product:
        prod = self._products.get(name)
        if prod is not None:
            if self.refresh_s is None or time.monotonic() - prod.checked < self.refresh_s:
                return prod
            if prod.stamp is None or _stat(_collection_path(prod.catalog, name)) == prod.stamp:
                prod.checked = time.monotonic()
                return prod
        with self._lock:
            current = self._products.get(name)
            if current is not None and current is not prod:
                return current  # another thread reloaded it meanwhile
            index = self._product_index()
            if name not in index:
                raise UnknownProduct(name, list(index))
            fresh = self._load(name, index[name])
            if prod is not None:  # files of the old version may have been rewritten
                old = {h for items in prod.items.values() for i in items for h in i.hrefs.values()}
                self._pool.discard(sorted(old))
                for key in [k for k in self._stacks if old.intersection(k)]:
                    del self._stacks[key]
            self._products[name] = fresh
            return fresh

    def _load(self, name: str, cat: LocalCatalog) -> _Product:
        stamp = _stat(_collection_path(cat, name)) if _is_local(cat.root) else None
        # The catalog caches collections it read; drop ours so a changed file is read again.
        getattr(cat, "_collections", {}).pop(name, None)
        spec = spec_from_collection(cat, name)
        by_year: dict[int, list[_Item]] = {}
        boxes = []
        for item in cat.items(name):
            bbox = tuple(float(v) for v in item.bbox) if item.bbox else (-180.0, -90.0, 180.0, 90.0)
            hrefs = {k: a.href for k, a in item.assets.items()}
            ref = _Item(item.id, bbox, hrefs)  # type: ignore[arg-type]
            boxes.append(bbox)
            for year in _item_years(item):
                by_year.setdefault(year, []).append(ref)
        bounds = None
        if boxes:
            arr = np.array(boxes)
            bounds = (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max()))
        return _Product(name, cat, spec, {y: tuple(v) for y, v in by_year.items()}, bounds, stamp, time.monotonic())

    def version(self, product: str) -> str:
        """A token that changes whenever the product changes (for ETags and cache keys)."""
        return self._product(product).version

    # -- styles --------------------------------------------------------------------------
    def _composites(self, spec: ProductSpec) -> dict[str, tuple[str, ...]]:
        names = {b.name for b in spec.bands}
        out = {}
        for key, public in _COMPOSITE_NAMES.items():
            bands = spec.extra.get(key)
            if isinstance(bands, (list, tuple)) and len(bands) == 3 and all(b in names for b in bands):
                out[public] = tuple(str(b) for b in bands)
        return out

    def _style(self, prod: _Product, band: str | None) -> _Style:
        style = prod.styles.get(band)
        if style is None:
            style = self._make_style(prod, band)
            prod.styles[band] = style
        return style

    def _make_style(self, prod: _Product, band: str | None) -> _Style:
        spec = prod.spec
        composites = self._composites(spec)
        names = [b.name for b in spec.bands]
        if band is None:
            if "true_colour" in composites:
                band = "true_colour"
            else:
                default = spec.extra.get("default_band")
                band = str(default) if default in names else names[0]
        key = _COMPOSITE_ALIASES.get(band.lower())
        if key is not None and _COMPOSITE_NAMES[key] in composites:
            public = _COMPOSITE_NAMES[key]
            bands = composites[public]
            lo, hi = spec.value_range or self._auto_range(prod, bands[0])
            label = f"{'true' if key == 'rgb' else 'false'} colour ({', '.join(bands)})"
            return _Style("rgb", public, bands, label, spec.band(bands[0]).units, float(lo), float(hi))
        if band not in names:
            raise UnknownBand(prod.name, band, names + list(composites))
        pb = spec.band(band)
        if spec.colormap == "scheme" and np.issubdtype(np.dtype(pb.dtype), np.integer):
            table = self._colour_table(prod, band)
            legend = spec.extra.get("legend") or {}
            if (table is None or not legend) and band == spec.extra.get("default_band") and spec.extra.get("scheme"):
                # No colour table in the COG, or no legend in the spec: the scheme's own.
                from ..landcover import load_scheme  # lazily: the land-cover package is heavy

                try:
                    scheme = load_scheme(str(spec.extra["scheme"]))
                except Exception:  # an unknown scheme file: draw what the COG says
                    scheme = None
                if scheme is not None:
                    table = table or {int(c): tuple(v) for c, v in scheme.colormap().items()}  # type: ignore[misc]
                    legend = legend or {str(c): n for c, n in scheme.names("es").items()}
            if table is not None:
                lut = np.zeros((max(max(table) + 1, 256), 4), np.uint8)
                for code, rgba in table.items():
                    lut[code] = rgba
                if pb.nodata is not None and 0 <= int(pb.nodata) < len(lut):
                    lut[int(pb.nodata)] = 0
                lut.setflags(write=False)
                if isinstance(legend, Mapping) and legend:
                    codes = sorted(int(c) for c in legend)
                    names_ = {int(c): str(n) for c, n in legend.items()}
                else:  # no legend: the colour table's visible entries
                    codes = [c for c, v in sorted(table.items()) if v[3] > 0 and tuple(v) != (0, 0, 0, 255)]
                    names_ = {c: str(c) for c in codes}
                if pb.nodata is not None:
                    codes = [c for c in codes if c != int(pb.nodata)]
                classes = tuple((c, names_[c], tuple(int(v) for v in lut[c])) for c in codes if c < len(lut))
                palette = transparent = None
                if len(lut) == 256 and pb.nodata is not None and 0 <= int(pb.nodata) < 256:
                    palette, transparent = lut, int(pb.nodata)  # the COG's table as it is
                return _Style("classes", band, (band,), pb.description or band, pb.units, lut=lut,
                              classes=classes, palette=palette, transparent=transparent)  # type: ignore[arg-type]
        default = spec.extra.get("default_band")
        ranges = spec.extra.get("value_ranges") or {}
        in_composite = any(band in bands for bands in composites.values())
        if isinstance(ranges, Mapping) and band in ranges:
            lo, hi = ranges[band]
        elif spec.value_range and (in_composite or band == default or (isinstance(default, str) and band.startswith(default))):
            lo, hi = spec.value_range
        else:
            lo, hi = self._auto_range(prod, band)
        cmap = spec.colormap if spec.colormap not in (None, "rgb", "scheme") else ("gray" if in_composite else "viridis")
        try:
            lut = _colormap_lut(cmap)
        except Exception:  # an unknown name in a spec: still draw, in a neutral map
            cmap, lut = "viridis", _colormap_lut("viridis")
        label = spec.title if band == default else f"{spec.title}: {band}"
        # 255 of the colour map's 256 entries, evenly spaced, and one transparent entry.
        palette = np.zeros((256, 4), np.uint8)
        palette[:255] = lut[np.rint(np.linspace(0, 255, 255)).astype(int)]
        palette.setflags(write=False)
        return _Style("continuous", band, (band,), label, pb.units, float(lo), float(hi), cmap, lut,
                      palette=palette, transparent=255)

    def _colour_table(self, prod: _Product, band: str) -> dict[int, tuple[int, int, int, int]] | None:
        """The colour table of a band's COGs (the most recent item that has one)."""
        for year in reversed(prod.years):
            for item in prod.items[year]:
                href = item.hrefs.get(band)
                if href is None:
                    continue
                with rasterio.Env(**_GDAL_OPTIONS), self._pool.dataset(href) as ds:
                    try:
                        return {int(k): tuple(int(c) for c in v) for k, v in ds.colormap(1).items()}  # type: ignore[misc]
                    except ValueError:
                        return None
        return None

    def _auto_range(self, prod: _Product, band: str) -> tuple[float, float]:
        """2nd-98th percentile of a band over the latest year (bands without a value range)."""
        samples = []
        years = prod.years
        with rasterio.Env(**_GDAL_OPTIONS):
            for item in (prod.items[years[-1]] if years else ())[:8]:
                href = item.hrefs.get(band)
                if href is None:
                    continue
                with self._pool.dataset(href) as ds:
                    shape = (1, min(ds.height, 256), min(ds.width, 256))
                    v = ds.read(1, out_shape=shape, masked=True).astype(np.float64)
                    v = v * (ds.scales[0] or 1.0) + (ds.offsets[0] or 0.0)
                    samples.append(v.compressed())
        values = np.concatenate(samples) if samples else np.empty(0)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return (0.0, 1.0)
        lo, hi = (float(x) for x in np.percentile(values, [2, 98]))
        if hi <= lo:
            hi = lo + (abs(lo) or 1.0)
        return (lo, hi)

    # -- layers --------------------------------------------------------------------------
    def layers(self) -> list[LayerInfo]:
        """Every product as a layer (sorted as the catalogs list them)."""
        return [self.layer(name) for name in self.products()]

    def layer(self, product: str) -> LayerInfo:
        """One product as a layer; :class:`UnknownProduct` if there is none of that name."""
        prod = self._product(product)
        spec = prod.spec
        composites = self._composites(spec)
        style = self._style(prod, None)
        names = [b.name for b in spec.bands]
        default = spec.extra.get("default_band")
        legend = colors = None
        if style.kind == "classes":
            legend = {str(c): n for c, n, _ in style.classes}
            colors = {str(c): _hex(rgba) for c, _, rgba in style.classes}
        stops: tuple[str, ...] = ()
        if style.lut is not None and style.kind == "continuous":
            stops = tuple(_hex(style.lut[i]) for i in np.linspace(0, 255, 9).round().astype(int))
        return LayerInfo(
            product=prod.name, title=spec.title, description=spec.description, kind=style.kind,
            bands=tuple(names), composites=tuple(composites),
            default_band=str(default) if default in names else names[0], default_style=style.name,
            colormap=style.cmap if style.kind == "continuous" else ("rgb" if style.kind == "rgb" else spec.colormap),
            colormap_stops=stops,
            value_range=(style.vmin, style.vmax) if style.kind != "classes" else None,
            years=prod.years, bounds=prod.bounds, units={b.name: b.units for b in spec.bands},
            legend=legend, legend_colors=colors, version=prod.version,
        )

    # -- reading -------------------------------------------------------------------------
    def _year_items(self, prod: _Product, year: int) -> tuple[_Item, ...]:
        items = prod.items.get(int(year))
        if items is None:
            raise UnknownYear(prod.name, year, prod.years)
        return items

    def _mosaic(self, items: Sequence[_Item], style: _Style,
                read: Callable[[Reader, int | tuple[int, ...]], ImageData]) -> np.ma.MaskedArray | None:
        """Mosaic of ``read`` over the items (first valid pixel wins); None when nothing is read."""
        options = {"unscale": style.unscale, "resampling_method": "nearest", "reproject_method": "nearest"}

        def reader(item: _Item, *args: Any, **kwargs: Any) -> ImageData:
            hrefs = [item.hrefs[b] for b in style.bands]
            if len(hrefs) > 1:
                xml = self._stacks.get(tuple(hrefs), "")
                if xml == "":
                    xml = self._stacks[tuple(hrefs)] = _stack_vrt(hrefs)
                if xml is not None:
                    with self._pool.dataset(xml, lambda: rasterio.open(xml)) as ds:
                        return read(Reader(None, dataset=ds, options=options), tuple(range(1, len(hrefs) + 1)))  # type: ignore[arg-type]
            parts = []
            for href in hrefs:
                with self._pool.dataset(href) as ds:
                    parts.append(read(Reader(None, dataset=ds, options=options), 1))  # type: ignore[arg-type]
            if len(parts) == 1:
                return parts[0]
            return ImageData(np.ma.concatenate([p.array for p in parts]), bounds=parts[0].bounds, crs=parts[0].crs)

        try:
            # Serial: a tile reads one or two small windows, less work than a thread pool's start.
            img, _ = mosaic_reader(list(items), reader, threads=0, allowed_exceptions=(TileOutsideBounds,))
        except EmptyMosaicError:
            return None
        return img.array

    def _read_tile(self, prod: _Product, style: _Style, year: int, z: int, x: int, y: int,
                   tilesize: int) -> np.ma.MaskedArray | None:
        items = self._year_items(prod, year)
        if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise InvalidRequest(f"no tile z={z} x={x} y={y}: x and y must be in 0..{2**z - 1} at zoom {z}")
        box = _tile_lonlat(z, x, y)
        hits = [i for i in items if _overlaps(box, i.bbox) and all(b in i.hrefs for b in style.bands)]
        if not hits:
            return None
        merc = _lonlat_to_mercator(box)
        with self._slots, rasterio.Env(**_GDAL_OPTIONS):
            # Reader.part() on the tile's web-mercator bounds is what Reader.tile() does after
            # its tile_exists() check; that check reprojects the COG's bounds on every call
            # (~2 ms), and the lon/lat boxes above already made it.
            return self._mosaic(hits, style, lambda r, idx: r.part(
                merc, dst_crs=_WEB_MERCATOR, bounds_crs=_WEB_MERCATOR, width=tilesize, height=tilesize,
                max_size=None, indexes=idx))

    def _read_bbox(self, prod: _Product, style: _Style, year: int, bbox: Sequence[float], crs: CRS,
                   width: int, height: int) -> np.ma.MaskedArray | None:
        items = self._year_items(prod, year)
        lonlat = bbox if crs == CRS.from_epsg(4326) else transform_bounds(crs, "EPSG:4326", *bbox, densify_pts=21)
        hits = [i for i in items if _overlaps(lonlat, i.bbox) and all(b in i.hrefs for b in style.bands)]
        if not hits:
            return None
        with self._slots, rasterio.Env(**_GDAL_OPTIONS):
            return self._mosaic(hits, style, lambda r, idx: r.part(tuple(bbox), dst_crs=crs, bounds_crs=crs,
                                                                   width=width, height=height, max_size=None,
                                                                   indexes=idx))

    # -- tiles and maps ------------------------------------------------------------------
    def tile(self, product: str, year: int, z: int, x: int, y: int, *, band: str | None = None,
             fmt: str = "png", tilesize: int = 256) -> bytes:
        """A web-mercator XYZ tile of a product-year as PNG or WebP bytes.

        Outside the data the tile is fully transparent (same format). ``band``: a data band,
        ``true_colour``/``false_colour`` for products with those composites, or None for the
        product's default picture.

        Raises:
            UnknownProduct, UnknownYear, UnknownBand; InvalidRequest for a bad index, size or format.
        """
        fmt = self._format(fmt, allowed=("png", "webp"))
        if not 16 <= tilesize <= 1024:
            raise InvalidRequest(f"tilesize {tilesize} must be within 16..1024 (256 or 512 usual)")
        prod = self._product(product)
        style = self._style(prod, band)
        key = (product, prod.version, int(year), z, x, y, style.name, fmt, tilesize)
        cached = self._tiles.get(key)
        if cached is not None:
            return cached
        data = self._read_tile(prod, style, year, z, x, y, tilesize)
        if data is None or np.ma.getmaskarray(data).all():
            out = self._empty_tile(fmt, tilesize)
        elif style.palette is not None and fmt == "png":
            out = self._encode_paletted(style.indexed(data), style.palette)
        else:
            out = self.encode(style.rgba(data), fmt, lossless=style.kind == "classes")
        self._tiles.put(key, out)
        return out

    @staticmethod
    def _encode_paletted(idx: np.ndarray, palette: np.ndarray) -> bytes:
        img = Image.fromarray(idx, "P")
        img.putpalette(palette[:, :3].tobytes())
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=1, transparency=palette[:, 3].tobytes())
        return buf.getvalue()

    def _empty_tile(self, fmt: str, size: int) -> bytes:
        key = (fmt, size)
        if key not in self._empty:
            self._empty[key] = self.encode(np.zeros((size, size, 4), np.uint8), fmt, lossless=True)
        return self._empty[key]

    def render_bbox(self, product: str, year: int, bbox: Sequence[float], width: int, height: int, *,
                    crs: str = "EPSG:4326", band: str | None = None) -> np.ndarray:
        """A (height, width, 4) uint8 RGBA picture of exactly ``bbox`` (x/y order) in ``crs``.

        Transparent where there is no data. For WMS GetMap and animations.

        Raises:
            UnknownProduct, UnknownYear, UnknownBand; InvalidRequest for a bad bbox, size or CRS.
        """
        prod = self._product(product)
        style = self._style(prod, band)
        dst = self._crs(crs)
        box = self._bbox(bbox)
        self._size(width, height)
        data = self._read_bbox(prod, style, year, box, dst, int(width), int(height))
        if data is None:
            return np.zeros((int(height), int(width), 4), np.uint8)
        return style.rgba(data)

    @staticmethod
    def _format(fmt: str, allowed: Sequence[str] = ("png", "webp", "jpeg")) -> str:
        f = _FORMAT_ALIASES.get(str(fmt).lower())
        if f is None or f not in allowed:
            raise InvalidRequest(f"format {fmt!r} is not served; use one of: {', '.join(allowed)}")
        return f

    @staticmethod
    def _crs(crs: str) -> CRS:
        name = str(crs).upper()
        if name in ("CRS:84", "OGC:CRS84"):
            name = "EPSG:4326"
        try:
            return CRS.from_user_input(name)
        except Exception:
            raise InvalidRequest(f"unknown CRS {crs!r}; use e.g. EPSG:4326, EPSG:3857 or EPSG:6372") from None

    @staticmethod
    def _bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
        try:
            box = tuple(float(v) for v in bbox)
        except (TypeError, ValueError):
            raise InvalidRequest("bbox must be four numbers: minx, miny, maxx, maxy") from None
        if len(box) != 4 or not all(math.isfinite(v) for v in box) or not (box[0] < box[2] and box[1] < box[3]):
            raise InvalidRequest(f"bbox {list(bbox)} must be four finite numbers with minx < maxx and miny < maxy")
        return box  # type: ignore[return-value]

    @staticmethod
    def _size(width: int, height: int, limit: int = 8192) -> None:
        if not (1 <= int(width) <= limit and 1 <= int(height) <= limit):
            raise InvalidRequest(f"width and height must be within 1..{limit} px, not {width} x {height}")

    @staticmethod
    def encode(rgba: np.ndarray, fmt: str, *, lossless: bool = False, quality: int = 85) -> bytes:
        """(h, w, 4) or (h, w, 3) uint8 -> PNG, WebP (lossy unless ``lossless``) or JPEG bytes.

        JPEG has no alpha: transparent pixels become white.
        """
        fmt = ProductRenderer._format(fmt)
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
            # method 0: the fastest encoder setting; a tile is re-encoded far more often than it is looked at closely
            img.save(buf, "WEBP", lossless=lossless, quality=quality if not lossless else 100, method=0)
        return buf.getvalue()

    # -- animations ----------------------------------------------------------------------
    def frames(self, product: str, years: Sequence[int], bbox: Sequence[float], *, size: int = 512,
               band: str | None = None, attribution: str = "") -> list[Image.Image]:
        """One labelled "P"-mode frame per year of exactly the lon/lat ``bbox``, sharing one palette.

        Each frame: the map (web mercator, aspect ratio kept) on a grey "no data" background,
        the year large in the upper left, and below it a strip with the legend and the
        attribution; the frame's long side is ``size``. Years without data are "no data" frames.
        Colour-mapped bands use the colour map's own entries (240 of its 256, evenly spaced:
        16 palette slots are kept for background, text and legend); class maps their class
        colours; RGB composites one adaptive palette computed over all frames.
        """
        prod = self._product(product)
        style = self._style(prod, band)
        years = [int(y) for y in years]
        if not years:
            raise InvalidRequest("an animation needs at least one year")
        if len(years) > 200:
            raise InvalidRequest(f"{len(years)} years is too many for one animation (at most 200)")
        if not 64 <= int(size) <= 4096:
            raise InvalidRequest(f"size {size} must be within 64..4096 px (the long side)")
        box = self._bbox(bbox)
        if not (-180 <= box[0] and box[2] <= 180 and -_MAX_LAT <= box[1] and box[3] <= _MAX_LAT):
            raise InvalidRequest(f"bbox {list(box)} must be lon/lat (WGS84) within web mercator's latitudes")
        merc = _lonlat_to_mercator(box)
        layout = _Layout.make(style, merc, int(size), attribution)
        data: list[np.ma.MaskedArray | None] = []
        for year in years:
            try:
                data.append(self._read_bbox(prod, style, year, merc, _WEB_MERCATOR, layout.map_w, layout.map_h))
            except UnknownYear:
                data.append(None)
        return _draw_frames(style, layout, years, data, attribution)

    def animation(self, product: str, years: Sequence[int], bbox: Sequence[float], *, fps: float = 2,
                  size: int = 512, band: str | None = None, attribution: str, hold_last_s: float = 2.0) -> bytes:
        """An animated GIF, one frame per year (see :meth:`frames`), looping forever.

        Each frame shows ``1/fps`` s; the last one ``hold_last_s`` longer.
        """
        durations = self._durations(len(years), fps, hold_last_s)  # checked before any drawing
        frames = self.frames(product, years, bbox, size=size, band=band, attribution=attribution)
        buf = io.BytesIO()
        # The shared palette as the file's global colour table: without it Pillow writes a
        # local table into every frame after the first.
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                       optimize=False, disposal=1, palette=bytes(frames[0].getpalette() or []))
        return buf.getvalue()

    def animation_webp(self, product: str, years: Sequence[int], bbox: Sequence[float], *, fps: float = 2,
                       size: int = 512, band: str | None = None, attribution: str, hold_last_s: float = 2.0,
                       quality: int = 85) -> bytes:
        """The same animation as animated WebP (full colour, smaller than the GIF)."""
        durations = self._durations(len(years), fps, hold_last_s)
        frames = [f.convert("RGB") for f in self.frames(product, years, bbox, size=size, band=band,
                                                         attribution=attribution)]
        buf = io.BytesIO()
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                       quality=quality, method=4)
        return buf.getvalue()

    @staticmethod
    def _durations(n: int, fps: float, hold_last_s: float) -> list[int]:
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


# ----------------------------------------------------------------------------------------
# Frame drawing.
# ----------------------------------------------------------------------------------------
_RAMP = 240  # colour-map entries in a frame's palette; the 16 others are the UI's
_UI = {  # name -> (palette index, rgb)
    "nodata": (240, (222, 222, 222)),
    "strip": (241, (34, 34, 38)),
    "text": (242, (255, 255, 255)),
    "dim": (243, (190, 190, 196)),
    "dark": (244, (16, 16, 20)),
    "edge": (245, (120, 120, 128)),
}


@functools.lru_cache(maxsize=32)
def _font(px: int, bold: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed (Latin accents: class names are Spanish), else Pillow's own."""
    for name in (("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf") if bold
                 else ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")):
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(size=px)


@dataclass(frozen=True)
class _Layout:
    width: int  # frame
    height: int
    map_x: int  # map's offset inside the frame (centred when the legend needs more width)
    map_w: int
    map_h: int
    strip_h: int
    pad: int
    small: int  # font sizes
    big: int
    rows: int  # legend rows

    @staticmethod
    def make(style: _Style, merc: Sequence[float], size: int, attribution: str) -> _Layout:
        small = max(9, round(size * 0.026))
        pad = max(3, round(small * 0.5))
        row = round(small * 1.8)
        rows = 2 if style.kind == "classes" else 1
        strip = pad + rows * row + (round(small * 1.5) if attribution else 0) + pad
        aspect = (merc[2] - merc[0]) / (merc[3] - merc[1])
        if aspect >= size / (size - strip):
            map_w, map_h = size, max(1, round(size / aspect))
        else:
            map_h = size - strip
            map_w = max(1, round(map_h * aspect))
        width = max(map_w, min(size, round(size * 0.6)))  # room for the legend next to a narrow map
        big = max(10, min(round(size * 0.08), round(map_h * 0.3)))  # the year: large, not the whole map
        return _Layout(width, map_h + strip, (width - map_w) // 2, map_w, map_h, strip, pad, small, big, rows)


def _palette(style: _Style) -> tuple[list[int], dict[int, int] | None]:
    """Palette (768 values) for colour-mapped and class frames, and class code -> index."""
    pal = np.zeros((256, 3), np.uint8)
    codes = None
    if style.kind == "continuous":
        assert style.lut is not None
        pal[:_RAMP] = style.lut[np.rint(np.linspace(0, 255, _RAMP)).astype(int), :3]
    elif style.kind == "classes":
        codes = {c: i for i, (c, _, _) in enumerate(style.classes[:_RAMP])}
        for c, i in codes.items():
            pal[i] = style.classes[i][2][:3]
    for idx, rgb in _UI.values():
        pal[idx] = rgb
    return pal.flatten().tolist(), codes


def _draw_frames(style: _Style, lay: _Layout, years: Sequence[int], data: Sequence[np.ma.MaskedArray | None],
                 attribution: str) -> list[Image.Image]:
    paletted = style.kind == "continuous" or (style.kind == "classes" and len(style.classes) <= _RAMP)
    present: set[int] = set()
    if style.kind == "classes":
        for d in data:
            if d is not None:
                present.update(int(c) for c in np.unique(np.ma.getdata(d)[0][~np.ma.getmaskarray(d)[0]]))
    pal, codes = _palette(style) if paletted else ([], None)
    frames = []
    for year, d in zip(years, data):
        empty = d is None or np.ma.getmaskarray(d).all()
        if paletted:
            frame = np.full((lay.height, lay.width), _UI["nodata"][0], np.uint8)
            frame[lay.map_h:] = _UI["strip"][0]
            if not empty:
                assert d is not None
                mask = np.ma.getmaskarray(d)[0]
                if style.kind == "continuous":
                    idx = style.levels(np.ma.getdata(d)[0], _RAMP)
                else:
                    lut = np.full(max(max(codes or {0: 0}) + 1, 1), _UI["nodata"][0], np.uint8)
                    for c, i in (codes or {}).items():
                        lut[c] = i
                    raw = np.ma.getdata(d)[0].astype(np.int64)
                    ok = (raw >= 0) & (raw < len(lut))
                    idx = np.where(ok, lut[np.where(ok, raw, 0)], _UI["nodata"][0])
                frame[: lay.map_h, lay.map_x: lay.map_x + lay.map_w] = np.where(mask, _UI["nodata"][0], idx)
            img = Image.fromarray(frame, "P")
            img.putpalette(pal)
            ink: Callable[[str], Any] = lambda name: _UI[name][0]  # noqa: E731
        else:
            frame = np.empty((lay.height, lay.width, 3), np.uint8)
            frame[:] = _UI["nodata"][1]
            frame[lay.map_h:] = _UI["strip"][1]
            if not empty:
                assert d is not None
                rgba = style.rgba(d).astype(np.uint16)
                a = rgba[..., 3:4]
                bg = np.array(_UI["nodata"][1], np.uint16)
                frame[: lay.map_h, lay.map_x: lay.map_x + lay.map_w] = ((rgba[..., :3] * a + bg * (255 - a)) // 255).astype(np.uint8)
            img = Image.fromarray(frame, "RGB")
            ink = lambda name: _UI[name][1]  # noqa: E731
        draw = ImageDraw.Draw(img)
        _draw_label(draw, lay, str(year), ink)
        if empty:
            _draw_nodata(draw, lay, ink)
        _draw_legend(draw, img, lay, style, ink, present, paletted)
        if attribution:
            font = _font(lay.small, bold=False)
            y = lay.height - lay.pad - round(lay.small * 1.5) + round(lay.small * 0.2)
            draw.text((lay.pad, y), _fit(draw, attribution, font, lay.width - 2 * lay.pad), font=font, fill=ink("dim"))
        frames.append(img)
    if paletted:
        return frames
    # RGB composites: one adaptive palette over all frames (no flicker, one global table).
    strip = Image.new("RGB", (lay.width, lay.height * len(frames)))
    for i, f in enumerate(frames):
        strip.paste(f, (0, i * lay.height))
    shared = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return [f.quantize(palette=shared, dither=Image.Dither.NONE) for f in frames]


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _draw_label(draw: ImageDraw.ImageDraw, lay: _Layout, text: str, ink: Callable[[str], Any]) -> None:
    font = _font(lay.big)
    x0, y0 = lay.map_x + lay.pad, lay.pad
    left, top, right, bottom = draw.textbbox((x0, y0), text, font=font, stroke_width=max(1, lay.big // 16))
    m = max(2, lay.big // 6)
    draw.rounded_rectangle((left - m, top - m, right + m, bottom + m), radius=m, fill=ink("dark"))
    draw.text((x0, y0), text, font=font, fill=ink("text"), stroke_width=max(1, lay.big // 16), stroke_fill=ink("dark"))


def _draw_nodata(draw: ImageDraw.ImageDraw, lay: _Layout, ink: Callable[[str], Any]) -> None:
    font = _font(max(10, lay.big // 2))
    cx, cy = lay.map_x + lay.map_w / 2, lay.map_h / 2
    left, top, right, bottom = draw.textbbox((cx, cy), "no data", font=font, anchor="mm")
    m = max(2, lay.small // 2)
    draw.rectangle((left - m, top - m, right + m, bottom + m), fill=ink("dark"))
    draw.text((cx, cy), "no data", font=font, fill=ink("text"), anchor="mm")


def _fmt_value(v: float) -> str:
    return f"{v:.3g}"


def _draw_legend(draw: ImageDraw.ImageDraw, img: Image.Image, lay: _Layout, style: _Style,
                 ink: Callable[[str], Any], present: set[int], paletted: bool) -> None:
    font = _font(lay.small, bold=False)
    row = round(lay.small * 1.8)
    y = lay.map_h + lay.pad
    cy = y + row / 2
    x, right = lay.pad, lay.width - lay.pad
    if style.kind == "continuous":
        units = "" if style.units in ("", "1") else f" ({style.units})"
        lo, hi = _fmt_value(style.vmin), _fmt_value(style.vmax)
        title = _fit(draw, style.label + units, font, max(20, (right - x) // 3))
        wlo, whi, wt = (draw.textlength(t, font=font) for t in (lo, hi, title))
        gap = lay.pad
        bar0, bar1 = int(x + wlo + gap), int(right - wt - 2 * gap - whi)
        draw.text((x, cy), lo, font=font, fill=ink("text"), anchor="lm")
        if bar1 - bar0 >= 8:
            bh = max(4, round(row * 0.55))
            top = int(cy - bh / 2)
            n = bar1 - bar0
            assert style.lut is not None
            if paletted:
                idx = np.rint(np.linspace(0, _RAMP - 1, n)).astype(np.uint8)
                bar = Image.fromarray(np.repeat(idx[None, :], bh, axis=0), "P")
                img.paste(bar, (bar0, top))  # same palette: indices are copied as they are
            else:
                cols = style.lut[np.rint(np.linspace(0, 255, n)).astype(int), :3]
                img.paste(Image.fromarray(np.repeat(cols[None], bh, axis=0), "RGB"), (bar0, top))
            draw.rectangle((bar0 - 1, top - 1, bar1, top + bh), outline=ink("edge"))
            draw.text((bar1 + gap, cy), hi, font=font, fill=ink("text"), anchor="lm")
        draw.text((right, cy), title, font=font, fill=ink("dim"), anchor="rm")
    elif style.kind == "rgb":
        text = f"{style.label}, reflectance {_fmt_value(style.vmin)}–{_fmt_value(style.vmax)}"
        draw.text((x, cy), _fit(draw, text, font, right - x), font=font, fill=ink("text"), anchor="lm")
    else:
        shown = [(c, n, i) for i, (c, n, _) in enumerate(style.classes) if not present or c in present]
        sw = max(6, round(lay.small * 0.9))
        r = 0
        for code, name, i in shown:
            w = sw + 4 + draw.textlength(name, font=font) + lay.pad * 2
            if x + w > right and x > lay.pad:  # next row, or "…" when the rows are full
                if r + 1 >= lay.rows:
                    draw.text((x, cy), "…", font=font, fill=ink("text"), anchor="lm")
                    break
                r, x = r + 1, lay.pad
                cy = y + row * r + row / 2
            fill = i if paletted else style.classes[i][2][:3]
            draw.rectangle((x, int(cy - sw / 2), x + sw, int(cy + sw / 2)), fill=fill, outline=ink("edge"))
            draw.text((x + sw + 4, cy), _fit(draw, name, font, right - x - sw - 4), font=font, fill=ink("text"),
                      anchor="lm")
            x += int(w)
