"""Catalog check: is every raster asset of a catalog there and readable, block by block?

A missing or damaged COG otherwise shows up one request at a time (a tile, a slice, a mosaic
that fails). ``check_catalog`` opens every raster asset of every item and decodes all its blocks
(:func:`~.cog.read_every_block`), and lists what it found, one row per asset, so an operator
sees at once which product, year and tile to rebuild. Remote assets (object storage, HTTP) are
read through GDAL's virtual file systems like any read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import rasterio
from rasterio.errors import RasterioError

from .catalog import LocalCatalog
from .cog import read_every_block
from .errors import CorruptFileError

__all__ = ["CHECK_COLUMNS", "CatalogCheck", "check_catalog"]

#: The columns of a check's table: one row per raster asset.
CHECK_COLUMNS = ["collection", "item", "asset", "href", "ok", "problem"]
RASTER_TYPES = ("image/tiff", "application/x-geotiff")


@dataclass(frozen=True)
class CatalogCheck:
    """What a catalog check found: every asset (``table``) and the unreadable ones."""

    table: pd.DataFrame

    @property
    def problems(self) -> pd.DataFrame:
        return self.table[~self.table["ok"]].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        return bool(self.table["ok"].all()) if len(self.table) else True

    def __str__(self) -> str:
        bad = len(self.problems)
        return (
            f"{len(self.table)} raster assets checked in "
            f"{self.table['collection'].nunique() if len(self.table) else 0} collections: "
            f"{len(self.table) - bad} readable, {bad} missing or damaged"
        )


def _check_asset(href: str) -> str | None:
    """None when every block of the raster decodes; otherwise what is wrong."""
    try:
        with rasterio.open(href) as src:
            read_every_block(src, href)
    except CorruptFileError as exc:
        return exc.problem
    except RasterioError as exc:  # missing, not a raster, unreachable
        return f"cannot open ({exc})"
    return None


def check_catalog(
    catalog: LocalCatalog,
    collections: Sequence[str] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> CatalogCheck:
    """Open and fully decode every raster asset of the catalog's items.

    Args:
        catalog: the catalog (products, land cover, or a source catalog of local COGs).
        collections: the collections to check (default: all).
        progress: called as ``progress(done, total)`` after each item.
    Returns:
        A :class:`CatalogCheck` whose table has one row per raster asset
        (:data:`CHECK_COLUMNS`); nothing is raised for a bad asset.
    Raises:
        KeyError: a named collection is not in the catalog.
    """
    names = list(collections) if collections is not None else catalog.collections()
    known = set(catalog.collections())
    unknown = [c for c in names if c not in known]
    if unknown:
        raise KeyError(f"no collection {', '.join(unknown)} in {catalog.root}; "
                       f"collections: {', '.join(sorted(known)) or 'none'}")
    items = [(c, item) for c in names for item in catalog.items(c)]
    rows = []
    for done, (collection, item) in enumerate(items, start=1):
        for key, asset in item.assets.items():
            if asset.media_type is not None and not asset.media_type.startswith(RASTER_TYPES):
                continue
            problem = _check_asset(asset.get_absolute_href() or asset.href)
            rows.append((collection, item.id, key, asset.href, problem is None, problem or ""))
        if progress is not None:
            progress(done, len(items))
    return CatalogCheck(pd.DataFrame(rows, columns=CHECK_COLUMNS))
