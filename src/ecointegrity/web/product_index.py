"""The products the API serves: which catalog holds each, and each product's state.

A product is a collection carrying a product spec. Per product the spec, the items per year,
their lon/lat boxes and the drawing styles are kept in memory and reloaded only when the
collection's JSON changes (checked at most every ``refresh_s`` seconds), so per-request work
stays small.

A product's overview levels (``<product>.overview-<k>`` collections, see
:mod:`ecointegrity.cube.overviews`) are loaded with it and watched the same way (their JSON and
the catalog's, which lists a new level); :meth:`Product.items_for` gives a request the items of
the coarsest level whose pixels are still at least as fine as the request's, so a picture at any
scale reads a bounded number of files. The level collections are no products of their own.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS as ProjCRS

from .. import io as _io
from ..cube import LocalCatalog, ProductSpec, item_years, overview_levels, spec_from_collection
from ..cube.overviews import OVERVIEW_KEY
from ..cube.products import PRODUCT_KEY
from .errors import UnknownProduct, UnknownYear
from .styles import Style

__all__ = ["Product", "ProductIndex", "ProductItem", "ProductLevel"]

FileStamp = tuple[int, int]  # (mtime_ns, size)


@dataclass(frozen=True)
class ProductItem:
    """One item of a product: its lon/lat box and its COG per band."""

    id: str
    bbox: tuple[float, float, float, float]  # lon/lat
    hrefs: Mapping[str, str]  # band -> COG


@dataclass(frozen=True)
class ProductLevel:
    """One overview level of a product: its pixel size (metres) and its items by year."""

    level: int
    resolution_m: float
    items: Mapping[int, tuple[ProductItem, ...]]
    href: str  # its collection.json


@dataclass
class Product:
    """A product as loaded: spec, items by year, bounds, and the styles drawn so far."""

    name: str
    catalog: LocalCatalog
    spec: ProductSpec
    items: dict[int, tuple[ProductItem, ...]]  # by year
    bounds: tuple[float, float, float, float] | None
    href: str  # its collection.json
    stamp: FileStamp | None  # of collection.json (local or object storage); None: unknown
    checked: float  # time.monotonic() of the last staleness check
    styles: dict[str | None, Style] = field(default_factory=dict)
    levels: tuple[ProductLevel, ...] = ()  # overview levels, finest first
    resolution_m: float | None = None  # of the base items
    # watched beside the collection: the catalog's JSON (a new level) and each level's JSON
    watched: tuple[tuple[str, FileStamp | None], ...] = ()

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self.items))

    @property
    def version(self) -> str:
        """A token that changes whenever the product (or one of its overviews) does."""
        if self.stamp is not None:
            token = f"{self.stamp[0]:x}-{self.stamp[1]:x}"
            if self.watched:
                # stable across processes (replicas answer the same ETag), unlike hash()
                token += f"-{zlib.crc32(repr([s for _, s in self.watched]).encode()):08x}"
            return token
        return (
            f"{hash(tuple(i.id for items in self.items.values() for i in items)) & 0xFFFFFFFF:08x}"
        )

    def hrefs(self) -> set[str]:
        """Every file the product reads, its overviews' included."""
        every = [self.items, *(lv.items for lv in self.levels)]
        return {h for by_year in every for items in by_year.values() for i in items
                for h in i.hrefs.values()}

    def items_for(self, year: int, resolution_m: float) -> tuple[int, tuple[ProductItem, ...]]:
        """The level (0: the product's own tiles) and items to read for pixels of
        ``resolution_m`` metres: the coarsest level whose pixels are no coarser than that and
        that has the year (raises ``UnknownYear`` for a year the product lacks)."""
        base = self.year_items(year)
        for lv in reversed(self.levels):
            if lv.resolution_m <= resolution_m * (1 + 1e-6):
                items = lv.items.get(int(year))
                if items:
                    return lv.level, items
        return 0, base

    def year_items(self, year: int) -> tuple[ProductItem, ...]:
        """The items of one year (raises ``UnknownYear``)."""
        items = self.items.get(int(year))
        if items is None:
            raise UnknownYear(self.name, year, self.years)
        return items


class ProductIndex:
    """Products of one or more catalogs; the first catalog to list a product wins.

    Args:
        catalogs: the product catalogs.
        refresh_s: how often (seconds) catalogs and collections are checked for changes;
            ``None``: never.
        on_reload: called with the old state of a product that was reloaded (its files may
            have been rewritten: whatever holds them open should let go).
    """

    def __init__(
        self,
        catalogs: Sequence[LocalCatalog],
        *,
        refresh_s: float | None = 1.0,
        on_reload: Callable[[Product], None] | None = None,
    ):
        self.catalogs = tuple(catalogs)
        self.refresh_s = refresh_s
        self._on_reload = on_reload
        self._products: dict[str, Product] = {}
        self._index: dict[str, LocalCatalog] | None = None  # product -> catalog
        self._index_stamp: tuple[FileStamp | None, ...] | None = None
        self._index_checked = 0.0
        self._lock = threading.RLock()

    @property
    def remote(self) -> bool:
        """Whether any catalog is on object storage (reads wait on the network)."""
        return not all(_io.is_local(c.root) for c in self.catalogs)

    def names(self) -> list[str]:
        """Names of the products (collections carrying a product spec)."""
        return list(self._catalogs_by_product())

    def catalog_of(self, product: str) -> LocalCatalog:
        """The catalog that serves ``product`` (raises ``UnknownProduct``)."""
        index = self._catalogs_by_product()
        if product not in index:
            raise UnknownProduct(product, list(index))
        return index[product]

    def product(self, name: str) -> Product:
        """A product's current state, reloaded if its collection changed."""
        prod = self._products.get(name)
        if prod is not None and self._fresh(prod):
            return prod
        with self._lock:
            current = self._products.get(name)
            if current is not None and current is not prod:
                return current  # another thread reloaded it meanwhile
            fresh = _load(name, self.catalog_of(name))
            self._products[name] = fresh
            if prod is not None and self._on_reload is not None:
                self._on_reload(prod)
            return fresh

    def _fresh(self, prod: Product) -> bool:
        if self.refresh_s is None or time.monotonic() - prod.checked < self.refresh_s:
            return True
        if prod.stamp is None or (
            _stat(prod.href) == prod.stamp
            and all(_stat(href) == stamp for href, stamp in prod.watched)
        ):
            prod.checked = time.monotonic()
            return True
        return False

    def _catalogs_by_product(self) -> dict[str, LocalCatalog]:
        now = time.monotonic()
        index = self._index
        if index is not None and (
            self.refresh_s is None or now - self._index_checked < self.refresh_s
        ):
            return index
        with self._lock:
            stamp = tuple(_stat(_io.join(c.root, "catalog.json")) for c in self.catalogs)
            if self._index is None or stamp != self._index_stamp:
                self._index, self._index_stamp = _find_products(self.catalogs), stamp
            self._index_checked = now
            return self._index


def _find_products(catalogs: Sequence[LocalCatalog]) -> dict[str, LocalCatalog]:
    found: dict[str, LocalCatalog] = {}
    for cat in catalogs:
        for name in cat.collections():
            if name in found:
                continue
            try:
                fields = cat.collection(name).extra_fields
                # overview levels carry the spec (to be read like the product) but are none
                if PRODUCT_KEY in fields and OVERVIEW_KEY not in fields:
                    found[name] = cat
            except Exception:  # a broken collection is not a product to show
                continue
    return found


def _load(name: str, cat: LocalCatalog) -> Product:
    href = cat.collection(name).get_self_href() or ""
    # Stamp before reading: a change made while reading shows as a new stamp next time.
    stamp = _stat(href)
    catalog_json = _io.join(cat.root, "catalog.json")
    watched = [(catalog_json, _stat(catalog_json))]
    # The catalog caches collections it read; drop ours so a changed file is read again.
    cached = getattr(cat, "_collections", {})
    cached.pop(name, None)
    spec = spec_from_collection(cat, name)
    by_year, boxes, resolution_m = _items_by_year(cat, name)
    levels = []
    for lv in overview_levels(cat, name):
        lv_href = cat.collection(lv.collection).get_self_href() or ""
        watched.append((lv_href, _stat(lv_href)))
        cached.pop(lv.collection, None)
        lv_items, _, lv_res = _items_by_year(cat, lv.collection)
        levels.append(ProductLevel(lv.level, lv_res or lv.resolution,
                                   {y: tuple(v) for y, v in lv_items.items()}, lv_href))
    bounds = None
    if boxes:
        arr = np.array(boxes)
        bounds = (
            float(arr[:, 0].min()),
            float(arr[:, 1].min()),
            float(arr[:, 2].max()),
            float(arr[:, 3].max()),
        )
    items = {y: tuple(v) for y, v in by_year.items()}
    return Product(name, cat, spec, items, bounds, href, stamp, time.monotonic(),
                   levels=tuple(levels), resolution_m=resolution_m, watched=tuple(watched))


def _items_by_year(
    cat: LocalCatalog, collection: str
) -> tuple[dict[int, list[ProductItem]], list[tuple[float, float, float, float]], float | None]:
    """A collection's items by year, their lon/lat boxes and the pixel size of its grid in
    metres (None when the items do not say)."""
    by_year: dict[int, list[ProductItem]] = {}
    boxes = []
    resolution = None
    for item in cat.items(collection):
        b = [float(v) for v in item.bbox] if item.bbox else [-180.0, -90.0, 180.0, 90.0]
        bbox = (b[0], b[1], b[2], b[3])
        ref = ProductItem(item.id, bbox, {k: a.href for k, a in item.assets.items()})
        boxes.append(bbox)
        transform = item.properties.get("proj:transform")
        if resolution is None and transform:
            code = item.properties.get("proj:code") or item.properties.get("proj:wkt2")
            resolution = abs(float(transform[0])) * _metres_per_unit(code)
        for year in item_years(item):
            by_year.setdefault(year, []).append(ref)
    return by_year, boxes, resolution


def _metres_per_unit(item_crs: str | None) -> float:
    """Metres per unit of a CRS's x axis (a degree: about 111 km at the equator)."""
    if not item_crs:
        return 1.0
    try:
        crs = ProjCRS.from_user_input(item_crs)
    except Exception:
        return 1.0
    if crs.is_geographic:
        return 111_320.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(factor or 1.0)


def _stat(path: str) -> FileStamp | None:
    """A file's (mtime, size), on disk or object storage (one HEAD request there)."""
    if not path:
        return None
    return _io.stat(path)
