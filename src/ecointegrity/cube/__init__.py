"""ecointegrity.cube: the EO data cube.

Catalogs (static STAC on disk/object storage, or a STAC API), ingest of source data, sensor
profiles and clear masks, loading to xarray on a GeoBox, national grids and tiles, tile-wise
computation on Dask, and product writing (COG + STAC). Everything above builds on this.

Layering: errors <- timerange, sensors <- catalog, items, cog <- ingest, load, products <- tiled
"""

from .catalog import Catalog, LocalCatalog, StacApiCatalog, open_catalog
from .errors import (
    CatalogError,
    CorruptFileError,
    CubeError,
    MissingBandError,
    NoDataError,
    UnknownCRSError,
    UnknownSensorError,
)
from .grids import NATIONAL_GRIDS, NationalGrid, Tile, national_grid, region_geobox, tiles_for
from .ingest import (
    IngestReport,
    ingest_arrays,
    ingest_dataset,
    ingest_eopatch,
    ingest_geotiffs,
    ingest_stac_api,
)
from .load import load
from .products import (
    ProductBand,
    ProductSpec,
    has_product,
    prepare_product,
    read_product,
    spec_from_collection,
    write_product,
)
from .quality import CLEAR_OBSERVATIONS, ClearCountTask, clear_observations
from .sensors import SensorProfile, get_profile, profile_names, register_profile
from .tiled import TiledRun, run_tiles
from .timerange import TimeRange, to_time_range

__all__ = [
    "Catalog",
    "LocalCatalog",
    "StacApiCatalog",
    "open_catalog",
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
    "ingest_arrays",
    "ingest_dataset",
    "ingest_eopatch",
    "ingest_geotiffs",
    "ingest_stac_api",
    "load",
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
    "SensorProfile",
    "get_profile",
    "profile_names",
    "register_profile",
    "TiledRun",
    "run_tiles",
    "TimeRange",
    "to_time_range",
]
