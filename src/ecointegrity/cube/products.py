"""Products: COGs plus STAC items in a product catalog that later parts read without knowing
how a product was made.

A product (``ProductSpec``) names its bands with explicit storage dtype, nodata, scale and units,
and the colour map and value range a map viewer should use. Each written item is one product,
one tile, one period; its id is deterministic, so a re-run finds what is already written and
resumes instead of recomputing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field

import numpy as np
import odc.stac
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from .. import io as _io
from ._encode_numba import encode_numba
from ._items import AssetSpec, raster_item
from .catalog import LocalCatalog
from .cog import write_cog
from .errors import MissingBandError, NoDataError
from .grids import Tile
from .timerange import TimeRange, to_time_range

__all__ = [
    "ProductBand",
    "ProductSpec",
    "write_product",
    "product_item_id",
    "has_product",
    "prepare_product",
    "read_product",
    "spec_from_collection",
    "PRODUCT_KEY",
]

PRODUCT_KEY = "ecointegrity:product"


@dataclass(frozen=True)
class ProductBand:
    """One band of a product and how it is stored."""

    name: str
    dtype: str = "float32"
    nodata: float | int | None = None
    scale: float | None = None
    offset: float | None = None
    units: str = "1"
    description: str = ""

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Physical values (NaN = missing) to the storage dtype."""
        target = np.dtype(self.dtype)
        if np.issubdtype(target, np.floating):
            return values.astype(target, copy=False)
        values = np.asarray(values)
        info = np.iinfo(target)
        out = np.empty(values.shape, target)
        # (x - 0) / 1 is x exactly: no scale or offset is the same arithmetic
        encode_numba(
            np.ascontiguousarray(values).reshape(-1),
            float(self.offset or 0.0),
            float(self.scale or 1.0),
            float(info.min),
            float(info.max),
            float(self.nodata) if self.nodata is not None else 0.0,
            out.reshape(-1),
        )
        return out


@dataclass(frozen=True)
class ProductSpec:
    """What a product is: its bands, and how a map viewer should show it."""

    name: str
    title: str
    description: str
    bands: tuple[ProductBand, ...]
    colormap: str | None = None
    value_range: tuple[float, float] | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def band(self, name: str) -> ProductBand:
        for b in self.bands:
            if b.name == name:
                return b
        raise MissingBandError(name, f"product {self.name!r}", [b.name for b in self.bands])

    def to_dict(self) -> dict:
        return asdict(self)


def product_item_id(product: str, tile: Tile, period: TimeRange) -> str:
    return f"{product}_{tile.id}_{period.start:%Y%m%d}-{period.end:%Y%m%d}"


def has_product(
    catalog: LocalCatalog, product: str, tile: Tile, period: TimeRange | str | int
) -> bool:
    """True when this product, tile and period is already in the catalog (resume a run)."""
    if product not in catalog.collections():
        return False
    return product_item_id(product, tile, to_time_range(period)) in catalog.item_ids(product)


def write_product(
    catalog: LocalCatalog,
    spec: ProductSpec,
    tile: Tile,
    period: TimeRange | str | int,
    data: xr.Dataset,
    *,
    properties: Mapping[str, object] | None = None,
    register: bool = True,
    colormaps: Mapping[str, Mapping[int, tuple[int, int, int, int]]] | None = None,
    encoded: bool = False,
    executor: Executor | None = None,
) -> pystac.Item:
    """Write one tile and period of a product: a COG per band, then its STAC item.

    Args:
        catalog: the product catalog.
        spec: the product definition (the collection is created from it if missing).
        tile: the tile written; ``data`` must be on ``tile.geobox``.
        period: the period the product summarises (a year for annual products).
        data: variables named as the spec's bands, physical values, NaN where missing.
        properties: extra item properties (e.g. inputs, algorithm version).
        register: list the item in its collection now. Parallel workers pass False and
            the caller registers all items once (``catalog.register_items``), after
            ``prepare_product``.
        colormaps: band -> colour table embedded in its COG (class maps).
        encoded: ``data`` holds stored values already (each band as
            :meth:`ProductBand.encode` returns it), not physical ones.
        executor: write the band files on it, side by side, each compressed by one thread
            (the mosaic pipeline shares one among all the products of a tile, so that a
            ten-band geomedian does not leave a core idle while one-band products finish).
    Returns:
        The written item.
    """
    period = to_time_range(period)
    geobox = tile.geobox
    _check_grid(spec, tile, data)
    if register:
        prepare_product(catalog, spec)
    item_id = product_item_id(spec.name, tile, period)
    for band in spec.bands:
        if band.name not in data:
            raise MissingBandError(
                band.name, f"data for product {spec.name!r}", list(map(str, data.data_vars))
            )
    hrefs = {
        band.name: _io.join(catalog.item_dir(spec.name, item_id), f"{band.name}.tif")
        for band in spec.bands
    }

    def write_band(band: ProductBand, threads: int) -> None:
        values = np.asarray(data[band.name].values)
        stored = values.astype(band.dtype, copy=False) if encoded else band.encode(values)
        write_cog(
            hrefs[band.name],
            stored,
            geobox,
            nodata=band.nodata,
            band_names=[band.name],
            scale=band.scale,
            offset=band.offset,
            tags={"product": spec.name, "units": band.units, "period": str(period)},
            colormap=(colormaps or {}).get(band.name),
            num_threads=threads,
        )

    if executor is None:
        for band in spec.bands:
            write_band(band, 2)
    else:
        for done in [executor.submit(write_band, band, 1) for band in spec.bands]:
            done.result()
    assets = {
        band.name: AssetSpec(
            href=hrefs[band.name],
            dtype=band.dtype,
            nodata=band.nodata,
            scale=band.scale,
            offset=band.offset,
            title=band.description or band.name,
            extra={"unit": band.units} if band.units else {},
        )
        for band in spec.bands
    }
    props = {
        PRODUCT_KEY: spec.name,
        "ecointegrity:tile": tile.id,
        "ecointegrity:colormap": spec.colormap,
        "ecointegrity:value_range": list(spec.value_range) if spec.value_range else None,
        "created": pystac.utils.datetime_to_str(dt.datetime.now(dt.UTC)),
        **(properties or {}),
    }
    item = raster_item(item_id, (period.start, period.end), geobox, assets, props)
    catalog.write_item(spec.name, item)
    if register:
        catalog.register_items(spec.name, [item])
    return item


def _check_grid(spec: ProductSpec, tile: Tile, data: xr.Dataset) -> None:
    """``data`` must be on the tile's grid: same shape and pixel centres."""
    geobox = tile.geobox
    shape = (data.sizes.get("y"), data.sizes.get("x"))
    grid_x, grid_y = (geobox.coords[d].values for d in ("x", "y"))
    if shape != tuple(geobox.shape) or not (
        np.allclose(data["x"].values, grid_x) and np.allclose(data["y"].values, grid_y)
    ):
        raise ValueError(
            f"{spec.name}: data grid {shape} does not match tile {tile.id} {tuple(geobox.shape)}"
        )


def prepare_product(catalog: LocalCatalog, spec: ProductSpec) -> None:
    """Create the product's collection (carrying its spec) if it does not exist yet."""
    catalog.ensure_collection(
        spec.name,
        description=spec.description,
        extra_fields={PRODUCT_KEY: spec.to_dict(), "title": spec.title},
    )


def read_product(
    catalog: LocalCatalog,
    product: str,
    period: TimeRange | str | int,
    geobox: GeoBox,
    bands: Sequence[str] | None = None,
) -> xr.Dataset:
    """A product on a pixel grid, in physical units (scale and offset applied, NaN for nodata).

    Tiles of the period are mosaicked; pixels outside every tile are NaN.

    Raises:
        NoDataError: no item of ``product`` covers ``geobox`` in ``period``.
    """
    period = to_time_range(period)
    spec = spec_from_collection(catalog, product)
    items = catalog.items(
        product, time=period, bbox=list(geobox.footprint("epsg:4326").boundingbox)
    )
    if not items:
        raise NoDataError(f"no {product!r} product for {period} over the requested area")
    names = list(bands) if bands is not None else [b.name for b in spec.bands]
    raw = odc.stac.load(items, bands=names, geobox=geobox, groupby="solar_day", chunks=None)
    out = {}
    for name in names:
        band = spec.band(name)
        values = raw[name].isel(time=0).values.astype(np.float32)
        missing = (
            np.isnan(values)
            if band.nodata is None or np.isnan(float(band.nodata))
            else values == band.nodata
        )
        values = values * np.float32(band.scale or 1.0) + np.float32(band.offset or 0.0)
        values[missing] = np.nan
        out[name] = (("y", "x"), values)
    coords = {k: v for k, v in raw.coords.items() if k != "time"}
    return xr.Dataset(out, coords=coords, attrs={"product": product, "period": str(period)})


def spec_from_collection(catalog: LocalCatalog, product: str) -> ProductSpec:
    """The ProductSpec stored with a product collection."""
    d = dict(catalog.collection(product).extra_fields[PRODUCT_KEY])
    d["bands"] = tuple(ProductBand(**b) for b in d["bands"])
    if d.get("value_range") is not None:
        d["value_range"] = tuple(d["value_range"])
    return ProductSpec(**d)
