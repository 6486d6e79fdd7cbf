"""Pictures of the annual products: XYZ tiles, WMS maps, frames and animated GIF/WebP.

Everything the API draws goes through :class:`ProductRenderer`: a product-year is the mosaic
(first valid pixel wins) of its tile COGs, or of its overview level's files at coarse zooms,
each sampled onto the picture's pixel grid (web-mercator XYZ tiles, or a bbox in any CRS) by
:mod:`.sampling`. How a band is drawn comes from the product's spec (:mod:`.styles`, with
rio-tiler's colour maps).

Nodata, and every place outside the product's tiles, is transparent. A request that misses the
data is answered with a transparent picture, never an error; a product, year or band that does
not exist is a typed error (:class:`UnknownProduct`, :class:`UnknownYear`, :class:`UnknownBand`)
whose message says what exists, so the API can answer 404/422.

Tiles must be fast (the API's benchmark wants p50 under 20 ms on two cores), so per-request work
is kept small: product state is cached (:mod:`.product_index`); only items whose box meets the
request are read; open COGs are pooled and reused across requests (:mod:`.datasets`), and every
read runs in one shared set of GDAL options (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: no
directory listing per open).

Layering: errors <- geometry, encoding, cache, datasets, sampling, styles <- product_index <-
layers, drawing, animation <- renderer.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import rasterio
from PIL import Image
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio passes on unwrapped
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds

from ..cube import LocalCatalog
from . import encoding
from .animation import encode_gif, encode_webp, frame_durations
from .cache import BytesCache
from .datasets import GDAL_OPTIONS, DatasetPool, stack_vrt
from .drawing import Layout, Words, draw_frames
from .errors import InvalidRequest, ServerBusy, UnknownYear, UnreadableData
from .geometry import (
    MAX_LAT,
    WEB_MERCATOR,
    check_bbox,
    check_in_domain,
    check_size,
    lonlat_to_mercator,
    overlaps,
    parse_crs,
    tile_lonlat,
)
from .layers import LANGUAGES, LayerInfo, layer_info, public_text
from .product_index import Product, ProductIndex, ProductItem
from .sampling import PixelMapCache, read_onto
from .styles import ColourTable, Style, build_style

__all__ = ["ProductRenderer"]

log = logging.getLogger("ecointegrity.web")

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
        max_wait_s: how long a read waits for a slot before the request is answered "busy"
            (:class:`ServerBusy`, HTTP 503 with Retry-After) instead of queueing without end.
    """

    def __init__(
        self,
        catalog: LocalCatalog | Sequence[LocalCatalog],
        *,
        refresh_s: float | None = 1.0,
        max_open: int = 256,
        tile_cache_mb: float = 64,
        read_slots: int | None = None,
        max_wait_s: float = 10.0,
    ):
        catalogs = (catalog,) if isinstance(catalog, LocalCatalog) else tuple(catalog)
        if not catalogs:
            raise ValueError("ProductRenderer needs at least one catalog")
        self.catalogs: tuple[LocalCatalog, ...] = catalogs
        self.refresh_s = refresh_s
        self._index = ProductIndex(catalogs, refresh_s=refresh_s, on_reload=self._forget_files)
        self._pool = DatasetPool(max_open)
        self._empty: dict[tuple[str, int], bytes] = {}
        self._stacks: dict[tuple[str, ...], str | None] = {}  # composite bands -> stacking VRT
        self._maps = PixelMapCache()  # an animation samples every year's files on one map
        self._tiles = BytesCache(tile_cache_mb * 2**20)
        self._reported: set[tuple[str, str, int, str]] = set()  # unreadable files logged
        self._lock = threading.Lock()
        # At most this many reads at once: beyond the core count, threads only contend (for the
        # GIL and GDAL's locks) and throughput falls (97 -> 120 tiles/s at 32 clients, 2 cores).
        # Remote catalogs wait on the network instead, so they get more.
        cpus = os.cpu_count() or 1
        self.max_wait_s = max_wait_s
        self._slots = threading.BoundedSemaphore(
            read_slots or (8 * cpus if self._index.remote else cpus)
        )

    def __repr__(self) -> str:
        return f"ProductRenderer({', '.join(c.root for c in self.catalogs)})"

    def tile_cache_stats(self) -> dict[str, int]:
        """The tile cache's hits, misses, entries and bytes (read by ``/metrics``)."""
        return self._tiles.stats()

    def close(self) -> None:
        """Close the pooled COGs and drop cached tiles."""
        self._pool.close()
        self._tiles.clear()

    def _forget_files(self, old: Product) -> None:
        """A product was reloaded: its files may have been rewritten, so let go of them."""
        hrefs = old.hrefs()
        self._pool.discard(sorted(hrefs))
        for key in [k for k in self._stacks if hrefs.intersection(k)]:
            del self._stacks[key]

    # -- products ------------------------------------------------------------------------
    def products(self) -> list[str]:
        """Names of the products (collections carrying a product spec)."""
        return self._index.names()

    def catalog_of(self, product: str) -> LocalCatalog:
        """The catalog that serves ``product`` (raises ``UnknownProduct``)."""
        return self._index.catalog_of(product)

    def version(self, product: str) -> str:
        """A token that changes whenever the product changes (for ETags and cache keys)."""
        return self._index.product(product).version

    def layers(self) -> list[LayerInfo]:
        """Every product as a layer (sorted as the catalogs list them)."""
        return [self.layer(name) for name in self.products()]

    def layer(self, product: str) -> LayerInfo:
        """One product as a layer; :class:`UnknownProduct` if there is none of that name."""
        prod = self._index.product(product)
        return layer_info(prod, self._style(prod, None))

    # -- styles --------------------------------------------------------------------------
    def _style(self, prod: Product, band: str | None) -> Style:
        style = prod.styles.get(band)
        if style is None:
            style = build_style(
                prod.name,
                prod.spec,
                band,
                colour_table=lambda b: self._colour_table(prod, b),
                auto_range=lambda b: self._auto_range(prod, b),
            )
            prod.styles[band] = style
        return style

    def _colour_table(self, prod: Product, band: str) -> ColourTable | None:
        """The colour table of a band's COGs (the most recent item that has one)."""
        for year in reversed(prod.years):
            for item in prod.items[year]:
                href = item.hrefs.get(band)
                if href is None:
                    continue
                with rasterio.Env(**GDAL_OPTIONS), self._pool.dataset(href) as ds:
                    try:
                        table = ds.colormap(1)
                    except ValueError:
                        return None
                    return {
                        int(k): (int(v[0]), int(v[1]), int(v[2]), int(v[3]))
                        for k, v in table.items()
                    }
        return None

    def _auto_range(self, prod: Product, band: str) -> tuple[float, float]:
        """2nd-98th percentile of a band over the latest year (bands without a value range)."""
        samples = []
        years = prod.years
        with rasterio.Env(**GDAL_OPTIONS):
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

    # -- reading -------------------------------------------------------------------------
    def _read_item(
        self,
        item: ProductItem,
        style: Style,
        bounds: tuple[float, float, float, float],
        crs: CRS,
        width: int,
        height: int,
    ) -> np.ma.MaskedArray | None:
        """An item's bands of ``style`` on the picture (bands, height, width), masked where
        the item has no data; None when the item misses the picture."""
        hrefs = [item.hrefs[b] for b in style.bands]
        sources: list[tuple[str, Callable[[], Any] | None, int | tuple[int, ...]]]
        if len(hrefs) > 1:
            xml = self._stacks.get(tuple(hrefs), "")
            if xml == "":
                xml = self._stacks[tuple(hrefs)] = stack_vrt(hrefs)
            if xml is not None:  # one stacked source: one pixel map, one read
                vrt = xml
                sources = [(vrt, lambda: rasterio.open(vrt), tuple(range(1, len(hrefs) + 1)))]
            else:
                sources = [(href, None, 1) for href in hrefs]
        else:
            sources = [(hrefs[0], None, 1)]
        parts = []
        for key, opener, indexes in sources:
            with self._pool.dataset(key, opener) as ds:
                found = self._maps.get(ds.transform, ds.crs, ds.shape, bounds, crs, width, height)
                if found is None:
                    return None
                parts.append(read_onto(ds, indexes, found, unscale=style.unscale))
        return parts[0] if len(parts) == 1 else np.ma.concatenate(parts)

    def _mosaic(
        self,
        items: Sequence[ProductItem],
        style: Style,
        bounds: tuple[float, float, float, float],
        crs: CRS,
        width: int,
        height: int,
    ) -> np.ma.MaskedArray | None:
        """The items' mosaic on the picture (the first item with a valid pixel wins, as
        rio-tiler's ``FirstMethod``); None when no item covers it. Stops once it is full."""
        out: np.ma.MaskedArray | None = None
        for item in items:
            part = self._read_item(item, style, bounds, crs, width, height)
            if part is None:
                continue
            if out is None:
                out = part
            else:
                hole = np.ma.getmaskarray(out)
                out[hole] = part[hole]
            if not np.ma.getmaskarray(out).any():
                break
        return out

    def _read_part(
        self,
        prod: Product,
        style: Style,
        year: int,
        lonlat: tuple[float, float, float, float],
        bounds: tuple[float, float, float, float],
        crs: CRS,
        width: int,
        height: int,
    ) -> np.ma.MaskedArray | None:
        """The year's mosaic over ``bounds`` (in ``crs``) at width x height pixels.

        ``lonlat`` is the same area in longitude/latitude: items that miss it, or lack one of
        the style's bands, are never opened. None when no item covers the area.

        Each item is sampled onto the picture's pixels (:mod:`.sampling`: nearest neighbour,
        from the internal overview that matches the picture's pixels, reading only the source
        window the picture covers): a zoomed-out tile over a small product costs what the
        product's pixels cost, and a tile costs its pixels' decoding, not a warper's set-up.

        The items come from the product's coarsest overview level whose pixels are no coarser
        than the picture's (:meth:`Product.items_for`): at a national zoom a tile reads a few
        overview files instead of every tile COG it covers.
        """
        _, candidates = prod.items_for(year, _pixel_metres(lonlat, bounds, crs, width, height))
        hits = [
            i
            for i in candidates
            if overlaps(lonlat, i.bbox) and all(b in i.hrefs for b in style.bands)
        ]
        if not hits:
            return None
        try:
            with self._read_slot(), rasterio.Env(**GDAL_OPTIONS):
                return self._mosaic(hits, style, bounds, crs, width, height)
        except (RasterioError, CPLE_BaseError) as err:
            self._report_unreadable(prod, year, hits, err)
            raise UnreadableData(prod.name, year) from err

    @contextmanager
    def _read_slot(self) -> Iterator[None]:
        """One of the read slots, or :class:`ServerBusy` after ``max_wait_s``.

        Every read's cost is bounded, but a burst can still queue more of them than the slots
        serve in time: past the wait, the client is told to come back rather than held.
        """
        if not self._slots.acquire(timeout=self.max_wait_s):
            raise ServerBusy(retry_after=max(1, round(self.max_wait_s / 2)))
        try:
            yield
        finally:
            self._slots.release()

    def _report_unreadable(
        self, prod: Product, year: int, items: Sequence[ProductItem], err: Exception
    ) -> None:
        """Log an unreadable file of a product-year once (not once per tile)."""
        key = (prod.name, prod.version, year, str(err))
        with self._lock:
            if key in self._reported:
                return
            self._reported.add(key)
        log.error(
            "%s %d: cannot read a data file (items %s): %s; `ecointegrity catalog check` "
            "lists every unreadable asset",
            prod.name, year, ", ".join(i.id for i in items), err,
        )

    def _read_tile(
        self, prod: Product, style: Style, year: int, z: int, x: int, y: int, tilesize: int
    ) -> np.ma.MaskedArray | None:
        if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise InvalidRequest(
                f"no tile z={z} x={x} y={y}: x and y must be in 0..{2**z - 1} at zoom {z}"
            )
        box = tile_lonlat(z, x, y)
        return self._read_part(
            prod, style, year, box, lonlat_to_mercator(box), WEB_MERCATOR, tilesize, tilesize
        )

    def _read_bbox(
        self,
        prod: Product,
        style: Style,
        year: int,
        bbox: tuple[float, float, float, float],
        crs: CRS,
        width: int,
        height: int,
    ) -> np.ma.MaskedArray | None:
        inside = check_in_domain(bbox, crs)  # an absurd bbox is refused before GDAL sees it
        if inside is None:
            return None
        lonlat = (
            inside
            if crs == CRS.from_epsg(4326)
            else transform_bounds(crs, "EPSG:4326", *inside, densify_pts=21)
        )
        return self._read_part(prod, style, year, lonlat, bbox, crs, width, height)

    # -- tiles and maps ------------------------------------------------------------------
    def tile(
        self,
        product: str,
        year: int,
        z: int,
        x: int,
        y: int,
        *,
        band: str | None = None,
        fmt: str = "png",
        tilesize: int = 256,
    ) -> bytes:
        """A web-mercator XYZ tile of a product-year as PNG or WebP bytes.

        Outside the data the tile is fully transparent (same format). ``band``: a data band,
        ``true_colour``/``false_colour`` for products with those composites, or None for the
        product's default picture.

        Raises:
            UnknownProduct, UnknownYear, UnknownBand; InvalidRequest for a bad index, size or
            format.
        """
        fmt = encoding.image_format(fmt, allowed=("png", "webp"))
        if not 16 <= tilesize <= 1024:
            raise InvalidRequest(f"tilesize {tilesize} must be within 16..1024 (256 or 512 usual)")
        prod = self._index.product(product)
        style = self._style(prod, band)
        key = (product, prod.version, int(year), z, x, y, style.name, fmt, tilesize)
        cached = self._tiles.get(key)
        if cached is not None:
            return cached
        data = self._read_tile(prod, style, year, z, x, y, tilesize)
        if data is None or np.ma.getmaskarray(data).all():
            out = self._empty_tile(fmt, tilesize)
        elif style.palette is not None and fmt == "png":
            out = encoding.encode_paletted(style.indexed(data), style.palette)
        else:
            out = encoding.encode(style.rgba(data), fmt, lossless=style.kind == "classes")
        self._tiles.put(key, out)
        return out

    def _empty_tile(self, fmt: str, size: int) -> bytes:
        key = (fmt, size)
        if key not in self._empty:
            self._empty[key] = encoding.encode(
                np.zeros((size, size, 4), np.uint8), fmt, lossless=True
            )
        return self._empty[key]

    def render_bbox(
        self,
        product: str,
        year: int,
        bbox: Sequence[float],
        width: int,
        height: int,
        *,
        crs: str = "EPSG:4326",
        band: str | None = None,
    ) -> np.ndarray:
        """A (height, width, 4) uint8 RGBA picture of exactly ``bbox`` (x/y order) in ``crs``.

        Transparent where there is no data. For WMS GetMap and animations.

        Raises:
            UnknownProduct, UnknownYear, UnknownBand; InvalidRequest for a bad bbox, size or CRS.
        """
        prod = self._index.product(product)
        style = self._style(prod, band)
        dst = parse_crs(crs)
        box = check_bbox(bbox)
        check_size(width, height)
        data = self._read_bbox(prod, style, year, box, dst, int(width), int(height))
        if data is None:
            return np.zeros((int(height), int(width), 4), np.uint8)
        return style.rgba(data)

    @staticmethod
    def encode(rgba: np.ndarray, fmt: str, *, lossless: bool = False, quality: int = 85) -> bytes:
        """(h, w, 4) or (h, w, 3) uint8 -> PNG, WebP (lossy unless ``lossless``) or JPEG bytes."""
        return encoding.encode(rgba, fmt, lossless=lossless, quality=quality)

    # -- animations ----------------------------------------------------------------------
    def frames(
        self,
        product: str,
        years: Sequence[int],
        bbox: Sequence[float],
        *,
        size: int = 512,
        band: str | None = None,
        attribution: str = "",
        lang: str = "es",
    ) -> list[Image.Image]:
        """One labelled "P"-mode frame per year of exactly the lon/lat ``bbox``; one palette.

        Each frame: the map (web mercator, aspect ratio kept) on a grey "no data" background,
        the year large in the upper left, and below it a strip with the legend and the
        attribution; the frame's long side is ``size``. Years without data are "no data" frames.
        The legend speaks ``lang`` (``es`` or ``en``): the product's plain words for its
        default picture (:func:`.layers.public_text`), the data's own labels for other bands.
        """
        prod = self._index.product(product)
        style = self._style(prod, band)
        words = self._words(prod, style, lang)
        years = [int(y) for y in years]
        if not years:
            raise InvalidRequest("an animation needs at least one year")
        if len(years) > 200:
            raise InvalidRequest(f"{len(years)} years is too many for one animation (at most 200)")
        if not 64 <= int(size) <= 4096:
            raise InvalidRequest(f"size {size} must be within 64..4096 px (the long side)")
        box = check_bbox(bbox)
        if not (-180 <= box[0] and box[2] <= 180 and -MAX_LAT <= box[1] and box[3] <= MAX_LAT):
            raise InvalidRequest(
                f"bbox {list(box)} must be lon/lat (WGS84) within web mercator's latitudes"
            )
        merc = lonlat_to_mercator(box)
        layout = Layout.make(style, merc, int(size), attribution)

        def read(year: int) -> np.ma.MaskedArray | None:
            try:
                return self._read_bbox(
                    prod, style, year, merc, WEB_MERCATOR, layout.map_w, layout.map_h
                )
            except UnknownYear:  # a year without data is a "no data" frame, not an error
                return None

        # Years are read two at a time: decoding releases the GIL, and each read still takes
        # one of the read slots, so an animation cannot crowd out the tiles of other viewers.
        with ThreadPoolExecutor(max_workers=2) as pool:
            data = list(pool.map(read, years))
        return draw_frames(style, layout, years, data, attribution, words)

    def _words(self, prod: Product, style: Style, lang: str) -> Words:
        """A frame legend's words in ``lang``: plain ones for the product's default picture."""
        if lang not in LANGUAGES:
            raise InvalidRequest(f"lang {lang!r} must be one of {', '.join(LANGUAGES)}")
        no_data = _NO_DATA[lang]
        if style.name != self._style(prod, None).name:
            return Words(no_data=no_data)
        text = public_text(prod.spec)[lang]
        classes = text.get("classes")
        return Words(
            title=text["name"],
            low=text.get("low"),
            high=text.get("high"),
            summary=text["summary"],
            classes={int(k): v for k, v in classes.items()} if classes else None,
            no_data=no_data,
        )

    def animation(
        self,
        product: str,
        years: Sequence[int],
        bbox: Sequence[float],
        *,
        fps: float = 2,
        size: int = 512,
        band: str | None = None,
        attribution: str,
        hold_last_s: float = 2.0,
        format: Literal["gif", "webp"] = "gif",
        quality: int = 85,
        lang: str = "es",
    ) -> bytes:
        """An animation, one frame per year (see :meth:`frames`), looping forever: a GIF, or
        an animated WebP (full colour, smaller; ``quality`` 0-100).

        Each frame shows ``1/fps`` s; the last one ``hold_last_s`` longer.
        """
        durations = frame_durations(len(years), fps, hold_last_s)  # checked before any drawing
        frames = self.frames(
            product, years, bbox, size=size, band=band, attribution=attribution, lang=lang
        )
        if format == "webp":
            return encode_webp(frames, durations, quality)
        return encode_gif(frames, durations)


_NO_DATA = {"es": "sin datos", "en": "no data"}
_EARTH_M_PER_DEG = 111_320.0  # metres per degree of longitude at the equator


def _pixel_metres(
    lonlat: tuple[float, float, float, float],
    bounds: tuple[float, float, float, float],
    crs: CRS,
    width: int,
    height: int,
) -> float:
    """The ground size (metres) of the picture's pixels, the finer of x and y: what decides
    which overview level can draw it without showing coarser pixels."""
    x0, y0, x1, y1 = bounds
    if crs == WEB_MERCATOR:
        lat = math.radians(max(-MAX_LAT, min(MAX_LAT, (lonlat[1] + lonlat[3]) / 2)))
        scale = math.cos(lat)  # web mercator's metres are 1/cos(lat) ground metres
        return min((x1 - x0) / width, (y1 - y0) / height) * scale
    if crs.is_geographic:
        lat = math.radians((lonlat[1] + lonlat[3]) / 2)
        dx = (x1 - x0) / width * _EARTH_M_PER_DEG * math.cos(lat)
        dy = (y1 - y0) / height * _EARTH_M_PER_DEG
        return min(dx, dy)
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return min((x1 - x0) / width, (y1 - y0) / height) * float(factor)
