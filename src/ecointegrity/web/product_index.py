"""The products the API serves: which catalog holds each, and each product's state.

A product is a collection carrying a product spec. Per product the spec, the items per year,
their lon/lat boxes and the drawing styles are kept in memory and reloaded only when the
collection's JSON changes (checked at most every ``refresh_s`` seconds), so per-request work
stays small.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import io as _io
from ..cube import LocalCatalog, ProductSpec, item_years, spec_from_collection
from ..cube.products import PRODUCT_KEY
from .errors import UnknownProduct, UnknownYear
from .styles import Style

__all__ = ["Product", "ProductIndex", "ProductItem"]

FileStamp = tuple[int, int]  # (mtime_ns, size)


@dataclass(frozen=True)
class ProductItem:
    """One item of a product: its lon/lat box and its COG per band."""

    id: str
    bbox: tuple[float, float, float, float]  # lon/lat
    hrefs: Mapping[str, str]  # band -> COG


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

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self.items))

    @property
    def version(self) -> str:
        """A token that changes whenever the product does."""
        if self.stamp is not None:
            return f"{self.stamp[0]:x}-{self.stamp[1]:x}"
        return (
            f"{hash(tuple(i.id for items in self.items.values() for i in items)) & 0xFFFFFFFF:08x}"
        )

    def hrefs(self) -> set[str]:
        """Every file the product reads."""
        return {h for items in self.items.values() for i in items for h in i.hrefs.values()}

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
        if prod.stamp is None or _stat(prod.href) == prod.stamp:
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
                if PRODUCT_KEY in cat.collection(name).extra_fields:
                    found[name] = cat
            except Exception:  # a broken collection is not a product to show
                continue
    return found


def _load(name: str, cat: LocalCatalog) -> Product:
    href = cat.collection(name).get_self_href() or ""
    # Stamp before reading: a change made while reading shows as a new stamp next time.
    stamp = _stat(href)
    # The catalog caches collections it read; drop ours so a changed file is read again.
    getattr(cat, "_collections", {}).pop(name, None)
    spec = spec_from_collection(cat, name)
    by_year: dict[int, list[ProductItem]] = {}
    boxes = []
    for item in cat.items(name):
        b = [float(v) for v in item.bbox] if item.bbox else [-180.0, -90.0, 180.0, 90.0]
        bbox = (b[0], b[1], b[2], b[3])
        ref = ProductItem(item.id, bbox, {k: a.href for k, a in item.assets.items()})
        boxes.append(bbox)
        for year in item_years(item):
            by_year.setdefault(year, []).append(ref)
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
    return Product(name, cat, spec, items, bounds, href, stamp, time.monotonic())


def _stat(path: str) -> FileStamp | None:
    """A file's (mtime, size), on disk or object storage (one HEAD request there)."""
    if not path:
        return None
    return _io.stat(path)
