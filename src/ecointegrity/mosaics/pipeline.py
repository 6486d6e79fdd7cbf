"""The mosaic pipeline: annual products for a region and a year range, tile by tile.

Each tile-year is one task (:class:`MosaicTask`): it loads the tile in row blocks sized to a
memory budget (so a worker's memory stays bounded whatever the tile size and number of dates),
computes the products block by block, and writes one COG + STAC item per product. Products that
already exist are skipped unless ``overwrite``; a failing tile is reported and the others go on;
with a scheduler address the tasks run on a Dask distributed cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from ..cube import (
    LocalCatalog,
    NoDataError,
    Tile,
    TimeRange,
    has_product,
    load,
    open_catalog,
    prepare_product,
    run_tiles,
    write_product,
)
from .annual import annual_products
from .geomedian import EPS, MAXITERS
from .products import PRODUCTS, REFLECTANCE_BANDS, ProductNotSupportedError, supported_products

__all__ = ["MosaicTask", "MosaicRun", "run_mosaics", "plan_products", "block_rows_for"]

MEMORY_BUDGET = 1 << 30  # bytes of loaded reflectance per block


def block_rows_for(geobox: GeoBox, n_obs: int, n_bands: int, budget: int = MEMORY_BUDGET) -> int:
    """Rows per block so that a block's float32 stack, with working copies, fits ``budget``."""
    per_row = geobox.shape[1] * max(n_obs, 1) * (n_bands + 1) * 4 * 3  # raw, scaled, stacked
    return int(max(1, min(geobox.shape[0], budget // per_row)))


def plan_products(
    catalog: str, collection: str, products: Iterable[str] | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """(bands to load, products to make, refused products with reasons) for a collection."""
    cat = open_catalog(catalog)
    profile = cat.sensor_profile(collection)
    bands = [b for b in REFLECTANCE_BANDS if b in profile.bands]
    wanted = list(products) if products is not None else None
    ok, refused = supported_products(bands, wanted)
    if wanted is not None and refused:
        raise ProductNotSupportedError(
            f"collection {collection!r} ({profile.name}): " + "; ".join(refused.values())
            + f". It supports: {', '.join(supported_products(bands)[0]) or 'none'}"
        )
    return bands, ok, refused


@dataclass(frozen=True)
class MosaicTask:
    """One tile and year: load in blocks, compute, write products (picklable for Dask)."""

    catalog: str
    collection: str
    products_catalog: str
    year: int
    products: tuple[str, ...]
    bands: tuple[str, ...]
    overwrite: bool = False
    eps: float = EPS
    maxiters: int = MAXITERS
    memory_budget: int = MEMORY_BUDGET

    def __call__(self, tile: Tile) -> list[pystac.Item]:
        out_cat = LocalCatalog(self.products_catalog)
        period = TimeRange.years(self.year)
        todo = [
            p for p in self.products if self.overwrite or not has_product(out_cat, p, tile, period)
        ]
        if not todo:
            return []
        source = open_catalog(self.catalog)
        n_obs = len(
            source.items(
                self.collection,
                bbox=list(tile.geobox.footprint("epsg:4326").boundingbox),
                time=period,
            )
        )
        if n_obs == 0:
            raise NoDataError(
                f"no data in collection {self.collection!r} for {self.year} on tile {tile.id}"
            )
        rows = block_rows_for(tile.geobox, n_obs, len(self.bands), self.memory_budget)
        parts: dict[str, list[xr.Dataset]] = {p: [] for p in todo}
        height = tile.geobox.shape[0]
        for r0 in range(0, height, rows):
            block = tile.geobox[r0 : min(r0 + rows, height), :]  # GeoBox slices do not clip
            ds = load(source, self.collection, list(self.bands), period, geobox=block).compute()
            for name, result in annual_products(
                ds, todo, eps=self.eps, maxiters=self.maxiters
            ).items():
                parts[name].append(result)
        items = []
        for name, blocks in parts.items():
            data = xr.concat(blocks, dim="y") if len(blocks) > 1 else blocks[0]
            data = data.odc.assign_crs(tile.geobox.crs)
            spec = PRODUCTS[name].spec_for(self.bands)
            items.append(
                write_product(
                    out_cat,
                    spec,
                    tile,
                    period,
                    data,
                    register=False,
                    properties={
                        "ecointegrity:source_collection": self.collection,
                        "ecointegrity:observations": n_obs,
                    },
                )
            )
        return items


@dataclass
class MosaicRun:
    """What a pipeline run did."""

    products: list[str]
    refused: dict[str, str]
    written: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    items: list[pystac.Item] = field(default_factory=list)


def run_mosaics(
    catalog: str,
    collection: str,
    products_catalog: str,
    tiles: Sequence[Tile],
    years: Iterable[int],
    *,
    products: Iterable[str] | None = None,
    overwrite: bool = False,
    scheduler: object = None,
    progress: bool = True,
    on_tile: Callable[[str, str | None], None] | None = None,
) -> MosaicRun:
    """Annual products for every tile and year; products already written are skipped.

    Args:
        catalog: source catalog location; collection: its collection.
        products_catalog: where products go (a LocalCatalog location).
        tiles: tiles to compute (see :func:`ecointegrity.cube.tiles_for`).
        years: calendar years.
        products: product names (default: all the sensor supports; the others are reported).
        overwrite: recompute products that exist.
        scheduler: None, "local" or a Dask scheduler address / Client.
        on_tile: called with (tile id, error or None) as each tile-year finishes.
    """
    bands, ok, refused = plan_products(catalog, collection, products)
    out = LocalCatalog(products_catalog)
    for name in ok:
        prepare_product(out, PRODUCTS[name].spec_for(bands))
    run = MosaicRun(ok, refused)
    for year in years:
        task = MosaicTask(
            str(catalog), collection, out.root, year, tuple(ok), tuple(bands), overwrite
        )
        tiled = run_tiles(
            task,
            tiles,
            scheduler=scheduler,
            progress=progress,
            description=f"mosaics {year}",
            on_tile=on_tile,
        )
        written = [item for tile_items in tiled.results.values() for item in tile_items]
        for name in ok:
            out.register_items(
                name, [it for it in written if it.properties["ecointegrity:product"] == name]
            )
        run.written += len(written)
        run.skipped += len(ok) * len(tiled.results) - len(written)
        run.items += written
        run.failed.update({f"{tile_id} {year}": err for tile_id, err in tiled.failed.items()})
    return run
