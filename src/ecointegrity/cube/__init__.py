"""ecointegrity.cube: the EO data cube.

Catalogs (static STAC on disk/object storage, or a STAC API), ingest of source data, sensor
profiles and clear masks, loading to xarray on a GeoBox, national grids and tiles, tile-wise
computation on Dask, product writing (COG + STAC), and place names (the shipped gazetteer).
Everything above builds on this.

Layering (a module imports only modules to its left):
errors, timerange, grids, cog, _items, gazetteer, observations <- countries, sensors <-
    simulate, catalog <- load, ingest, products, check <- quality, tiled, overviews <- slices
"""

from __future__ import annotations

from .catalog import Catalog, LocalCatalog, StacApiCatalog, open_catalog
from .check import CatalogCheck, check_catalog
from .cog import read_raster, write_cog
from .countries import COUNTRIES, Country, UnknownCountryError, country
from .errors import (
    CatalogError,
    CorruptFileError,
    CubeError,
    MissingBandError,
    NoDataError,
    UnknownCRSError,
    UnknownSensorError,
)
from .gazetteer import GAZETTEER_CREDIT, Place, nearest_place, place_label, places_within
from .grids import NATIONAL_GRIDS, NationalGrid, Tile, national_grid, region_geobox, tiles_for
from .ingest import (
    IngestReport,
    eopatch_geobox,
    ingest_arrays,
    ingest_dataset,
    ingest_eopatch,
    ingest_geotiffs,
    ingest_stac_api,
)
from .load import load, load_observations, native_geobox
from .observations import Decoding, Observations
from .overviews import OverviewLevel, overview_collection, overview_levels, update_overviews
from .products import (
    PRODUCT_KEY,
    ProductBand,
    ProductSpec,
    has_product,
    prepare_product,
    read_product,
    spec_from_collection,
    write_product,
)
from .quality import CLEAR_OBSERVATIONS, ClearCountTask, clear_observations
from .sensors import (
    PLATFORMS,
    Platform,
    SensorProfile,
    get_profile,
    harmonise,
    platform_label,
    profile_names,
    register_profile,
)
from .simulate import SimulatedScenes, default_geobox, simulate
from .slices import (
    item_years,
    product_grid,
    read_slice,
    slice_geobox,
    slice_to_geotiff,
    slice_to_netcdf,
)
from .tiled import TiledRun, run_tiles
from .timerange import TimeRange, to_time_range

__all__ = [
    "GAZETTEER_CREDIT",
    "Place",
    "nearest_place",
    "place_label",
    "places_within",
    "Catalog",
    "LocalCatalog",
    "StacApiCatalog",
    "open_catalog",
    "CatalogCheck",
    "check_catalog",
    "read_raster",
    "write_cog",
    "COUNTRIES",
    "Country",
    "UnknownCountryError",
    "country",
    "CubeError",
    "CatalogError",
    "CorruptFileError",
    "MissingBandError",
    "NoDataError",
    "UnknownCRSError",
    "UnknownSensorError",
    "NATIONAL_GRIDS",
    "NationalGrid",
    "Tile",
    "national_grid",
    "region_geobox",
    "tiles_for",
    "IngestReport",
    "eopatch_geobox",
    "ingest_arrays",
    "ingest_dataset",
    "ingest_eopatch",
    "ingest_geotiffs",
    "ingest_stac_api",
    "load",
    "load_observations",
    "native_geobox",
    "Decoding",
    "Observations",
    "OverviewLevel",
    "overview_collection",
    "overview_levels",
    "update_overviews",
    "PRODUCT_KEY",
    "ProductBand",
    "ProductSpec",
    "has_product",
    "prepare_product",
    "read_product",
    "spec_from_collection",
    "write_product",
    "CLEAR_OBSERVATIONS",
    "ClearCountTask",
    "clear_observations",
    "PLATFORMS",
    "Platform",
    "SensorProfile",
    "get_profile",
    "harmonise",
    "platform_label",
    "profile_names",
    "register_profile",
    "SimulatedScenes",
    "default_geobox",
    "simulate",
    "item_years",
    "product_grid",
    "read_slice",
    "slice_geobox",
    "slice_to_geotiff",
    "slice_to_netcdf",
    "TiledRun",
    "run_tiles",
    "TimeRange",
    "to_time_range",
]
