"""The mosaic pipeline: annual products for a region and a year range, tile by tile.

Each tile-year is one task (:class:`MosaicTask`): it loads the tile in blocks sized to a
memory budget (so a worker's memory stays bounded whatever the tile size and number of dates),
computes the products block by block, and writes one COG + STAC item per product. Products that
already exist are skipped unless ``overwrite``; a failing tile is reported and the others go on;
with a scheduler address the tasks run on a Dask distributed cluster.

Throughput (benchmarks/mosaic_pipeline.py): a block is read eagerly and as stored (no dask
graph: :func:`~ecointegrity.cube.load_observations`, the local COGs decoded by imagecodecs),
the geomedian, WOfS and the NDVI percentiles take it a band of rows at a time (decoded once
for all three, never a float32 copy of the whole series), blocks start on the source COGs'
block rows so that no compressed block is decoded twice, and the products' band files are
written side by side. Items record the source items' ``platform`` values (``ecointegrity:platforms``): which
sensors made a product.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from ..cube import (
    LocalCatalog,
    NoDataError,
    Tile,
    TimeRange,
    has_product,
    load_observations,
    open_catalog,
    prepare_product,
    run_tiles,
    update_overviews,
    write_product,
)
from .annual import annual_products
from .geomedian import EPS, MAXITERS
from .products import PRODUCTS, REFLECTANCE_BANDS, ProductNotSupportedError, supported_products

__all__ = [
    "MosaicTask",
    "MosaicRun",
    "run_mosaics",
    "plan_products",
    "block_rows_for",
    "block_shape_for",
    "platforms_of",
]

MEMORY_BUDGET = 1 << 30  # bytes of loaded observations per block
BLOCK_ALIGN = 512  # rows: blocks start on the source COGs' block rows (512 for Landsat/ours)
OUTPUT_BYTES_PER_PIXEL = 56  # the seven products in their storage dtypes, kept for the tile


def block_rows_for(geobox: GeoBox, n_obs: int, n_bands: int, budget: int = MEMORY_BUDGET) -> int:
    """Rows per block so that a block's observations fit ``budget`` bytes.

    A block holds the observations as stored (:func:`~ecointegrity.cube.load_observations`:
    2 bytes per band and date for 16-bit sources), the quality band while the clear mask is
    made (2) and the mask (1); the kernels take it decoded a band of rows at a time (64 MiB,
    ``cube.observations.CHUNK_BYTES``), so no float32 copy of the whole series is made.
    Blocks taller than ``BLOCK_ALIGN`` rows are cut to a multiple of it, so that no compressed
    source block is decoded twice. The products of the whole tile
    (``OUTPUT_BYTES_PER_PIXEL``) come on top: a worker's peak is about ``budget`` plus that.
    """
    per_row = geobox.shape[1] * _bytes_per_pixel(n_obs, n_bands)
    rows = int(max(1, min(geobox.shape[0], budget // per_row)))
    if BLOCK_ALIGN <= rows < geobox.shape[0]:
        rows -= rows % BLOCK_ALIGN
    return rows


def block_shape_for(
    geobox: GeoBox, n_obs: int, n_bands: int, budget: int = MEMORY_BUDGET
) -> tuple[int, int]:
    """(rows, columns) of a block: whole rows (:func:`block_rows_for`) while ``BLOCK_ALIGN``
    of them fit ``budget``; else ``BLOCK_ALIGN`` rows by as many ``BLOCK_ALIGN``-wide columns
    as fit.

    On a path-row-sized tile (7000 x 7000 px, 40 dates, 6 bands: 600 bytes per pixel) 1 GiB
    holds only 255 whole rows, and each 512-row source block would be decoded twice or more;
    512 x 3072 blocks decode each source block once. (A block that starts mid-row starts the
    geomedian from the mean, not the origin, at its first pixel: the same geomedian to within
    ``eps``.)
    """
    height, width = geobox.shape
    rows = block_rows_for(geobox, n_obs, n_bands, budget)
    if rows >= min(height, BLOCK_ALIGN) or width <= BLOCK_ALIGN:
        return rows, width
    cols = budget // (_bytes_per_pixel(n_obs, n_bands) * BLOCK_ALIGN)
    cols -= cols % BLOCK_ALIGN
    if cols == 0:  # not even one source block fits: whole rows, as few as the budget allows
        return rows, width
    return BLOCK_ALIGN, int(cols)


def _bytes_per_pixel(n_obs: int, n_bands: int) -> int:
    return max(n_obs, 1) * (n_bands * 2 + 3)


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
        # one query for the tile: every block reuses it (dates with no data on a block are
        # all NaN there, which no product counts)
        items = source.items(
            self.collection,
            bbox=list(tile.geobox.footprint("epsg:4326").boundingbox),
            time=period,
        )
        n_obs = len(items)
        if n_obs == 0:
            raise NoDataError(
                f"no data in collection {self.collection!r} for {self.year} on tile {tile.id}"
            )
        specs = {name: PRODUCTS[name].spec_for(self.bands) for name in todo}
        rows, cols = block_shape_for(tile.geobox, n_obs, len(self.bands), self.memory_budget)
        height, width = tile.geobox.shape
        # the products of the tile, encoded to their storage dtypes block by block (int16 for
        # most bands: half the memory of float32)
        stored: dict[str, dict[str, np.ndarray]] = {
            name: {b.name: np.empty((height, width), b.dtype) for b in spec.bands}
            for name, spec in specs.items()
        }
        blocks = [
            (slice(r0, min(r0 + rows, height)), slice(c0, min(c0 + cols, width)))
            for r0 in range(0, height, rows)
            for c0 in range(0, width, cols)
        ]
        for window in blocks:
            observations = load_observations(
                source, self.collection, list(self.bands), period,
                geobox=tile.geobox[window],  # GeoBox slices do not clip
                items=items,
            )
            results = annual_products(observations, todo, eps=self.eps, maxiters=self.maxiters)
            del observations  # free the block's observations before the next block is read
            for name, result in results.items():
                for band in specs[name].bands:
                    stored[name][band.name][window] = band.encode(result[band.name].values)
        coords = xr_coords(tile.geobox)
        properties = {
            "ecointegrity:source_collection": self.collection,
            "ecointegrity:observations": n_obs,
            "ecointegrity:platforms": platforms_of(items),
        }

        # The band files of all the products go to one pool (a core each; GDAL compresses
        # outside the GIL); a thread per product waits for its files and writes its item.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as files:

            def write(name: str) -> pystac.Item:
                data = xr.Dataset(
                    {band: (("y", "x"), values) for band, values in stored[name].items()},
                    coords=coords,
                )
                return write_product(
                    out_cat, specs[name], tile, period, data, register=False, encoded=True,
                    properties=properties, executor=files,
                )

            with ThreadPoolExecutor(max_workers=len(specs)) as products:
                return list(products.map(write, specs))


def platforms_of(items: Iterable[pystac.Item]) -> list[str]:
    """The sorted STAC ``platform`` values of ``items`` (items without one add nothing)."""
    return sorted({str(p) for it in items if (p := it.properties.get("platform"))})


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
            mine = [it for it in written if it.properties["ecointegrity:product"] == name]
            out.register_items(name, mine)
            if mine:  # national viewers read the coarser mosaics above the tiles written
                update_overviews(out, name, year, mine)
        run.written += len(written)
        run.skipped += len(ok) * len(tiled.results) - len(written)
        run.items += written
        run.failed.update({f"{tile_id} {year}": err for tile_id, err in tiled.failed.items()})
    return run
