"""ecointegrity.mosaics: annual products from clear observations.

Geomedian with MADs and clear count (our numba kernel, GPU via PyTorch when present), tasselled
cap, NDVI (with annual percentiles), NDWI/MNDWI, NDBI, BU and WOfS; the tile-wise pipeline that
writes them as COGs + STAC items. Uses ``ecointegrity.cube``; never the layers above.

Layering (a module imports only modules to its left):
_geomedian_numba, _geomedian_torch, _percentiles_numba, indices, products, wofs <- geomedian,
    _series_numba <- annual <- pipeline
"""

from __future__ import annotations

from .annual import annual_products, ndvi_percentiles
from .geomedian import GeomedianResult, geomad, geomedian_mads
from .indices import built_up, mndwi, ndbi, ndvi, ndwi, tasselled_cap
from .pipeline import MosaicRun, MosaicTask, run_mosaics
from .products import (
    PRODUCT_NAMES,
    PRODUCTS,
    AnnualProduct,
    ProductNotSupportedError,
    supported_products,
)
from .wofs import classify_water, wofs_summary

__all__ = [
    "annual_products",
    "ndvi_percentiles",
    "GeomedianResult",
    "geomad",
    "geomedian_mads",
    "built_up",
    "mndwi",
    "ndbi",
    "ndvi",
    "ndwi",
    "tasselled_cap",
    "MosaicRun",
    "MosaicTask",
    "run_mosaics",
    "PRODUCT_NAMES",
    "PRODUCTS",
    "AnnualProduct",
    "ProductNotSupportedError",
    "supported_products",
    "classify_water",
    "wofs_summary",
]
